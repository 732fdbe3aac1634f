// Bit comparison of outputs: equal means every element has the same bit pattern (so NaNs
// compare by payload and +0 differs from -0). A difference is reported with the count of
// differing elements and the first one's index and both values, as hex bits and as numbers.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "tgk/dtype.h"

namespace tgk::test {

// The raw bits of one element and its value as text ("0x3F800000 (1)", "0x7FA5 (nan)").
std::string Describe(float x);
std::string Describe(bf16 x);
std::string Describe(f16 x);
std::string Describe(uint8_t x);
std::string Describe(uint16_t x);
std::string Describe(uint32_t x);
std::string Describe(int32_t x);

namespace detail {
template <class T>
uint64_t BitsOf(const T& x) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8);
  uint64_t bits = 0;
  std::memcpy(&bits, &x, sizeof(T));
  return bits;
}
}  // namespace detail

// Success when `expected` and `actual` hold the same bits; otherwise a failure that names the
// number of differing elements, the first one's index and both its values. Use as
// EXPECT_TRUE(BitsEqual(want, got)) << "context".
template <class T>
::testing::AssertionResult BitsEqual(std::span<const T> expected, std::span<const T> actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: expected " << expected.size() << " elements, got " << actual.size();
  }
  size_t count = 0, first = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (detail::BitsOf(expected[i]) != detail::BitsOf(actual[i]) && count++ == 0) first = i;
  }
  if (count == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << count << " of " << expected.size() << " elements differ; first at index " << first
         << ": expected " << Describe(expected[first]) << ", got " << Describe(actual[first]);
}
template <class T>
::testing::AssertionResult BitsEqual(const std::vector<T>& expected, const std::vector<T>& actual) {
  return BitsEqual(std::span<const T>(expected), std::span<const T>(actual));
}

}  // namespace tgk::test
