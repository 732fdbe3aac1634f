// tgk's Exp (math-inl.h): the error over all 2^32 f32 inputs against an fp64 reference, on the
// fastest target; the same bits on every target (scalar lanes and each compiled Highway target)
// over a sample of 19 million inputs that covers the whole range; and the special values.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "math_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

#ifndef TGK_TESTS_MATH_TEST_ARGS_
#define TGK_TESTS_MATH_TEST_ARGS_
namespace tgk {

enum class ExpOp : uint32_t {
  kBuffer,    // out[i] = Exp(in[i])
  kPatterns,  // out[i] = Exp(the f32 whose bits are first_bits + i)
};

struct ExpArgs {
  ExpOp op;
  const float* in;
  float* out;
  uint32_t first_bits;
};

}  // namespace tgk
#endif  // TGK_TESTS_MATH_TEST_ARGS_

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// One lane per element: element group_id.x * group size + lane id.
struct ExpTestKernel {
  ExpArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const size_t base = size_t{g.group_id().x} * g.size();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const size_t i = base + lane.first();
      if (a.op == ExpOp::kBuffer) {
        lane.store(a.out + i, Exp(lane.load(a.in + i)));
      } else {
        const auto bits = lane.splat(uint32_t(a.first_bits + base)) + lane.id();
        lane.store(a.out + i, Exp(FloatFromBits(bits)));
      }
    });
  }
};

TGK_DEFINE_KERNEL_RUNNERS(ExpTestKernel, ExpArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "testing/compare.h"
#include "tgk/convert.h"
#include "tgk/math.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {

TGK_EXPORT_KERNEL(ExpTestKernel, "math_test")

namespace {

// The inputs whose exp is a finite, non-zero f32: [kLowest, kHighest]. Above, exp(x) is at
// least FLT_MAX + ulp/2 and rounds to +inf; below, it is at most 2^-150, half the smallest
// subnormal, and rounds to +0 (checked in FiniteRangeBoundsAreTheThresholds).
const float kLowest = FloatFromBits(0xC2CFF1B4u);   // -103.972076
const float kHighest = FloatFromBits(0x42B17217u);  // 88.7228317

// The maximum error documented in math-inl.h, in ulps of the exact result: the measured
// maximum (0.938605 ulp) rounded up, so a change that loses accuracy fails here.
constexpr double kMaxUlpError = 0.9387;

std::string Hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", v);
  return text;
}

// e^x to within about 2^-52 relative: std::exp in fp64, or for |x| < 2^-26 the Taylor
// polynomial 1 + x + x²/2, whose truncation error is below 2^-80 (and which is faster).
double ReferenceExp(float x) {
  const double d = x;
  return std::fabs(d) < 0x1p-26 ? 1.0 + d + 0.5 * d * d : std::exp(d);
}

// |result - exact| in units of the last place of `exact` (positive, normal in fp64) as an f32:
// 2^(e-23) in the binade [2^e, 2^(e+1)) holding it, 2^-149 below 2^-126.
double UlpError(float result, double exact) {
  uint64_t bits;
  std::memcpy(&bits, &exact, sizeof bits);
  const int exponent = std::max(int(bits >> 52) - 1023, -126);
  const uint64_t inverse_ulp_bits = uint64_t(23 - exponent + 1023) << 52;
  double inverse_ulp;
  std::memcpy(&inverse_ulp, &inverse_ulp_bits, sizeof inverse_ulp);
  return std::fabs(double(result) - exact) * inverse_ulp;
}

// Runs Exp over `input` on `target`, in groups of 250 lanes (so that the last pack of every
// group is partial on the 16-, 8- and 4-lane targets).
std::vector<float> ExpOn(Target target, const std::vector<float>& input) {
  constexpr uint32_t kGroupSize = 250;
  const size_t groups = (input.size() + kGroupSize - 1) / kGroupSize;
  std::vector<float> in(groups * kGroupSize);
  std::copy(input.begin(), input.end(), in.begin());
  std::vector<float> out(groups * kGroupSize);
  Queue queue(QueueOptions{.target = target});
  queue.dispatch(ExpTestKernelEntry(), Dim3{uint32_t(groups)}, kGroupSize, ArenaSizes{},
                 ExpArgs{ExpOp::kBuffer, in.data(), out.data(), 0});
  queue.commit_and_wait();
  out.resize(input.size());
  return out;
}

TEST(MathTest, FiniteRangeBoundsAreTheThresholds) {
  const double overflow = std::ldexp(1.0, 128) - std::ldexp(1.0, 103);  // FLT_MAX + ulp/2
  const double underflow = std::ldexp(1.0, -150);                       // 2^-149 / 2
  EXPECT_LT(std::exp(double(kHighest)), overflow);
  EXPECT_GT(std::exp(double(std::nextafter(kHighest, INFINITY))), overflow);
  EXPECT_GT(std::exp(double(kLowest)), underflow);
  EXPECT_LT(std::exp(double(std::nextafter(kLowest, -INFINITY))), underflow);
}

// Over every one of the 2^32 f32 bit patterns, on the fastest target: inside
// [kLowest, kHighest] the error against the fp64 reference is at most kMaxUlpError; above it
// the result is +inf, below it +0, and a NaN gives a NaN. EveryTargetGivesTheScalarBits extends
// the verdict to the other targets.
TEST(MathTest, ExpIsAccurateForEveryInput) {
  constexpr uint32_t kGroupSize = 1024;
  constexpr size_t kChunk = size_t{1} << 22;  // patterns per dispatch
  constexpr size_t kBlock = size_t{1} << 16;  // patterns per host check task
  const Target target = BestTarget();
  SCOPED_TRACE(target.name());
  Queue queue(QueueOptions{.target = target});
  std::vector<float> out(kChunk);

  struct Tally {
    double max_error = 0;
    uint32_t worst = 0;
    uint64_t finite = 0;  // inputs in [kLowest, kHighest]
    uint64_t not_correctly_rounded = 0;
    uint64_t failures = 0;
    uint32_t first_failure = 0;
  };
  Tally total;
  std::vector<Tally> blocks(kChunk / kBlock);
  for (uint64_t first = 0; first < (uint64_t{1} << 32); first += kChunk) {
    queue.dispatch(ExpTestKernelEntry(), Dim3{uint32_t(kChunk / kGroupSize)}, kGroupSize,
                   ArenaSizes{}, ExpArgs{ExpOp::kPatterns, nullptr, out.data(), uint32_t(first)});
    queue.commit_and_wait();
#pragma omp parallel for schedule(dynamic)
    for (size_t b = 0; b < blocks.size(); ++b) {
      Tally t;
      for (size_t i = b * kBlock; i < (b + 1) * kBlock; ++i) {
        const uint32_t bits = uint32_t(first + i);
        const float x = FloatFromBits(bits);
        const float r = out[i];
        bool ok;
        if (std::isnan(x)) {
          ok = std::isnan(r);
        } else if (x > kHighest) {
          ok = r == INFINITY;
        } else if (x < kLowest) {
          ok = BitsOf(r) == 0;  // +0
        } else {
          ++t.finite;
          const double error = UlpError(r, ReferenceExp(x));
          ok = error <= kMaxUlpError;
          if (error > 0.5) ++t.not_correctly_rounded;
          if (error > t.max_error) {
            t.max_error = error;
            t.worst = bits;
          }
        }
        if (!ok && t.failures++ == 0) t.first_failure = bits;
      }
      blocks[b] = t;
    }
    for (const Tally& t : blocks) {
      if (t.max_error > total.max_error) {
        total.max_error = t.max_error;
        total.worst = t.worst;
      }
      total.finite += t.finite;
      total.not_correctly_rounded += t.not_correctly_rounded;
      if (t.failures > 0 && total.failures == 0) total.first_failure = t.first_failure;
      total.failures += t.failures;
    }
  }
  std::printf(
      "exp: max error %.6f ulp at x = %a (%s); %llu of the %llu finite non-zero results "
      "are not correctly rounded\n",
      total.max_error, double(FloatFromBits(total.worst)), Hex(total.worst).c_str(),
      static_cast<unsigned long long>(total.not_correctly_rounded),
      static_cast<unsigned long long>(total.finite));
  RecordProperty("max_ulp_error", std::to_string(total.max_error));
  EXPECT_LE(total.max_error, kMaxUlpError) << "at x = " << Hex(total.worst);
  EXPECT_EQ(total.failures, 0u) << "first failing input " << Hex(total.first_failure) << " ("
                                << FloatFromBits(total.first_failure) << ")";
}

// Inputs for the cross-target comparison: a strided sample of all 2^32 patterns; every input
// whose result is subnormal; the patterns around the overflow and underflow thresholds, 0,
// ±1 and the range clamps; and the specials.
std::vector<float> CrossTargetInputs() {
  std::vector<float> inputs;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 257) {
    inputs.push_back(FloatFromBits(uint32_t(bits)));
  }
  // exp(x) < 2^-126 for x below -87.3365402 (0xC2AEAC50).
  for (uint32_t bits = 0xC2AEAC00u; bits <= BitsOf(kLowest) + 0x100u; ++bits) {
    inputs.push_back(FloatFromBits(bits));
  }
  const float kAnchors[] = {kHighest, 0.0f,    -0.0f,    1.0f,     -1.0f,
                            89.0f,    -104.0f, 0x1p-24f, -0x1p-25f};
  for (float anchor : kAnchors) {
    float down = anchor, up = anchor;
    for (int s = 0; s < 4096; ++s) {
      down = std::nextafter(down, -INFINITY);
      up = std::nextafter(up, INFINITY);
      inputs.push_back(down);
      inputs.push_back(up);
    }
  }
  const uint32_t kSpecials[] = {0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001,
                                0x7FA00000, 0xFFBFFFFF, 0x7FFFFFFF, 0x7F7FFFFF, 0xFF7FFFFF,
                                0x00000001, 0x80000001, 0x00800000, 0x80800000};
  for (uint32_t bits : kSpecials) inputs.push_back(FloatFromBits(bits));
  return inputs;
}

TEST(MathTest, EveryTargetGivesTheScalarBits) {
  const std::vector<float> inputs = CrossTargetInputs();
  const std::vector<float> expected = ExpOn(Target::Scalar(), inputs);
  for (Target target : AvailableTargets()) {
    if (target.is_scalar()) continue;
    SCOPED_TRACE(target.name());
    const std::vector<float> actual = ExpOn(target, inputs);
    size_t mismatches = 0;
    std::string examples;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (BitsOf(expected[i]) == BitsOf(actual[i])) continue;
      if (++mismatches <= 8) {
        examples += "\n  exp(" + Hex(BitsOf(inputs[i])) + "): scalar " + Hex(BitsOf(expected[i])) +
                    ", " + target.name() + " " + Hex(BitsOf(actual[i]));
      }
    }
    EXPECT_EQ(mismatches, 0u) << mismatches << " of " << inputs.size() << " differ:" << examples;
  }
}

// The host-side Exp (tgk/math.h) that references call is the kernels' Exp, bit for bit: the
// same function, so a sample of the cross-target inputs (every 101st, and the specials that end
// the list) suffices.
TEST(MathTest, HostExpGivesTheKernelBits) {
  const std::vector<float> all = CrossTargetInputs();
  std::vector<float> inputs;
  for (size_t i = 0; i < all.size(); i += 101) inputs.push_back(all[i]);
  inputs.insert(inputs.end(), all.end() - 64, all.end());
  std::vector<float> host(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) host[i] = Exp(inputs[i]);
  EXPECT_TRUE(test::BitsEqual(ExpOn(Target::Scalar(), inputs), host));
}

TEST(MathTest, ExpSpecialValues) {
  struct Case {
    uint32_t x;
    uint32_t result;
  };
  const Case kCases[] = {
      {0x00000000, 0x3F800000},  // exp(+0) = 1
      {0x80000000, 0x3F800000},  // exp(-0) = 1
      {0x7F800000, 0x7F800000},  // exp(+inf) = +inf
      {0xFF800000, 0x00000000},  // exp(-inf) = +0
      {0x7F7FFFFF, 0x7F800000},  // exp(FLT_MAX) overflows to +inf
      {0xFF7FFFFF, 0x00000000},  // exp(-FLT_MAX) underflows to +0
      {0x42B17218, 0x7F800000},  // just past kHighest: +inf
      {0xC2CFF1B5, 0x00000000},  // just past kLowest: +0
      {0xC2CFF1B4, 0x00000001},  // kLowest: the smallest subnormal
  };
  std::vector<float> inputs;
  for (const Case& c : kCases) inputs.push_back(FloatFromBits(c.x));
  const float kNaNs[] = {FloatFromBits(0x7FC00000), FloatFromBits(0xFFC00000),
                         FloatFromBits(0x7F800001), FloatFromBits(0x7FABCDEF)};
  inputs.insert(inputs.end(), std::begin(kNaNs), std::end(kNaNs));
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    const std::vector<float> results = ExpOn(target, inputs);
    for (size_t i = 0; i < std::size(kCases); ++i) {
      EXPECT_EQ(Hex(BitsOf(results[i])), Hex(kCases[i].result))
          << "exp(" << Hex(kCases[i].x) << ")";
    }
    for (size_t i = std::size(kCases); i < inputs.size(); ++i) {
      EXPECT_TRUE(std::isnan(results[i])) << "exp(" << Hex(BitsOf(inputs[i])) << ")";
    }
  }
  // exp(kHighest) is finite: the largest results round to FLT_MAX or just below it.
  EXPECT_LE(ExpOn(Target::Scalar(), {kHighest})[0], FLT_MAX);
}

}  // namespace
}  // namespace tgk
#endif  // HWY_ONCE
