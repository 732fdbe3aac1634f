// The deterministic input generator that tests, benchmarks and the tool share: the same seed
// gives the same values with every compiler and standard library (no std:: distributions,
// whose algorithms are implementation-defined). Header-only and free of GoogleTest, so perf/
// and tools/ can use it (CMake target tgk_testing_inputs).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <numbers>
#include <random>
#include <span>
#include <type_traits>
#include <vector>

#include "tgk/convert.h"
#include "tgk/dtype.h"

namespace tgk::test {

// The values a fill draws.
enum class Distribution : uint8_t { kUniform, kNormal };

struct Range {
  Distribution distribution = Distribution::kUniform;
  // kUniform: the interval [lo, hi). kNormal: mean lo, standard deviation hi.
  float lo = -1.0f;
  float hi = 1.0f;
};

inline constexpr Range Uniform(float lo, float hi) { return {Distribution::kUniform, lo, hi}; }
inline constexpr Range Normal(float mean = 0.0f, float stddev = 1.0f) {
  return {Distribution::kNormal, mean, stddev};
}

class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}

  // 64 random bits.
  uint64_t Bits() { return engine_(); }
  // Uniform on [0, n), n > 0.
  uint32_t Below(uint32_t n) { return uint32_t(engine_() % n); }
  // Uniform on [0, 1): 24 random bits, so exact in f32.
  float Uniform() { return float(engine_() >> 40) * 0x1p-24f; }
  // Uniform on [lo, hi) (to f32 rounding of lo + (hi - lo) * u).
  float Uniform(float lo, float hi) { return lo + (hi - lo) * Uniform(); }
  // Standard normal (Box-Muller in f64; u1 in (0, 1] keeps log(u1) finite).
  float Normal() {
    const double u1 = double((engine_() >> 11) + 1) * 0x1p-53;
    const double u2 = double(engine_() >> 11) * 0x1p-53;
    return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
  }
  // One value of `range` as f32.
  float Draw(Range range) {
    return range.distribution == Distribution::kUniform ? Uniform(range.lo, range.hi)
                                                        : range.lo + range.hi * Normal();
  }
  template <class T>
  T Pick(std::initializer_list<T> choices) {
    return choices.begin()[Below(uint32_t(choices.size()))];
  }

  // Fills `out` with values of `range` in T: f32 as drawn; bf16 and f16 drawn in f32, then
  // rounded to nearest even by tgk's conversions (convert.h); integer types take the drawn
  // value's floor, clamped to T's range. Bytes(n) draws raw bytes instead.
  template <class T>
  void Fill(std::span<T> out, Range range) {
    for (T& x : out) x = Convert<T>(Draw(range));
  }
  template <class T>
  std::vector<T> Vector(size_t n, Range range) {
    std::vector<T> v(n);
    Fill(std::span<T>(v), range);
    return v;
  }
  // n uniformly random bytes (every bit pattern), 8 per draw.
  std::vector<uint8_t> Bytes(size_t n) {
    std::vector<uint8_t> v(n);
    uint64_t bits = 0;
    for (size_t i = 0; i < n; ++i) {
      if (i % 8 == 0) bits = engine_();
      v[i] = uint8_t(bits >> (8 * (i % 8)));
    }
    return v;
  }

 private:
  template <class T>
  static T Convert(float x) {
    if constexpr (std::is_same_v<T, float>) {
      return x;
    } else if constexpr (std::is_same_v<T, bf16>) {
      return BF16FromF32(x);
    } else if constexpr (std::is_same_v<T, f16>) {
      return F16FromF32(x);
    } else {
      static_assert(std::is_integral_v<T>, "Fill: f32, bf16, f16 or an integer type");
      const double lo = double(std::numeric_limits<T>::min());
      const double hi = double(std::numeric_limits<T>::max());
      return T(std::clamp(std::floor(double(x)), lo, hi));
    }
  }

  std::mt19937_64 engine_;
};

}  // namespace tgk::test
