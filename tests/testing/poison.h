// Output poisoning: buffers a kernel writes are filled with a pattern no kernel produces before
// each run, so that an element the kernel skipped, or one it must not touch, shows up in a bit
// comparison. For floating-point types the pattern is a signalling NaN with a payload:
// arithmetic never yields a signalling NaN (it quiets it), and tgk's conversions keep payloads.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "tgk/dtype.h"

namespace tgk::test {

// The byte a poisoned buffer of integers repeats.
inline constexpr uint8_t kPoisonByte = 0xA5;

template <class T>
T PoisonValue() {
  if constexpr (std::is_same_v<T, float>) {
    float f;
    const uint32_t bits = 0x7FA5A5A5u;  // sNaN, payload 0x25A5A5
    std::memcpy(&f, &bits, sizeof(f));
    return f;
  } else if constexpr (std::is_same_v<T, bf16>) {
    return bf16{0x7FA5};  // sNaN, payload 0x25
  } else if constexpr (std::is_same_v<T, f16>) {
    return f16{0x7DA5};  // sNaN, payload 0x1A5
  } else {
    static_assert(std::is_integral_v<T>, "PoisonValue: f32, bf16, f16 or an integer type");
    T value;
    std::memset(&value, kPoisonByte, sizeof(value));
    return value;
  }
}

template <class T>
void Poison(std::span<T> out) {
  for (T& x : out) x = PoisonValue<T>();
}
template <class T>
void Poison(std::vector<T>& out) {
  Poison(std::span<T>(out));
}

// A vector of n poisoned elements.
template <class T>
std::vector<T> Poisoned(size_t n) {
  return std::vector<T>(n, PoisonValue<T>());
}

}  // namespace tgk::test
