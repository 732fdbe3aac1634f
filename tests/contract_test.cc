// tgk's arithmetic contract (docs/design.md section 3) on every target, scalar lanes and each
// compiled Highway target: a*b + c is never contracted (-ffp-contract=off), neither in plain
// float code nor in Highway vector code; Fma is fused everywhere; Max and Min are canonical (a
// NaN operand is ignored, -0 < +0) with the same bits everywhere.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "contract_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

#ifndef TGK_TESTS_CONTRACT_TEST_ARGS_
#define TGK_TESTS_CONTRACT_TEST_ARGS_
namespace tgk {

enum class ContractOp : uint32_t {
  kPlainFloatCode,  // a*b + c written on floats, element by element, in the target's code
  kLaneOperators,   // a*b + c on lane values
  kHighwayAddMul,   // hn::Add(hn::Mul(a, b), c) (the scalar lanes have no vectors: a*b + c)
  kFma,             // Fma(a, b, c)
  kMax,             // Max(a, b)
  kMin,             // Min(a, b)
};

struct ContractArgs {
  ContractOp op;
  const float* a;
  const float* b;
  const float* c;
  float* out;
};

}  // namespace tgk
#endif  // TGK_TESTS_CONTRACT_TEST_ARGS_

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

HWY_API float HighwayAddMul(float a, float b, float c) { return a * b + c; }
template <class V>
HWY_API V HighwayAddMul(V a, V b, V c) {
  return hn::Add(hn::Mul(a, b), c);
}

// One lane per element: element group_id.x * group size + lane id.
struct ContractTestKernel {
  ContractArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const size_t base = size_t{g.group_id().x} * g.size();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const size_t i = base + lane.first();
      const auto x = [&] { return lane.load(a.a + i); };
      const auto y = [&] { return lane.load(a.b + i); };
      const auto z = [&] { return lane.load(a.c + i); };
      switch (a.op) {
        case ContractOp::kPlainFloatCode:
          for (size_t k = i; k < i + lane.count(); ++k) a.out[k] = a.a[k] * a.b[k] + a.c[k];
          break;
        case ContractOp::kLaneOperators:
          lane.store(a.out + i, x() * y() + z());
          break;
        case ContractOp::kHighwayAddMul:
          lane.store(a.out + i, HighwayAddMul(x(), y(), z()));
          break;
        case ContractOp::kFma:
          lane.store(a.out + i, Fma(x(), y(), z()));
          break;
        case ContractOp::kMax:
          lane.store(a.out + i, Max(x(), y()));
          break;
        case ContractOp::kMin:
          lane.store(a.out + i, Min(x(), y()));
          break;
      }
    });
  }
};

TGK_DEFINE_KERNEL_RUNNERS(ContractTestKernel, ContractArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tgk/convert.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {

TGK_EXPORT_KERNEL(ContractTestKernel, "contract_test")

namespace {

struct Operands {
  std::vector<float> a, b, c;
  void push(float x, float y, float z) {
    a.push_back(x);
    b.push_back(y);
    c.push_back(z);
  }
};

// Runs `op` over the operands on `target`, in groups of 250 lanes (so that the last pack of
// every group is partial on the 16-, 8- and 4-lane targets).
std::vector<float> RunOn(Target target, ContractOp op, const Operands& operands) {
  constexpr uint32_t kGroupSize = 250;
  const size_t n = operands.a.size();
  const size_t groups = (n + kGroupSize - 1) / kGroupSize;
  const auto padded = [&](const std::vector<float>& v) {
    std::vector<float> p(groups * kGroupSize);
    std::copy(v.begin(), v.end(), p.begin());
    return p;
  };
  const std::vector<float> a = padded(operands.a), b = padded(operands.b), c = padded(operands.c);
  std::vector<float> out(groups * kGroupSize);
  Queue queue(QueueOptions{.target = target});
  queue.dispatch(ContractTestKernelEntry(), Dim3{uint32_t(groups)}, kGroupSize, ArenaSizes{},
                 ContractArgs{op, a.data(), b.data(), c.data(), out.data()});
  queue.commit_and_wait();
  out.resize(n);
  return out;
}

std::string Hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", v);
  return text;
}

void ExpectSameBits(const std::vector<float>& expected, const std::vector<float>& actual,
                    const Operands& operands, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  size_t mismatches = 0;
  std::string examples;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (BitsOf(expected[i]) == BitsOf(actual[i])) continue;
    if (++mismatches <= 8) {
      examples += "\n  (" + Hex(BitsOf(operands.a[i])) + ", " + Hex(BitsOf(operands.b[i])) + ", " +
                  Hex(BitsOf(operands.c[i])) + "): expected " + Hex(BitsOf(expected[i])) +
                  ", got " + Hex(BitsOf(actual[i]));
    }
  }
  EXPECT_EQ(mismatches, 0u) << what << " differs in " << mismatches << " of " << expected.size()
                            << " elements:" << examples;
}

// a*b + c where c = -round(a*b): the unfused sum is exactly +0, the fused one is the rounding
// error of the product, which is non-zero whenever the product is inexact. The products are
// exact in fp64 (48 significant bits), so the test computes both results without f32 arithmetic.
struct MulAddCases {
  Operands operands;
  std::vector<float> unfused, fused;
  void push(float a, float b) {
    const double exact = double(a) * double(b);
    const float rounded = float(exact);
    operands.push(a, b, -rounded);
    unfused.push_back(0.0f);
    fused.push_back(float(exact - double(rounded)));
  }
};

MulAddCases ContractionSensitiveCases() {
  MulAddCases cases;
  // The canonical case: a = b = 1 + 2^-12, a*b = 1 + 2^-11 + 2^-24, rounded to 1 + 2^-11, so
  // with c = -(1 + 2^-11) the unfused result is 0 and the fused one 2^-24; at many scales.
  for (int scale = -40; scale <= 40; ++scale) {
    const float a = std::ldexp(1.0f + 0x1p-12f, scale);
    cases.push(a, 1.0f + 0x1p-12f);
    cases.push(-a, 1.0f + 0x1p-12f);
  }
  // Random operands whose product neither overflows nor underflows.
  std::mt19937 random(7);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-60, 60);
  std::bernoulli_distribution negative(0.5);
  for (int i = 0; i < 100000; ++i) {
    const float a = std::ldexp(mantissa(random), exponent(random)) * (negative(random) ? -1 : 1);
    const float b = std::ldexp(mantissa(random), exponent(random));
    cases.push(a, b);
  }
  return cases;
}

TEST(ContractTest, CanonicalCaseHasTheExpectedResults) {
  const MulAddCases cases = ContractionSensitiveCases();
  const size_t one = 2 * 40;  // the canonical case at scale 0
  EXPECT_EQ(cases.operands.a[one], 1.0f + 0x1p-12f);
  EXPECT_EQ(cases.operands.c[one], -(1.0f + 0x1p-11f));
  EXPECT_EQ(cases.unfused[one], 0.0f);
  EXPECT_EQ(cases.fused[one], 0x1p-24f);
  const size_t inexact = size_t(std::count_if(cases.fused.begin(), cases.fused.end(),
                                              [](float error) { return error != 0.0f; }));
  EXPECT_GT(inexact, cases.fused.size() * 9 / 10);
}

TEST(ContractTest, MultiplyAddIsNeverContracted) {
  const MulAddCases cases = ContractionSensitiveCases();
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    ExpectSameBits(cases.unfused, RunOn(target, ContractOp::kPlainFloatCode, cases.operands),
                   cases.operands, "plain float a*b + c");
    ExpectSameBits(cases.unfused, RunOn(target, ContractOp::kLaneOperators, cases.operands),
                   cases.operands, "lane a*b + c");
    ExpectSameBits(cases.unfused, RunOn(target, ContractOp::kHighwayAddMul, cases.operands),
                   cases.operands, "Add(Mul(a, b), c)");
  }
}

TEST(ContractTest, FmaIsFusedOnEveryTarget) {
  const MulAddCases cases = ContractionSensitiveCases();
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    ExpectSameBits(cases.fused, RunOn(target, ContractOp::kFma, cases.operands), cases.operands,
                   "Fma(a, b, c)");
  }
}

// ---- Max and Min --------------------------------------------------------------------------

// A total order of the non-NaN floats with -0 < +0: the sign-magnitude bits as an integer.
int64_t OrderKey(float x) {
  const uint32_t bits = BitsOf(x);
  const int64_t magnitude = bits & 0x7FFFFFFFu;
  return (bits >> 31) ? -magnitude - 1 : magnitude;
}

// maxNum / minNum with -0 < +0. Of two NaNs, the result is the second operand (the scalar
// definition's choice; any fixed choice would do, but every target must make the same one).
float RefMax(float a, float b) {
  if (std::isnan(b)) return std::isnan(a) ? b : a;
  if (std::isnan(a)) return b;
  return OrderKey(a) >= OrderKey(b) ? a : b;
}
float RefMin(float a, float b) {
  if (std::isnan(b)) return std::isnan(a) ? b : a;
  if (std::isnan(a)) return b;
  return OrderKey(a) <= OrderKey(b) ? a : b;
}

TEST(ContractTest, MaxMinHandCases) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float snan = std::numeric_limits<float>::signaling_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float tiny = std::numeric_limits<float>::denorm_min();
  struct Case {
    float a, b, max, min;
  };
  const Case kCases[] = {
      {1.0f, 2.0f, 2.0f, 1.0f},     {2.0f, 1.0f, 2.0f, 1.0f},   {-1.0f, -2.0f, -1.0f, -2.0f},
      {-0.0f, 0.0f, 0.0f, -0.0f},   {0.0f, -0.0f, 0.0f, -0.0f}, {-0.0f, -0.0f, -0.0f, -0.0f},
      {0.0f, 0.0f, 0.0f, 0.0f},     {nan, 1.0f, 1.0f, 1.0f},    {1.0f, nan, 1.0f, 1.0f},
      {nan, -inf, -inf, -inf},      {inf, nan, inf, inf},       {snan, 3.0f, 3.0f, 3.0f},
      {-0.0f, snan, -0.0f, -0.0f},  {-inf, inf, inf, -inf},     {tiny, -tiny, tiny, -tiny},
      {-tiny, -0.0f, -0.0f, -tiny}, {0.0f, tiny, tiny, 0.0f},
  };
  Operands operands;
  std::vector<float> max, min;
  for (const Case& c : kCases) {
    operands.push(c.a, c.b, 0.0f);
    max.push_back(c.max);
    min.push_back(c.min);
  }
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    ExpectSameBits(max, RunOn(target, ContractOp::kMax, operands), operands, "Max");
    ExpectSameBits(min, RunOn(target, ContractOp::kMin, operands), operands, "Min");
  }
}

// Random pairs from a pool rich in ties, zeros, infinities and NaNs of different payloads:
// every target, the scalar lanes included, agrees with the reference bit for bit.
TEST(ContractTest, MaxMinAgreeEverywhere) {
  std::vector<float> pool = {0.0f,
                             -0.0f,
                             1.0f,
                             -1.0f,
                             0x1p-149f,
                             -0x1p-149f,
                             3.5f,
                             std::numeric_limits<float>::max(),
                             -std::numeric_limits<float>::max(),
                             std::numeric_limits<float>::infinity(),
                             -std::numeric_limits<float>::infinity()};
  for (uint32_t nan_bits : {0x7FC00000u, 0xFFC00000u, 0x7FC12345u, 0x7F800001u, 0xFFBFFFFFu}) {
    pool.push_back(FloatFromBits(nan_bits));
  }
  std::mt19937 random(11);
  for (int i = 0; i < 64; ++i) pool.push_back(FloatFromBits(uint32_t(random())));
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  Operands operands;
  for (int i = 0; i < 200000; ++i) operands.push(pool[pick(random)], pool[pick(random)], 0.0f);

  std::vector<float> ref_max, ref_min;
  for (size_t i = 0; i < operands.a.size(); ++i) {
    ref_max.push_back(RefMax(operands.a[i], operands.b[i]));
    ref_min.push_back(RefMin(operands.a[i], operands.b[i]));
  }
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    ExpectSameBits(ref_max, RunOn(target, ContractOp::kMax, operands), operands, "Max");
    ExpectSameBits(ref_min, RunOn(target, ContractOp::kMin, operands), operands, "Min");
  }
}

}  // namespace
}  // namespace tgk
#endif  // HWY_ONCE
