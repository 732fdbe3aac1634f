// tgk::Compare: every rule of include/tgk/compare.h.
#include "tgk/compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "testing/expect_error.h"
#include "tgk/convert.h"

namespace tgk {
namespace {

using test::ExpectInvalidArgument;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Comparison CompareF32(const std::vector<float>& a, const std::vector<float>& r,
                      const Tolerance& t = {}) {
  return Compare(ConstView::Of<float>(a.data(), a.size()), ConstView::Of<float>(r.data(), r.size()),
                 t);
}

float Next(float f, int steps) {
  for (int i = 0; i < steps; ++i) f = std::nextafter(f, kInf);
  return f;
}

TEST(CompareTest, EqualBitsPassWithZeroStatistics) {
  const Comparison c = CompareF32({1, -2, 0.5f}, {1, -2, 0.5f});
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.count, 3u);
  EXPECT_EQ(c.differing, 0u);
  EXPECT_EQ(c.max_abs, 0);
  EXPECT_EQ(c.max_ulp, 0u);
  EXPECT_EQ(c.Summary(),
            "PASS: 0 of 3 elements differ; max abs 0 at [0]; max rel 0 at [0]; max ulp 0 at [0]; "
            "NaN mismatches 0; Inf mismatches 0");
}

TEST(CompareTest, EmptyViewsPass) {
  const Comparison c =
      Compare(ConstView(nullptr, 0, DType::kF32), ConstView(nullptr, 0, DType::kF32));
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.count, 0u);
}

TEST(CompareTest, DefaultIsBitwiseOneUlpFails) {
  const Comparison c = CompareF32({1, Next(1, 1)}, {1, 1});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.differing, 1u);
  EXPECT_EQ(c.max_ulp, 1u);
  EXPECT_EQ(c.max_ulp_index, 1u);
  EXPECT_EQ(c.max_abs, double(Next(1, 1)) - 1.0);
  EXPECT_EQ(c.max_abs_index, 1u);
}

TEST(CompareTest, SignedZerosAreOneUlpApartAndFailBitwise) {
  const Comparison c = CompareF32({-0.0f}, {0.0f});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.differing, 1u);
  EXPECT_EQ(c.max_ulp, 1u);
  EXPECT_EQ(c.max_abs, 0);
  EXPECT_EQ(c.max_rel, 0);
  EXPECT_TRUE(CompareF32({-0.0f}, {0.0f}, {.max_ulp = 1}).passed);
  EXPECT_TRUE(CompareF32({-0.0f}, {0.0f}, {.atol = 1e-30}).passed);
}

TEST(CompareTest, UlpDistanceCrossesZero) {
  const float tiny = std::numeric_limits<float>::denorm_min();
  // -tiny, -0, +0, +tiny: three steps.
  const Comparison c = CompareF32({-tiny}, {tiny});
  EXPECT_EQ(c.max_ulp, 3u);
  EXPECT_FALSE(CompareF32({-tiny}, {tiny}, {.max_ulp = 2}).passed);
  EXPECT_TRUE(CompareF32({-tiny}, {tiny}, {.max_ulp = 3}).passed);
}

TEST(CompareTest, MaxUlpAcceptsUpToTheBound) {
  EXPECT_TRUE(CompareF32({Next(3, 4)}, {3}, {.max_ulp = 4}).passed);
  EXPECT_FALSE(CompareF32({Next(3, 5)}, {3}, {.max_ulp = 4}).passed);
}

TEST(CompareTest, AbsoluteAndRelativeToleranceBoundary) {
  // |a - r| <= atol + rtol * |r|, with the bound itself accepted.
  EXPECT_TRUE(CompareF32({1.5f}, {1.0f}, {.atol = 0.5}).passed);
  EXPECT_FALSE(CompareF32({1.5f}, {1.0f}, {.atol = 0.4999}).passed);
  EXPECT_TRUE(CompareF32({6.0f}, {4.0f}, {.rtol = 0.5}).passed);
  EXPECT_FALSE(CompareF32({6.0f}, {4.0f}, {.rtol = 0.4999}).passed);
  EXPECT_TRUE(CompareF32({6.0f}, {4.0f}, {.atol = 1, .rtol = 0.25}).passed);
  EXPECT_FALSE(CompareF32({6.0f}, {4.0f}, {.atol = 0.99, .rtol = 0.25}).passed);
}

TEST(CompareTest, EitherCriterionAccepts) {
  // Huge ULP distance but within atol; within ULPs but beyond atol.
  EXPECT_TRUE(CompareF32({1e-30f}, {-1e-30f}, {.atol = 1e-20, .max_ulp = 0}).passed);
  EXPECT_TRUE(CompareF32({Next(1e30f, 1)}, {1e30f}, {.atol = 1e-3, .max_ulp = 1}).passed);
  EXPECT_FALSE(CompareF32({Next(1e30f, 2)}, {1e30f}, {.atol = 1e-3, .max_ulp = 1}).passed);
}

TEST(CompareTest, RelativeErrorAndItsIndex) {
  const Comparison c = CompareF32({1, 2.5f, 100.5f, 0}, {1, 2, 100, 0});
  EXPECT_EQ(c.max_abs, 0.5);
  EXPECT_EQ(c.max_abs_index, 1u);  // the first element that reaches the maximum
  EXPECT_EQ(c.max_rel, 0.25);
  EXPECT_EQ(c.max_rel_index, 1u);
  EXPECT_EQ(c.differing, 2u);
}

TEST(CompareTest, RelativeErrorAgainstZeroIsInfinite) {
  const Comparison c = CompareF32({0, 1e-3f}, {0, 0});
  EXPECT_TRUE(std::isinf(c.max_rel));
  EXPECT_EQ(c.max_rel_index, 1u);
  EXPECT_FALSE(CompareF32({1e-3f}, {0}, {.rtol = 1e9}).passed);
  EXPECT_TRUE(CompareF32({1e-3f}, {0}, {.atol = 2e-3}).passed);
}

TEST(CompareTest, NaNAgainstNaNIsEqualWhateverThePayload) {
  const float nan_a = FloatFromBits(0x7FC00001u);
  const float nan_b = FloatFromBits(0xFFC12345u);
  const Comparison c = CompareF32({nan_a, 1}, {nan_b, 1});
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.differing, 0u);
  EXPECT_EQ(c.nan_mismatches, 0u);
}

TEST(CompareTest, NaNMismatchNeverHidesAFiniteError) {
  // A NaN in the reference, and a 1.0 error elsewhere: both are reported.
  const Comparison c = CompareF32({5, 2}, {kNaN, 1});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.nan_mismatches, 1u);
  EXPECT_EQ(c.differing, 2u);
  EXPECT_EQ(c.max_abs, 1.0);
  EXPECT_EQ(c.max_abs_index, 1u);
  const Comparison d = CompareF32({kNaN, 2}, {5, 1});
  EXPECT_EQ(d.nan_mismatches, 1u);
  EXPECT_EQ(d.max_abs, 1.0);
}

TEST(CompareTest, NaNMismatchFailsWhateverTheTolerance) {
  EXPECT_FALSE(CompareF32({kNaN}, {1}, {.atol = 1e300, .max_ulp = UINT64_MAX}).passed);
}

TEST(CompareTest, InfMismatchesAreCountedApartAndAlwaysFail) {
  const float max = std::numeric_limits<float>::max();
  const Comparison c = CompareF32({kInf, -kInf, kInf, 3}, {max, kInf, kInf, 1});
  EXPECT_FALSE(c.passed);
  EXPECT_EQ(c.inf_mismatches, 2u);
  EXPECT_EQ(c.nan_mismatches, 0u);
  EXPECT_EQ(c.differing, 3u);
  EXPECT_EQ(c.max_abs, 2.0);  // finite pairs only
  EXPECT_EQ(c.max_abs_index, 3u);
  // Inf is one ULP above the largest finite float, and still a mismatch.
  EXPECT_FALSE(CompareF32({kInf}, {max}, {.atol = 1e300, .max_ulp = 10}).passed);
  EXPECT_TRUE(CompareF32({kInf, -kInf}, {kInf, -kInf}).passed);
}

TEST(CompareTest, BF16UlpIsMeasuredAtBF16) {
  const std::vector<bf16> a = {bf16{0x3F80}, bf16{0x3F83}};  // 1.0, 1.0 + 3 bf16 ULPs
  const std::vector<bf16> r = {bf16{0x3F80}, bf16{0x3F80}};
  const Comparison c =
      Compare(ConstView::Of<bf16>(a.data(), 2), ConstView::Of<bf16>(r.data(), 2), {.max_ulp = 3});
  EXPECT_TRUE(c.passed);
  EXPECT_EQ(c.max_ulp, 3u);
  EXPECT_EQ(c.max_abs, 3.0 / 128);
  const std::vector<bf16> neg_zero = {bf16{0x8000}};
  const std::vector<bf16> pos_zero = {bf16{0x0000}};
  EXPECT_EQ(
      Compare(ConstView::Of<bf16>(neg_zero.data(), 1), ConstView::Of<bf16>(pos_zero.data(), 1))
          .max_ulp,
      1u);
}

TEST(CompareTest, F16UlpAndNaNAndInf) {
  const std::vector<f16> a = {f16{0x3C01}, f16{0x7E01}, f16{0x7C00}, f16{0x7E00}};
  const std::vector<f16> r = {f16{0x3C00}, f16{0xFE00}, f16{0x7BFF}, f16{0x3C00}};
  const Comparison c = Compare(ConstView::Of<f16>(a.data(), 4), ConstView::Of<f16>(r.data(), 4));
  EXPECT_EQ(c.max_ulp, 1u);
  EXPECT_EQ(c.max_abs, 1.0 / 1024);
  EXPECT_EQ(c.inf_mismatches, 1u);
  EXPECT_EQ(c.nan_mismatches, 1u);
  EXPECT_EQ(c.differing, 3u);
  EXPECT_FALSE(c.passed);
}

TEST(CompareTest, IntegersAreComparedExactly) {
  const std::vector<int32_t> a = {-1, 5, 7};
  const std::vector<int32_t> r = {1, 5, 7};
  const Comparison c = Compare(ConstView::Of<int32_t>(a.data(), 3),
                               ConstView::Of<int32_t>(r.data(), 3), {.atol = 10, .max_ulp = 10});
  EXPECT_FALSE(c.passed);  // tolerances do not apply to integers
  EXPECT_EQ(c.max_ulp, 2u);
  EXPECT_EQ(c.max_abs, 2.0);
  const std::vector<uint8_t> u = {0, 255};
  const std::vector<uint8_t> v = {0, 255};
  EXPECT_TRUE(
      Compare(ConstView::Of<uint8_t>(u.data(), 2), ConstView::Of<uint8_t>(v.data(), 2)).passed);
  const std::vector<uint32_t> big = {0xFFFFFFFFu};
  const std::vector<uint32_t> small = {0};
  EXPECT_EQ(
      Compare(ConstView::Of<uint32_t>(big.data(), 1), ConstView::Of<uint32_t>(small.data(), 1))
          .max_ulp,
      0xFFFFFFFFu);
}

TEST(CompareTest, SummaryOfAFailure) {
  const Comparison c = CompareF32({kNaN, 2, 4}, {1, 1, 4});
  EXPECT_EQ(c.Summary(),
            "FAIL: 2 of 3 elements differ; max abs 1 at [1]; max rel 1 at [1]; max ulp 8388608 at "
            "[1]; NaN mismatches 1; Inf mismatches 0");
}

TEST(CompareTest, Errors) {
  const std::vector<float> f(4);
  const std::vector<bf16> h(4);
  ExpectInvalidArgument(
      [&] { Compare(ConstView::Of<float>(f.data(), 4), ConstView::Of<bf16>(h.data(), 4)); },
      "Compare: actual dtype f32 != reference dtype bf16; both must have the same dtype");
  ExpectInvalidArgument(
      [&] { Compare(ConstView::Of<float>(f.data(), 4), ConstView::Of<float>(f.data(), 3)); },
      "Compare: actual has 4 elements, reference 3; both must have the same count");
  ExpectInvalidArgument(
      [&] { Compare(ConstView(nullptr, 4, DType::kF32), ConstView::Of<float>(f.data(), 4)); },
      "Compare: a view of 4 elements has no data");
  ExpectInvalidArgument([&] { CompareF32(f, f, {.atol = -1}); },
                        "Compare: tolerance atol = -1 must be finite and >= 0");
  ExpectInvalidArgument([&] { CompareF32(f, f, {.rtol = NAN}); },
                        "Compare: tolerance rtol = nan must be finite and >= 0");
}

}  // namespace
}  // namespace tgk
