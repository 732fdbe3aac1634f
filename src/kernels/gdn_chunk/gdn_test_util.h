// Test helpers of the Gated DeltaNet chunk families beyond tests/testing/: the cumulative gate
// they take as input, and a comparison that lets NaN payloads differ.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "testing/random.h"
#include "tgk/convert.h"
#include "tgk/dtype.h"

namespace tgk::test {

// A chunk-local cumulative gate [B, T, H]: sums of steps in [-0.1, 0] restarted every 64 steps.
inline std::vector<float> ChunkGate(Random& random, uint32_t B, uint32_t T, uint32_t H) {
  std::vector<float> g(size_t{B} * T * H);
  for (uint32_t b = 0; b < B; ++b) {
    for (uint32_t h = 0; h < H; ++h) {
      float sum = 0.0f;
      for (uint32_t t = 0; t < T; ++t) {
        if (t % 64 == 0) sum = 0.0f;
        sum = sum - 0.1f * random.Uniform();
        g[(size_t{b} * T + t) * H + h] = sum;
      }
    }
  }
  return g;
}

inline float Value(float x) { return x; }
inline float Value(bf16 x) { return F32FromBF16(x); }

// Bitwise equal, except that any two NaNs are equal: IEEE leaves open which NaN an operation
// on NaN operands returns, and compilers commute additions.
template <class T>
::testing::AssertionResult SameValues(const std::vector<T>& expected,
                                      const std::vector<T>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure() << "sizes " << expected.size() << " and " << actual.size();
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    const float a = Value(expected[i]), b = Value(actual[i]);
    if (std::memcmp(&expected[i], &actual[i], sizeof(T)) != 0 &&
        !(std::isnan(a) && std::isnan(b))) {
      return ::testing::AssertionFailure()
             << "element " << i << ": expected " << a << ", got " << b;
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tgk::test
