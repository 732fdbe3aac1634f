// Element types of the buffers that kernels read and write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tgk {

// Storage types for the two 16-bit float formats: raw bits. Arithmetic happens in f32 after
// an exact widening (see convert.h).
struct bf16 {
  uint16_t bits;
};
struct f16 {
  uint16_t bits;
};

enum class DType : uint8_t { kF32, kF16, kBF16, kU8, kU32, kI32 };

constexpr size_t SizeOf(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kU32:
    case DType::kI32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kU8:
      return 1;
  }
  return 0;
}

// Lowercase names ("bf16", "f32"), as the kkt messages print them.
std::string_view Name(DType t);
// Upper-case names ("F16", "BF16"), as the flash-attention messages print them.
std::string_view DebugName(DType t);

template <class T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() { return DType::kF32; }
template <>
constexpr DType DTypeOf<f16>() { return DType::kF16; }
template <>
constexpr DType DTypeOf<bf16>() { return DType::kBF16; }
template <>
constexpr DType DTypeOf<uint8_t>() { return DType::kU8; }
template <>
constexpr DType DTypeOf<uint32_t>() { return DType::kU32; }
template <>
constexpr DType DTypeOf<int32_t>() { return DType::kI32; }

}  // namespace tgk
