// gated_delta_net_chunk_o_bf16: the reference vs the scalar oracle vs every target and thread
// count (bitwise, outputs poisoned), the mask against non-finite scores, the chains past the
// diagonal (an infinite value, a −0 sum), and every validation error.
#include "tgk/kernels/gdn_output.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gdn_chunk/gdn_test_util.h"
#include "kernels/gdn_output/gdn_output_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"

namespace tgk {
namespace {

struct Inputs {
  GdnOutputShape s;
  std::vector<bf16> q, k, v_new, h;
  std::vector<float> g;
  float scale;
  size_t rows() const { return size_t{s.B} * s.T * s.H; }
};

Inputs RandomInputs(const GdnOutputShape& s, uint64_t seed) {
  test::Random random(seed);
  Inputs in{s, {}, {}, {}, {}, {}, 1.0f / std::sqrt(float(s.K))};
  const size_t keys = size_t{s.B} * s.T * s.Hg * s.K;
  in.q = random.Vector<bf16>(keys, test::Normal(0.0f, in.scale));
  in.k = random.Vector<bf16>(keys, test::Normal(0.0f, in.scale));
  in.v_new = random.Vector<bf16>(in.rows() * s.V, test::Normal(0.0f, 0.5f));
  in.h = random.Vector<bf16>(size_t{s.B} * ((s.T + 63) / 64) * s.H * s.V * s.K,
                             test::Normal(0.0f, 0.1f));
  in.g = test::ChunkGate(random, s.B, s.T, s.H);
  return in;
}

std::vector<bf16> RunOutput(const Inputs& in, QueueOptions options) {
  auto o = test::Poisoned<bf16>(in.rows() * in.s.V);
  Queue queue(options);
  GatedDeltaNetChunkOutput(queue, in.s, ConstView::Of<bf16>(in.q.data(), in.q.size()),
                           ConstView::Of<bf16>(in.k.data(), in.k.size()),
                           ConstView::Of<bf16>(in.v_new.data(), in.v_new.size()),
                           ConstView::Of<bf16>(in.h.data(), in.h.size()),
                           ConstView::Of<float>(in.g.data(), in.g.size()), in.scale,
                           View::Of<bf16>(o.data(), o.size()));
  queue.commit_and_wait();
  return o;
}

std::vector<bf16> Reference(const Inputs& in) {
  auto o = test::Poisoned<bf16>(in.rows() * in.s.V);
  GdnOutputReference(in.s, in.q.data(), in.k.data(), in.v_new.data(), in.h.data(), in.g.data(),
                     in.scale, o.data());
  return o;
}

std::string Describe(const GdnOutputShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " Hg=" + std::to_string(s.Hg) +
         " H=" + std::to_string(s.H) + " K=" + std::to_string(s.K) + " V=" + std::to_string(s.V);
}

const GdnOutputShape kShapes[] = {{1, 64, 1, 1, 128, 128}, {2, 100, 1, 2, 48, 40},
                                  {1, 130, 2, 4, 64, 96},  {1, 1, 1, 1, 1, 1},
                                  {1, 200, 1, 1, 20, 130}, {1, 63, 1, 2, 17, 65}};

class GdnOutputTargets : public ::testing::TestWithParam<test::Config> {};

TEST_P(GdnOutputTargets, MatchesTheReferenceBitwise) {
  for (const GdnOutputShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    const Inputs in = RandomInputs(s, 41);
    const auto want = Reference(in);
    const std::vector<bf16> got = RunOutput(in, GetParam().options());
    EXPECT_TRUE(test::BitsEqual(want, got));
  }
}

// A NaN key in row 20 makes every score of column 20 NaN; the mask selects +0 above the
// diagonal, so rows before 20 stay finite, and the rows from 20 on are NaN.
TEST_P(GdnOutputTargets, MaskedScoresNeverLeak) {
  Inputs in = RandomInputs({1, 64, 1, 1, 16, 16}, 4);
  in.k[20 * 16 + 3] = BF16FromF32(std::numeric_limits<float>::quiet_NaN());
  const auto want = Reference(in);
  for (uint32_t x = 0; x < 16; ++x) {
    EXPECT_TRUE(std::isfinite(F32FromBF16(want[19 * 16 + x])));
    EXPECT_TRUE(std::isnan(F32FromBF16(want[20 * 16 + x])));
  }
  const std::vector<bf16> got = RunOutput(in, GetParam().options());
  EXPECT_TRUE(test::SameValues(want, got));
}

// The chain over j runs past a row's diagonal, where Ab is +0, as the spec writes it: an
// infinite v_new in row 40 makes every earlier row of its column NaN (+0·inf).
TEST_P(GdnOutputTargets, AnInfiniteValueReachesEveryRowOfItsColumn) {
  Inputs in = RandomInputs({1, 64, 1, 1, 16, 16}, 6);
  in.v_new[40 * 16 + 2] = BF16FromF32(std::numeric_limits<float>::infinity());
  const auto want = Reference(in);
  EXPECT_TRUE(std::isnan(F32FromBF16(want[3 * 16 + 2])));
  EXPECT_TRUE(std::isfinite(F32FromBF16(want[3 * 16 + 1])));
  EXPECT_TRUE(test::SameValues(want, RunOutput(in, GetParam().options())));
}

// A sum that is −0 at a row's diagonal turns +0 on a later term +0·v with v > 0, so such a
// row's chain runs on: row 7 (the last of its register block on every target) has q·h =
// 2^-75 · −2^-74, the smallest negative subnormal, which e^-1 rounds to −0; its scores are +0
// and v_new is negative up to row 7, positive after it. Its o in column 0 is +0.
TEST_P(GdnOutputTargets, ANegativeZeroSumKeepsItsChainRunning) {
  Inputs in = RandomInputs({1, 64, 1, 1, 16, 16}, 7);
  for (uint32_t c = 0; c < 16; ++c) in.q[7 * 16 + c] = BF16FromF32(0.0f);
  in.q[7 * 16] = BF16FromF32(std::ldexp(1.0f, -75));
  in.h[0] = BF16FromF32(-std::ldexp(1.0f, -74));
  for (uint32_t j = 0; j < 64; ++j) {
    in.k[j * 16] = BF16FromF32(0.0f);
    in.v_new[j * 16] = BF16FromF32(j <= 7 ? -0.5f : 0.5f);
  }
  in.g[7] = -1.0f;
  const auto want = Reference(in);
  EXPECT_EQ(want[7 * 16].bits, 0x0000);
  EXPECT_TRUE(test::BitsEqual(want, RunOutput(in, GetParam().options())));
}

TEST(GdnOutputTest, ValidationErrors) {
  const GdnOutputShape ok{1, 64, 2, 4, 32, 16};
  const Inputs in = RandomInputs(ok, 1);
  const size_t qc = in.q.size(), vc = in.v_new.size(), hc = in.h.size(), gc = in.g.size();
  const std::array<size_t, 6> c0 = {qc, qc, vc, hc, gc, vc};  // q, k, v, h, g, o
  const DType b = DType::kBF16, f = DType::kF32;
  const std::array<DType, 6> d0 = {b, b, b, b, f, b};
  const auto counts = [&](int i, size_t n) {
    auto c = c0;
    c[i] = n;
    return c;
  };
  const auto dtypes = [&](int i, DType t) {
    auto d = d0;
    d[i] = t;
    return d;
  };
  struct Case {
    GdnOutputShape shape;
    float scale;
    std::array<size_t, 6> counts;
    std::array<DType, 6> dtypes;
    std::string message;
  };
  const std::string p = "gated_delta_net_chunk_o";
  const float inf = std::numeric_limits<float>::infinity();
  const Case cases[] = {
      {{1, 64, 2, 0, 32, 16}, 1.0f, c0, d0, p + ": all dims must be > 0"},
      {{1, 64, 2, 4, 32, 16, 0}, 1.0f, c0, d0, p + ": all dims must be > 0"},
      {{1, 64, 3, 4, 32, 16}, 1.0f, c0, d0, p + ": h (4) must be a multiple of hg (3)"},
      {{1, 64, 2, 4, 32, 20000},
       1.0f,
       c0,
       d0,
       p + ": K (32) and V (20000) must be at most 16384 (tgk lifts the Metal kernel's K = 128, "
           "V <= 256)"},
      {{1, 64, 2, 4, 32, 16, 16}, 1.0f, c0, d0, p + " (iter 3): bt must be 64 (got 16)"},
      {ok, inf, c0, d0, p + ": scale must be finite (got inf)"},
      {ok, -inf, c0, d0, p + ": scale must be finite (got -inf)"},
      {ok, std::numeric_limits<float>::quiet_NaN(), c0, d0, p + ": scale must be finite (got NaN)"},
      {ok, 1.0f, counts(0, qc - 1), d0, p + ": q must be bf16[4096] (got 4095 bf16)"},
      {ok, 1.0f, c0, dtypes(1, f), p + ": k must be bf16[4096] (got 4096 f32)"},
      {ok, 1.0f, counts(2, 1), d0, p + ": v must be bf16[4096] (got 1 bf16)"},
      {ok, 1.0f, counts(3, hc * 2), d0, p + ": h must be bf16[2048] (got 4096 bf16)"},
      {ok, 1.0f, c0, dtypes(4, b), p + ": g must be f32[256] (got 256 bf16)"},
      {ok, 1.0f, c0, dtypes(5, f), p + ": o must be bf16[4096] (got 4096 f32)"},
      {{0xFFFFFFFFu, 0xFFFFFFFFu, 1, 0xFFFFFFFFu, 32, 16},
       1.0f,
       c0,
       d0,
       p + ": element count of g overflows 64 bits"},
  };
  std::vector<float> big(vc + 64);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<bf16> o(vc + 64, bf16{0x1234});
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaNetChunkOutput(queue, c.shape, ConstView(in.q.data(), c.counts[0], c.dtypes[0]),
                                   ConstView(in.k.data(), c.counts[1], c.dtypes[1]),
                                   ConstView(big.data(), c.counts[2], c.dtypes[2]),
                                   ConstView(big.data(), c.counts[3], c.dtypes[3]),
                                   ConstView(big.data(), c.counts[4], c.dtypes[4]), c.scale,
                                   View(o.data(), c.counts[5], c.dtypes[5]));
        },
        c.message);
    queue.commit_and_wait();
    for (bf16 x : o) ASSERT_EQ(x.bits, 0x1234);
  }
}

TEST(GdnOutputTest, RaceCheckerIsQuiet) {
  const Inputs in = RandomInputs({1, 100, 1, 2, 70, 72}, 9);
  EXPECT_TRUE(test::BitsEqual(
      Reference(in),
      RunOutput(in, QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true})));
}

TGK_INSTANTIATE_CONFIGS(GdnOutputTargets);

}  // namespace
}  // namespace tgk
