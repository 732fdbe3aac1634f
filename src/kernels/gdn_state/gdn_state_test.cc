// gated_delta_net_chunk_inter_state_bf16: the reference vs the scalar oracle vs every target
// and thread count (bitwise, outputs poisoned), a split sequence, non-finite inputs, and every
// validation error.
#include "tgk/kernels/gdn_state.h"

#include <gtest/gtest.h>

#include <array>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gdn_chunk/gdn_test_util.h"
#include "kernels/gdn_state/gdn_state_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"

namespace tgk {
namespace {

struct Inputs {
  GdnStateShape s;
  std::vector<bf16> k, w, u;
  std::vector<float> g, h0;
  size_t rows() const { return size_t{s.B} * s.T * s.H; }
  size_t state() const { return size_t{s.B} * s.H * s.V * s.K; }
  size_t chunks() const { return (s.T + 63) / 64; }
};

struct Outputs {
  std::vector<bf16> h, v_new;
  std::vector<float> final_state;
};

Inputs RandomInputs(const GdnStateShape& s, uint64_t seed) {
  test::Random random(seed);
  Inputs in{s, {}, {}, {}, {}, {}};
  const float unit = 1.0f / std::sqrt(float(s.K));
  in.k = random.Vector<bf16>(size_t{s.B} * s.T * s.Hg * s.K, test::Normal(0.0f, unit));
  in.w = random.Vector<bf16>(in.rows() * s.K, test::Normal(0.0f, unit));
  in.u = random.Vector<bf16>(in.rows() * s.V, test::Normal(0.0f, 0.5f));
  in.g = test::ChunkGate(random, s.B, s.T, s.H);
  in.h0 = random.Vector<float>(in.state(), test::Normal(0.0f, 0.1f));
  return in;
}

Outputs Fresh(const Inputs& in) {
  return {test::Poisoned<bf16>(in.chunks() * in.state()), test::Poisoned<bf16>(in.rows() * in.s.V),
          test::Poisoned<float>(in.state())};
}

Outputs RunState(const Inputs& in, QueueOptions options) {
  Outputs out = Fresh(in);
  Queue queue(options);
  GatedDeltaNetChunkState(
      queue, in.s, ConstView::Of<bf16>(in.k.data(), in.k.size()),
      ConstView::Of<bf16>(in.w.data(), in.w.size()), ConstView::Of<bf16>(in.u.data(), in.u.size()),
      ConstView::Of<float>(in.g.data(), in.g.size()),
      ConstView::Of<float>(in.h0.data(), in.h0.size()), View::Of<bf16>(out.h.data(), out.h.size()),
      View::Of<bf16>(out.v_new.data(), out.v_new.size()),
      View::Of<float>(out.final_state.data(), out.final_state.size()));
  queue.commit_and_wait();
  return out;
}

Outputs Reference(const Inputs& in) {
  Outputs out = Fresh(in);
  GdnStateReference(in.s, in.k.data(), in.w.data(), in.u.data(), in.g.data(), in.h0.data(),
                    out.h.data(), out.v_new.data(), out.final_state.data());
  return out;
}

void ExpectLikeReference(const Inputs& in, bool bitwise, const test::Config& config) {
  const Outputs want = Reference(in);
  const Outputs got = RunState(in, config.options());
  if (bitwise) {
    EXPECT_TRUE(test::BitsEqual(want.h, got.h));
    EXPECT_TRUE(test::BitsEqual(want.v_new, got.v_new));
    EXPECT_TRUE(test::BitsEqual(want.final_state, got.final_state));
  } else {
    EXPECT_TRUE(test::SameValues(want.h, got.h));
    EXPECT_TRUE(test::SameValues(want.v_new, got.v_new));
    EXPECT_TRUE(test::SameValues(want.final_state, got.final_state));
  }
}

std::string Describe(const GdnStateShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " Hg=" + std::to_string(s.Hg) +
         " H=" + std::to_string(s.H) + " K=" + std::to_string(s.K) + " V=" + std::to_string(s.V);
}

const GdnStateShape kShapes[] = {{1, 64, 1, 1, 128, 128}, {2, 100, 1, 2, 48, 40},
                                 {1, 130, 2, 4, 64, 96},  {1, 1, 1, 1, 1, 1},
                                 {1, 200, 1, 1, 20, 130}, {1, 63, 1, 2, 17, 65}};

class GdnStateTargets : public ::testing::TestWithParam<test::Config> {};

TEST_P(GdnStateTargets, MatchesTheReferenceBitwise) {
  for (const GdnStateShape& s : kShapes) {
    SCOPED_TRACE(Describe(s));
    ExpectLikeReference(RandomInputs(s, 31), true, GetParam());
  }
}

// Two calls, T = 128 then T = 64 with the first call's final state as h0, give the bits of one
// call over T = 192.
TEST(GdnStateTest, SplittingAtAChunkBoundaryGivesTheSameBits) {
  const Inputs whole = RandomInputs({1, 192, 1, 2, 40, 72}, 8);
  const Outputs want = RunState(whole, QueueOptions{.threads = 2});
  Inputs first = whole, second = whole;
  first.s.T = 128;
  second.s.T = 64;
  const auto rows = [&](const auto& v, size_t width, uint32_t t0, uint32_t t) {
    return std::vector<std::decay_t<decltype(v[0])>>(v.begin() + t0 * whole.s.H * width,
                                                     v.begin() + (t0 + t) * whole.s.H * width);
  };
  first.k = rows(whole.k, whole.s.K / 2, 0, 128);  // Hg = H / 2
  first.w = rows(whole.w, whole.s.K, 0, 128);
  first.u = rows(whole.u, whole.s.V, 0, 128);
  first.g = rows(whole.g, 1, 0, 128);
  const Outputs a = RunState(first, QueueOptions{.threads = 3});
  second.k = rows(whole.k, whole.s.K / 2, 128, 64);
  second.w = rows(whole.w, whole.s.K, 128, 64);
  second.u = rows(whole.u, whole.s.V, 128, 64);
  second.g = rows(whole.g, 1, 128, 64);
  second.h0 = a.final_state;
  const Outputs b = RunState(second, QueueOptions{.threads = 1});
  EXPECT_TRUE(test::BitsEqual(want.final_state, b.final_state));
  std::vector<bf16> h = a.h, v_new = a.v_new;
  h.insert(h.end(), b.h.begin(), b.h.end());
  v_new.insert(v_new.end(), b.v_new.begin(), b.v_new.end());
  EXPECT_TRUE(test::BitsEqual(want.h, h));
  EXPECT_TRUE(test::BitsEqual(want.v_new, v_new));
}

TEST_P(GdnStateTargets, NonFiniteInputsPropagateAsInTheReference) {
  Inputs in = RandomInputs({1, 130, 1, 1, 24, 20}, 4);
  in.w[10 * 24 + 5] = BF16FromF32(std::numeric_limits<float>::infinity());
  in.k[70 * 24 + 7] = BF16FromF32(std::numeric_limits<float>::quiet_NaN());
  in.g[100] = std::numeric_limits<float>::infinity();
  ExpectLikeReference(in, false, GetParam());
}

TEST(GdnStateTest, ValidationErrors) {
  const GdnStateShape ok{1, 64, 2, 4, 32, 16};
  const Inputs in = RandomInputs(ok, 1);
  const size_t kc = in.k.size(), wc = in.w.size(), uc = in.u.size(), rc = in.rows();
  const size_t sc = in.state(), hc = in.chunks() * in.state();
  const DType b = DType::kBF16, f = DType::kF32;
  const std::string p = "gated_delta_net_chunk";
  const size_t c0[8] = {kc, wc, uc, rc, sc, hc, uc, sc};  // k, w, u, g, h0, h, v_new, final
  const auto counts = [&](int i, size_t n) {
    std::array<size_t, 8> c;
    std::copy(c0, c0 + 8, c.begin());
    c[i] = n;
    return c;
  };
  const std::array<DType, 8> d0 = {b, b, b, f, f, b, b, f};
  const auto dtypes = [&](int i, DType t) {
    auto d = d0;
    d[i] = t;
    return d;
  };
  struct Spec {
    GdnStateShape shape;
    std::array<size_t, 8> counts;
    std::array<DType, 8> dtypes;
    std::string message;
  };
  const auto all = counts(0, kc);
  const Spec cases[] = {
      {{0, 64, 2, 4, 32, 16}, all, d0, p + ": all dims must be > 0"},
      {{1, 64, 2, 4, 32, 0}, all, d0, p + ": all dims must be > 0"},
      {{1, 64, 3, 4, 32, 16}, all, d0, p + ": h (4) must be a multiple of hg (3)"},
      {{1, 64, 2, 4, 16385, 16},
       all,
       d0,
       p + ": K (16385) and V (16) must be at most 16384 (tgk lifts the Metal kernel's K = 128, "
           "V <= 256)"},
      {{1, 64, 2, 4, 32, 16, 32}, all, d0, p + " (iter 1): bt must be 64 (got 32)"},
      {ok, counts(0, kc - 1), d0, p + ": k element count 4095 != expected 4096"},
      {ok, all, dtypes(0, f), p + ": k must be bf16 (got f32)"},
      {ok, counts(1, wc + 1), d0, p + ": w element count 8193 != expected 8192"},
      {ok, all, dtypes(2, f), p + ": u must be bf16 (got f32)"},
      {ok, counts(6, 7), d0, p + ": v_new element count 7 != expected 4096"},
      {ok, all, dtypes(6, f), p + ": v_new must be bf16 (got f32)"},
      {ok, counts(3, rc - 1), d0, p + ": g element count 255 != expected 256"},
      {ok, counts(4, sc + 1), d0, p + ": h0 element count 2049 != expected 2048"},
      {ok, counts(7, 1), d0, p + ": final_state element count 1 != expected 2048"},
      {ok, counts(5, sc + 1), d0, p + ": h_out_check element count 2049 != expected 2048"},
      {ok, all, dtypes(5, f), p + ": h_out must be bf16 (got f32)"},
      {ok, all, dtypes(3, b), p + ": g must be f32 (got bf16)"},
      {ok, all, dtypes(4, b), p + ": h0 must be f32 (got bf16)"},
      {ok, all, dtypes(7, b), p + ": final_state must be f32 (got bf16)"},
      {{0xFFFFFFFFu, 0xFFFFFFFFu, 1, 0xFFFFFFFFu, 32, 16},
       all,
       d0,
       p + ": element count of g overflows 64 bits"},
  };
  std::vector<float> big(hc + 64);
  for (const Spec& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> out(hc + 64, -7.0f);
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaNetChunkState(queue, c.shape, ConstView(in.k.data(), c.counts[0], c.dtypes[0]),
                                  ConstView(in.w.data(), c.counts[1], c.dtypes[1]),
                                  ConstView(in.u.data(), c.counts[2], c.dtypes[2]),
                                  ConstView(big.data(), c.counts[3], c.dtypes[3]),
                                  ConstView(big.data(), c.counts[4], c.dtypes[4]),
                                  View(out.data(), c.counts[5], c.dtypes[5]),
                                  View(out.data(), c.counts[6], c.dtypes[6]),
                                  View(out.data(), c.counts[7], c.dtypes[7]));
        },
        c.message);
    queue.commit_and_wait();
    for (float x : out) ASSERT_EQ(x, -7.0f);
  }
}

TEST(GdnStateTest, RaceCheckerIsQuiet) {
  const Inputs in = RandomInputs({1, 100, 1, 2, 70, 40}, 9);
  const Outputs got =
      RunState(in, QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true});
  EXPECT_TRUE(test::BitsEqual(Reference(in).final_state, got.final_state));
}

TGK_INSTANTIATE_CONFIGS(GdnStateTargets);

}  // namespace
}  // namespace tgk
