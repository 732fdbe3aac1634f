// gated_delta_net_recompute_wu_bf16: the reference vs the scalar oracle vs every target and
// thread count (bitwise, outputs poisoned), non-finite inputs, and every validation error.
#include "tgk/kernels/gdn_wu.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "kernels/gdn_chunk/gdn_test_util.h"
#include "kernels/gdn_wu/gdn_wu_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"

namespace tgk {
namespace {

struct Inputs {
  GdnWuShape s;
  std::vector<bf16> k, v;
  std::vector<float> beta, g, a_inv;
  size_t rows() const { return size_t{s.B} * s.T * s.H; }
};

struct Outputs {
  std::vector<bf16> w, u;
};

// Unit-norm-scale keys, |v| ~ 0.5, β in [0.1, 1], a cumulative gate, and an A_inv block of
// the form (I + A)⁻¹ has: 1 on the diagonal, +0 above it.
Inputs RandomInputs(const GdnWuShape& s, uint64_t seed) {
  test::Random random(seed);
  Inputs in{s, {}, {}, {}, {}, {}};
  in.k = random.Vector<bf16>(size_t{s.B} * s.T * s.Hg * s.K,
                             test::Normal(0.0f, 1.0f / std::sqrt(float(s.K))));
  in.v = random.Vector<bf16>(in.rows() * s.V, test::Normal(0.0f, 0.5f));
  in.beta = random.Vector<float>(in.rows(), test::Uniform(0.1f, 1.0f));
  in.g = test::ChunkGate(random, s.B, s.T, s.H);
  in.a_inv.assign(in.rows() * 64, 0.0f);
  for (size_t row = 0; row < in.rows(); ++row) {
    const uint32_t i = uint32_t(row / s.H % s.T % 64);
    for (uint32_t j = 0; j < i; ++j) in.a_inv[row * 64 + j] = random.Normal() * 0.2f;
    in.a_inv[row * 64 + i] = 1.0f;
  }
  return in;
}

Outputs RunWu(const Inputs& in, QueueOptions options) {
  Outputs out{test::Poisoned<bf16>(in.rows() * in.s.K), test::Poisoned<bf16>(in.rows() * in.s.V)};
  Queue queue(options);
  GatedDeltaNetRecomputeWu(queue, in.s, ConstView::Of<bf16>(in.k.data(), in.k.size()),
                           ConstView::Of<bf16>(in.v.data(), in.v.size()),
                           ConstView::Of<float>(in.beta.data(), in.beta.size()),
                           ConstView::Of<float>(in.g.data(), in.g.size()),
                           ConstView::Of<float>(in.a_inv.data(), in.a_inv.size()),
                           View::Of<bf16>(out.w.data(), out.w.size()),
                           View::Of<bf16>(out.u.data(), out.u.size()));
  queue.commit_and_wait();
  return out;
}

Outputs Reference(const Inputs& in) {
  Outputs out{test::Poisoned<bf16>(in.rows() * in.s.K), test::Poisoned<bf16>(in.rows() * in.s.V)};
  GdnWuReference(in.s, in.k.data(), in.v.data(), in.beta.data(), in.g.data(), in.a_inv.data(),
                 out.w.data(), out.u.data());
  return out;
}

void ExpectSameAsReference(const Inputs& in, const test::Config& config) {
  const Outputs want = Reference(in);
  const Outputs got = RunWu(in, config.options());
  EXPECT_TRUE(test::BitsEqual(want.w, got.w));
  EXPECT_TRUE(test::BitsEqual(want.u, got.u));
}

void ExpectSameValuesAsReference(const Inputs& in, const test::Config& config) {
  const Outputs want = Reference(in);
  const Outputs got = RunWu(in, config.options());
  EXPECT_TRUE(test::SameValues(want.w, got.w));
  EXPECT_TRUE(test::SameValues(want.u, got.u));
}

const GdnWuShape kShapes[] = {{1, 64, 1, 1, 128, 128}, {2, 100, 1, 2, 48, 40},
                              {1, 130, 2, 4, 64, 96},  {1, 1, 1, 1, 1, 1},
                              {1, 70, 1, 1, 200, 65},  {1, 63, 1, 2, 17, 130}};

std::string Describe(const GdnWuShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " Hg=" + std::to_string(s.Hg) +
         " H=" + std::to_string(s.H) + " K=" + std::to_string(s.K) + " V=" + std::to_string(s.V);
}

class GdnWuTargets : public ::testing::TestWithParam<test::Config> {};

TEST_P(GdnWuTargets, MatchesTheReferenceBitwise) {
  for (const GdnWuShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    ExpectSameAsReference(RandomInputs(s, 21), GetParam());
  }
}

// The terms above the diagonal are computed, as the spec's chain writes them: an infinite v
// row makes the u rows before it NaN (0·inf), and the row itself inf or NaN. Which NaN an
// operation on NaNs returns is the compiler's choice of operand order, so NaNs compare equal.
TEST_P(GdnWuTargets, NonFiniteInputsPropagateAsInTheReference) {
  Inputs in = RandomInputs({1, 64, 1, 1, 32, 32}, 4);
  in.v[10 * 32 + 5] = BF16FromF32(std::numeric_limits<float>::infinity());
  in.k[20 * 32 + 7] = BF16FromF32(std::numeric_limits<float>::quiet_NaN());
  in.g[30] = std::numeric_limits<float>::infinity();
  const Outputs want = Reference(in);
  EXPECT_TRUE(std::isnan(F32FromBF16(want.u[3 * 32 + 5])));
  ExpectSameValuesAsReference(in, GetParam());
}

// The chains stop after a block's last diagonal term only where the terms past it cannot
// change a bit: zeros above the diagonal of either sign (−0·s is a zero too), but a NaN there
// (a non-finite A) reaches its row, as the spec's chain writes it.
TEST_P(GdnWuTargets, TermsAboveTheDiagonalAreLeftOutOnlyWhereTheyChangeNoBit) {
  Inputs in = RandomInputs({1, 64, 1, 1, 32, 32}, 5);
  for (size_t i = 0; i < 64; ++i) {
    for (size_t m = i + 1; m < 64; m += 2) in.a_inv[i * 64 + m] = -0.0f;
  }
  ExpectSameAsReference(in, GetParam());
  in.a_inv[3 * 64 + 40] = std::numeric_limits<float>::quiet_NaN();
  const Outputs want = Reference(in);
  EXPECT_TRUE(std::isnan(F32FromBF16(want.u[3 * 32])));
  EXPECT_TRUE(std::isnan(F32FromBF16(want.w[3 * 32])));
  ExpectSameValuesAsReference(in, GetParam());
}

TEST(GdnWuTest, ValidationErrors) {
  const GdnWuShape ok{1, 64, 2, 4, 32, 16};
  const Inputs in = RandomInputs(ok, 1);
  const size_t kc = in.k.size(), vc = in.v.size(), rc = in.rows(), ac = in.a_inv.size();
  const size_t wc = rc * 32, uc = rc * 16;
  struct Case {
    GdnWuShape shape;
    size_t counts[7];  // k, v, beta, g, A, w, u
    DType dtypes[7];
    std::string message;
  };
  const DType b = DType::kBF16, f = DType::kF32;
  const std::string p = "gated_delta_net_recompute_wu";
  const Case cases[] = {
      {{0, 64, 2, 4, 32, 16},
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": all dims must be > 0"},
      {{1, 64, 2, 4, 0, 16},
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": all dims must be > 0"},
      {{1, 64, 2, 4, 32, 0},
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": all dims must be > 0"},
      {{1, 64, 3, 4, 32, 16},
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": h (4) must be a multiple of hg (3)"},
      {{1, 64, 2, 4, 32, 16, 128},
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + " (iter 2): bt must be 64 (got 128)"},
      {ok,
       {kc + 1, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": k must be bf16[4096] (got 4097 bf16)"},
      {ok,
       {kc, vc, rc, rc, ac, wc, uc},
       {f, b, f, f, f, b, b},
       p + ": k must be bf16[4096] (got 4096 f32)"},
      {ok,
       {kc, vc - 1, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": v must be bf16[4096] (got 4095 bf16)"},
      {ok,
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, b, f, f, b, b},
       p + ": beta must be f32[256] (got 256 bf16)"},
      {ok,
       {kc, vc, rc, rc + 1, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": g must be f32[256] (got 257 f32)"},
      {ok,
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, b, b, b},
       p + ": A must be f32[16384] (got 16384 bf16)"},
      {ok,
       {kc, vc, rc, rc, ac, wc + 1, uc},
       {b, b, f, f, f, b, b},
       p + ": w must be bf16[8192] (got 8193 bf16)"},
      {ok,
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, f},
       p + ": u must be bf16[4096] (got 4096 f32)"},
      {{0xFFFFFFFFu, 0xFFFFFFFFu, 1, 0xFFFFFFFFu, 32, 16},
       {kc, vc, rc, rc, ac, wc, uc},
       {b, b, f, f, f, b, b},
       p + ": element count of beta overflows 64 bits"},
  };
  std::vector<float> big(wc + 64);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<bf16> w(wc + 64, bf16{0x1234}), u(wc + 64, bf16{0x1234});
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaNetRecomputeWu(queue, c.shape, ConstView(in.k.data(), c.counts[0], c.dtypes[0]),
                                   ConstView(in.v.data(), c.counts[1], c.dtypes[1]),
                                   ConstView(big.data(), c.counts[2], c.dtypes[2]),
                                   ConstView(big.data(), c.counts[3], c.dtypes[3]),
                                   ConstView(in.a_inv.data(), c.counts[4], c.dtypes[4]),
                                   View(w.data(), c.counts[5], c.dtypes[5]),
                                   View(u.data(), c.counts[6], c.dtypes[6]));
        },
        c.message);
    queue.commit_and_wait();
    for (size_t i = 0; i < w.size(); ++i) ASSERT_TRUE(w[i].bits == 0x1234 && u[i].bits == 0x1234);
  }
}

TEST(GdnWuTest, RaceCheckerIsQuiet) {
  const Inputs in = RandomInputs({1, 100, 1, 2, 70, 40}, 9);
  const Outputs got =
      RunWu(in, QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true});
  EXPECT_TRUE(test::BitsEqual(Reference(in).w, got.w));
}

TGK_INSTANTIATE_CONFIGS(GdnWuTargets);

}  // namespace
}  // namespace tgk
