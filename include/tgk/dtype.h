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

// Which C++ element types are tgk dtypes: float, f16, bf16, uint8_t, uint32_t, int32_t.
template <class T>
struct DTypeTraits {
  static constexpr bool kIsDType = false;
};
template <DType kType>
struct DTypeTraitsOf {
  static constexpr bool kIsDType = true;
  static constexpr DType kDType = kType;
};
template <>
struct DTypeTraits<float> : DTypeTraitsOf<DType::kF32> {};
template <>
struct DTypeTraits<f16> : DTypeTraitsOf<DType::kF16> {};
template <>
struct DTypeTraits<bf16> : DTypeTraitsOf<DType::kBF16> {};
template <>
struct DTypeTraits<uint8_t> : DTypeTraitsOf<DType::kU8> {};
template <>
struct DTypeTraits<uint32_t> : DTypeTraitsOf<DType::kU32> {};
template <>
struct DTypeTraits<int32_t> : DTypeTraitsOf<DType::kI32> {};

template <class T>
inline constexpr bool kIsDType = DTypeTraits<T>::kIsDType;

template <class T>
constexpr DType DTypeOf() {
  static_assert(kIsDType<T>,
                "tgk: this element type is not a tgk dtype; views hold float, tgk::f16, "
                "tgk::bf16, uint8_t, uint32_t or int32_t (16-bit float bits go in tgk::f16 or "
                "tgk::bf16, not uint16_t)");
  return DTypeTraits<T>::kDType;
}

}  // namespace tgk
