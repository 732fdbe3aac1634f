// The chunked Gated DeltaNet: tgk's references of stages 2–7 against the spec's numpy model
// (fixtures of testdata/make_fixtures.py: each stage fed the model's own inputs); the whole
// forward against the composed references (bitwise, every target and thread count) and the
// model's fp64 mode (the spec's tolerance); the kkt stage inside it against the standalone
// kkt; a sequence split at a chunk boundary; every validation error.
#include "tgk/kernels/gdn_chunk.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gdn_chunk/gdn_chunk_reference.h"
#include "kernels/gdn_chunk/gdn_fixture.h"
#include "kernels/gdn_chunk/gdn_test_util.h"
#include "kernels/gdn_cumsum/gdn_cumsum_reference.h"
#include "kernels/gdn_output/gdn_output_reference.h"
#include "kernels/gdn_solve/gdn_solve_reference.h"
#include "kernels/gdn_state/gdn_state_reference.h"
#include "kernels/gdn_wu/gdn_wu_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"
#include "tgk/convert.h"
#include "tgk/kernels/gdn_recurrent.h"
#include "tgk/kernels/kkt.h"

namespace tgk {
namespace {

const char* const kFixtures[] = {"gdn_chunk_case1.bin", "gdn_chunk_case2.bin",
                                 "gdn_chunk_case3.bin", "gdn_chunk_case4.bin",
                                 "gdn_chunk_case5.bin"};

test::GdnFixture Load(const char* name) {
  const auto f = test::ReadGdnFixture(std::string(TGK_GDN_TESTDATA) + "/" + name);
  EXPECT_GT(f.B, 0u) << name;
  return f;
}

std::string Describe(const test::GdnFixture& f) {
  return "B=" + std::to_string(f.B) + " T=" + std::to_string(f.T) + " Hg=" + std::to_string(f.Hg) +
         " H=" + std::to_string(f.H) + " K=" + std::to_string(f.K) + " V=" + std::to_string(f.V);
}

using test::Value;

struct Agreement {
  double max_abs_diff = 0.0, max_abs_ref = 0.0;
  size_t differ = 0, count = 0;
};

template <class T>
Agreement Compare(const std::vector<T>& got, const std::vector<T>& want) {
  Agreement a;
  a.count = want.size();
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const double d = std::abs(double(Value(got[i])) - double(Value(want[i])));
    if (!(d <= a.max_abs_diff)) a.max_abs_diff = d;  // NaN propagates
    a.max_abs_ref = std::max(a.max_abs_ref, std::abs(double(Value(want[i]))));
    a.differ += std::memcmp(&got[i], &want[i], sizeof(T)) != 0;
  }
  return a;
}

double UlpBf16(double x) { return std::ldexp(1.0, int(std::floor(std::log2(x))) - 7); }

// The f32-mode agreement of a stage whose only difference from the model is tgk's exp (within
// 0.94 f32 ulp; the model's is correctly rounded): a bf16 output moves by at most one rounding
// step of its largest magnitude, in a few elements.
template <class T>
void ExpectExpLevelAgreement(const char* what, const std::vector<T>& got,
                             const std::vector<T>& want) {
  const Agreement a = Compare(got, want);
  SCOPED_TRACE(what);
  EXPECT_LE(a.max_abs_diff, UlpBf16(a.max_abs_ref)) << a.differ << " of " << a.count << " differ";
  EXPECT_LE(double(a.differ), 0.01 * double(a.count));
}

TEST(GdnReferenceTest, Stage2CumsumIsTheModelsBitwise) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    const GdnReferenceShape s{f.B, f.T, f.Hg, f.H, f.K, f.V};
    std::vector<float> g_cumsum(f.g.size());
    GdnCumsumReference(GdnCumsumShape{s.B, s.T, s.H}, f.g.data(), g_cumsum.data());
    EXPECT_TRUE(test::BitsEqual(f.g_cumsum, g_cumsum));
  }
}

TEST(GdnReferenceTest, Stage3KktAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    const GdnReferenceShape s{f.B, f.T, f.Hg, f.H, f.K, f.V};
    const Agreement a =
        Compare(GdnKktReference(s, f.k.data(), f.beta.data(), f.g_cumsum.data()), f.A);
    EXPECT_LE(a.max_abs_diff, 2e-7 * std::max(1.0, a.max_abs_ref));
  }
}

// No exp in stage 4: the same binary32 operations in the same order give the model's bits.
TEST(GdnReferenceTest, Stage4SolveIsTheModelsBitwise) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<float> a_inv(f.A_inv.size());
    GdnSolveReference({f.B, f.T, f.H}, f.A.data(), a_inv.data());
    EXPECT_TRUE(test::BitsEqual(f.A_inv, a_inv));
  }
}

// u has no exp: the model's bits; w's rows carry exp(G).
TEST(GdnReferenceTest, Stage5WuAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<bf16> w(f.w.size()), u(f.u.size());
    GdnWuReference({f.B, f.T, f.Hg, f.H, f.K, f.V}, f.k.data(), f.v.data(), f.beta.data(),
                   f.g_cumsum.data(), f.A_inv.data(), w.data(), u.data());
    EXPECT_TRUE(test::BitsEqual(f.u, u));
    ExpectExpLevelAgreement("w", w, f.w);
  }
}

TEST(GdnReferenceTest, Stage6StateAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<bf16> h(f.h.size()), v_new(f.v_new.size());
    std::vector<float> final_state(f.final_state.size());
    GdnStateReference({f.B, f.T, f.Hg, f.H, f.K, f.V}, f.k.data(), f.w.data(), f.u.data(),
                      f.g_cumsum.data(), f.h0.data(), h.data(), v_new.data(), final_state.data());
    ExpectExpLevelAgreement("h", h, f.h);
    ExpectExpLevelAgreement("v_new", v_new, f.v_new);
    const Agreement a = Compare(final_state, f.final_state);
    EXPECT_LE(a.max_abs_diff, 1e-5 * a.max_abs_ref);
  }
}

TEST(GdnReferenceTest, Stage7OutputAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<bf16> o(f.o.size());
    GdnOutputReference({f.B, f.T, f.Hg, f.H, f.K, f.V}, f.q.data(), f.k.data(), f.v_new.data(),
                       f.h.data(), f.g_cumsum.data(), f.scale, o.data());
    ExpectExpLevelAgreement("o", o, f.o);
  }
}

// ---- the whole forward -------------------------------------------------------------------

struct Forward {
  GdnChunkShape s;
  std::vector<bf16> q, k, v;
  std::vector<float> g, beta, h0;
  float scale = 1.0f;
  bool l2norm = false;  // use_qk_l2norm
  size_t rows() const { return size_t{s.B} * s.T * s.H; }
  size_t state() const { return size_t{s.B} * s.H * s.V * s.K; }
};

struct ForwardResult {
  std::vector<bf16> o;
  std::vector<float> final_state;
  std::vector<uint8_t> scratch;
  template <class T>
  std::vector<T> Part(size_t offset, size_t count) const {
    std::vector<T> x(count);
    if (count > 0) std::memcpy(x.data(), scratch.data() + offset, count * sizeof(T));
    return x;
  }
};

Forward FromFixture(const test::GdnFixture& f, bool l2norm = false) {
  return {{f.B, f.T, f.Hg, f.H, f.K, f.V}, f.q, f.k, f.v, f.g, f.beta, f.h0, f.scale, l2norm};
}

// Unit-norm q and k rows (as after l2norm), |v| ~ 0.5, β in [0.1, 1], g in [-0.1, 0], |h0| ~ 0.1.
// With l2norm, q and k rows are N(0, 1) instead, for stage 1 to normalise.
Forward RandomForward(const GdnChunkShape& s, uint64_t seed, bool l2norm = false) {
  test::Random random(seed);
  Forward in{s, {}, {}, {}, {}, {}, {}, 1.0f / std::sqrt(float(s.K)), l2norm};
  const auto unit_rows = [&] {
    std::vector<bf16> x(size_t{s.B} * s.T * s.Hg * s.K);
    std::vector<float> row(s.K);
    for (size_t r = 0; r < x.size() / s.K; ++r) {
      double norm = 0.0;
      for (float& e : row) {
        e = random.Normal();
        norm += double(e) * e;
      }
      for (uint32_t c = 0; c < s.K; ++c)
        x[r * s.K + c] = BF16FromF32(float(row[c] / std::sqrt(norm)));
    }
    return x;
  };
  const size_t keys = size_t{s.B} * s.T * s.Hg * s.K;
  in.q = l2norm ? random.Vector<bf16>(keys, test::Normal(0.0f, 1.0f)) : unit_rows();
  in.k = l2norm ? random.Vector<bf16>(keys, test::Normal(0.0f, 1.0f)) : unit_rows();
  in.v = random.Vector<bf16>(in.rows() * s.V, test::Normal(0.0f, 0.5f));
  in.g = random.Vector<float>(in.rows(), test::Uniform(-0.1f, 0.0f));
  in.beta = random.Vector<float>(in.rows(), test::Uniform(0.1f, 1.0f));
  in.h0 = random.Vector<float>(in.state(), test::Normal(0.0f, 0.1f));
  return in;
}

ForwardResult RunForward(const Forward& in, QueueOptions options) {
  ForwardResult r{test::Poisoned<bf16>(in.rows() * in.s.V), test::Poisoned<float>(in.state()),
                  std::vector<uint8_t>(GdnChunkScratch(in.s, in.l2norm).bytes, 0xA5)};
  Queue queue(options);
  GatedDeltaRuleChunkForward(
      queue, in.s, ConstView::Of<bf16>(in.q.data(), in.q.size()),
      ConstView::Of<bf16>(in.k.data(), in.k.size()), ConstView::Of<bf16>(in.v.data(), in.v.size()),
      ConstView::Of<float>(in.g.data(), in.g.size()),
      ConstView::Of<float>(in.beta.data(), in.beta.size()), in.scale,
      ConstView::Of<float>(in.h0.data(), in.h0.size()), View::Of<bf16>(r.o.data(), r.o.size()),
      View::Of<float>(r.final_state.data(), r.final_state.size()),
      View::Of<uint8_t>(r.scratch.data(), r.scratch.size()), in.l2norm);
  queue.commit_and_wait();
  return r;
}

std::string Describe(const GdnChunkShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " Hg=" + std::to_string(s.Hg) +
         " H=" + std::to_string(s.H) + " K=" + std::to_string(s.K) + " V=" + std::to_string(s.V);
}

// The fixtures whose K the kkt stage takes (a multiple of 64).
const char* const kForwardFixtures[] = {"gdn_chunk_case1.bin", "gdn_chunk_case2.bin",
                                        "gdn_chunk_case5.bin", "gdn_chunk_l2norm_case6.bin"};

const GdnChunkShape kForwardShapes[] = {{1, 64, 1, 1, 64, 64},
                                        {2, 100, 1, 2, 64, 40},
                                        {1, 130, 2, 4, 128, 96},
                                        {1, 1, 1, 1, 64, 1},
                                        {1, 200, 1, 2, 192, 130}};

class GdnChunkTargets : public ::testing::TestWithParam<test::Config> {};

// Every intermediate and output equals the composed plain references, on every target and
// thread count, with and without stage 1.
TEST_P(GdnChunkTargets, MatchesTheReferencesBitwise) {
  for (const bool l2norm : {false, true}) {
    for (const GdnChunkShape& s : kForwardShapes) {
      SCOPED_TRACE(Describe(s) + (l2norm ? " use_qk_l2norm" : ""));
      const Forward in = RandomForward(s, 51, l2norm);
      const GdnReferenceResult want =
          GdnChunkReference({s.B, s.T, s.Hg, s.H, s.K, s.V}, in.q.data(), in.k.data(), in.v.data(),
                            in.g.data(), in.beta.data(), in.scale, in.h0.data(), l2norm);
      const GdnChunkScratchLayout l = GdnChunkScratch(s, l2norm);
      const ForwardResult got = RunForward(in, GetParam().options());
      EXPECT_TRUE(test::BitsEqual(want.q_n, got.Part<bf16>(l.q_n, want.q_n.size())));
      EXPECT_TRUE(test::BitsEqual(want.k_n, got.Part<bf16>(l.k_n, want.k_n.size())));
      EXPECT_TRUE(
          test::BitsEqual(want.g_cumsum, got.Part<float>(l.g_cumsum, want.g_cumsum.size())));
      EXPECT_TRUE(test::BitsEqual(want.A, got.Part<float>(l.A, want.A.size())));
      EXPECT_TRUE(test::BitsEqual(want.A_inv, got.Part<float>(l.A_inv, want.A_inv.size())));
      EXPECT_TRUE(test::BitsEqual(want.w, got.Part<bf16>(l.w, want.w.size())));
      EXPECT_TRUE(test::BitsEqual(want.u, got.Part<bf16>(l.u, want.u.size())));
      EXPECT_TRUE(test::BitsEqual(want.h, got.Part<bf16>(l.h, want.h.size())));
      EXPECT_TRUE(test::BitsEqual(want.v_new, got.Part<bf16>(l.v_new, want.v_new.size())));
      EXPECT_TRUE(test::BitsEqual(want.o, got.o));
      EXPECT_TRUE(test::BitsEqual(want.final_state, got.final_state));
    }
  }
}

double AsDouble(double x) { return x; }
double AsDouble(float x) { return x; }
double AsDouble(bf16 x) { return F32FromBF16(x); }

struct SpecAgreement {
  double o_ulp, state_rel;  // max|Δo| in ulp_bf16(max|o|), max|ΔS| / max|S|
};

// Spec section 11's bars for o and final_state against a reference: o max ≤ 4 ulp_bf16(max|o|)
// and rms_rel ≤ 1e−2; final_state max ≤ 1.5e−2·max|S| and rms_rel ≤ 1e−2.
template <class O, class S>
SpecAgreement ExpectSpecBars(const ForwardResult& r, const std::vector<O>& want_o,
                             const std::vector<S>& want_state) {
  const auto measure = [](const auto& got, const auto& want, double& diff, double& max,
                          double& rms_rel) {
    EXPECT_EQ(got.size(), want.size());
    double sq = 0.0, ref_sq = 0.0;
    diff = max = 0.0;
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      const double x = AsDouble(got[i]), y = AsDouble(want[i]);
      if (!(std::abs(x - y) <= diff)) diff = std::abs(x - y);  // NaN propagates
      max = std::max(max, std::abs(y));
      sq += (x - y) * (x - y);
      ref_sq += y * y;
    }
    rms_rel = std::sqrt(sq / ref_sq);
  };
  double o_diff, o_max, o_rms, s_diff, s_max, s_rms;
  measure(r.o, want_o, o_diff, o_max, o_rms);
  measure(r.final_state, want_state, s_diff, s_max, s_rms);
  EXPECT_LE(o_diff, 4 * UlpBf16(o_max));
  EXPECT_LE(o_rms, 1e-2);
  EXPECT_LE(s_diff, 1.5e-2 * s_max);
  EXPECT_LE(s_rms, 1e-2);
  return {o_diff / UlpBf16(o_max), s_diff / s_max};
}

// Against the model's fp64 mode (the spec's rounding points in float64). The l2norm fixture's
// q and k rows have norm 2: the model normalises them first.
TEST(GdnChunkForwardTest, MatchesTheFp64ModelAtTheSpecTolerance) {
  for (const char* name : kForwardFixtures) {
    const auto f = Load(name);
    const bool l2norm = std::string(name).find("l2norm") != std::string::npos;
    SCOPED_TRACE(Describe(f) + (l2norm ? " use_qk_l2norm" : ""));
    const ForwardResult r = RunForward(FromFixture(f, l2norm), QueueOptions{.threads = 2});
    const SpecAgreement a = ExpectSpecBars(r, f.o_f64, f.final_state_f64);
    // The f32 result sits much closer than the bars: record it.
    RecordProperty(std::string(name) + "_o_ulp", std::to_string(a.o_ulp));
    RecordProperty(std::string(name) + "_state_rel", std::to_string(a.state_rel));
  }
}

// The recurrent path (GatedDeltaRuleRecurrent, gated_delta_net_f32's order) on the same q_n,
// k_n, with docs/spec/gdn_recurrent.md's mapping: q and k expanded to H heads as the chunked
// path reads them (repeat_interleave(H / Hg), so Hk = H), widened to f32 with q scaled in the
// kernel (f32(f32(q_n)·scale)), v widened to f32, g_rec = −g (a decay rate). Within the bars
// of spec section 11 for chunked vs recurrent, which are the fp64 test's.
TEST(GdnChunkForwardTest, MatchesTheRecurrentPathAtTheSpecTolerance) {
  for (const bool l2norm : {false, true}) {
    const Forward in = RandomForward({2, 150, 2, 4, 64, 48}, 31, l2norm);
    const GdnChunkShape& s = in.s;
    SCOPED_TRACE(Describe(s) + (l2norm ? " use_qk_l2norm" : ""));
    const ForwardResult chunk = RunForward(in, QueueOptions{.threads = 2});
    const size_t keys = size_t{s.B} * s.T * s.Hg * s.K;
    const GdnChunkScratchLayout l = GdnChunkScratch(s, l2norm);
    const uint32_t ratio = s.H / s.Hg;
    const auto expand = [&](const std::vector<bf16>& x) {
      std::vector<float> y(in.rows() * s.K);
      for (size_t row = 0; row < in.rows();
           ++row) {  // row (b·T + t)·H + h reads key head h / ratio
        const size_t key_row = row / s.H * s.Hg + row % s.H / ratio;
        for (uint32_t c = 0; c < s.K; ++c) y[row * s.K + c] = F32FromBF16(x[key_row * s.K + c]);
      }
      return y;
    };
    const std::vector<float> q = expand(l2norm ? chunk.Part<bf16>(l.q_n, keys) : in.q);
    const std::vector<float> k = expand(l2norm ? chunk.Part<bf16>(l.k_n, keys) : in.k);
    std::vector<float> v(in.v.size()), g(in.g.size());
    std::transform(in.v.begin(), in.v.end(), v.begin(), [](bf16 x) { return F32FromBF16(x); });
    std::transform(in.g.begin(), in.g.end(), g.begin(), [](float x) { return -x; });
    std::vector<float> state = test::Poisoned<float>(in.state());
    std::vector<float> o = test::Poisoned<float>(v.size());
    Queue queue(QueueOptions{.threads = 2});
    GatedDeltaRuleRecurrent(
        queue, GdnRecurrentShape{s.B, s.T, s.H, s.H, s.K, s.V},
        ConstView::Of<float>(q.data(), q.size()), ConstView::Of<float>(k.data(), k.size()),
        ConstView::Of<float>(v.data(), v.size()), ConstView::Of<float>(g.data(), g.size()),
        ConstView::Of<float>(in.beta.data(), in.beta.size()), in.scale,
        ConstView::Of<float>(in.h0.data(), in.h0.size()), View::Of<float>(o.data(), o.size()),
        View::Of<float>(state.data(), state.size()));
    queue.commit_and_wait();
    const SpecAgreement a = ExpectSpecBars(chunk, o, state);
    RecordProperty(std::string("recurrent") + (l2norm ? "_l2norm" : "") + "_o_ulp",
                   std::to_string(a.o_ulp));
    RecordProperty(std::string("recurrent") + (l2norm ? "_l2norm" : "") + "_state_rel",
                   std::to_string(a.state_rel));
  }
}

// The kkt stage inside the forward is GatedDeltaNetKkt on the forward's own cumulative gate.
TEST(GdnChunkForwardTest, TheKktStageIsTheStandaloneKkt) {
  const Forward in = RandomForward({1, 150, 2, 4, 128, 64}, 6);
  const ForwardResult r = RunForward(in, QueueOptions{.threads = 3});
  const GdnChunkScratchLayout l = GdnChunkScratch(in.s);
  const auto g_cumsum = r.Part<float>(l.g_cumsum, in.rows());
  std::vector<float> a = test::Poisoned<float>(in.rows() * 64);
  Queue queue(QueueOptions{.threads = 2});
  GatedDeltaNetKkt(queue, KktShape{in.s.B, in.s.T, in.s.Hg, in.s.H, in.s.K},
                   ConstView::Of<bf16>(in.k.data(), in.k.size()),
                   ConstView::Of<float>(in.beta.data(), in.beta.size()),
                   ConstView::Of<float>(g_cumsum.data(), g_cumsum.size()),
                   View::Of<float>(a.data(), a.size()));
  queue.commit_and_wait();
  EXPECT_TRUE(test::BitsEqual(a, r.Part<float>(l.A, a.size())));
}

// Two calls, T = 128 then 64, the first call's final_state as the second's initial state,
// give the bits of one call over T = 192 (spec section 7).
TEST(GdnChunkForwardTest, SplittingAtAChunkBoundaryGivesTheSameBits) {
  const Forward whole = RandomForward({1, 192, 1, 2, 64, 48}, 12);
  const ForwardResult want = RunForward(whole, QueueOptions{.threads = 2});
  const auto part = [&](uint32_t t0, uint32_t t, const std::vector<float>& h0) {
    Forward f = whole;
    f.s.T = t;
    const auto slice = [&](const auto& x, size_t per_step) {
      return std::decay_t<decltype(x)>(x.begin() + t0 * per_step, x.begin() + (t0 + t) * per_step);
    };
    f.q = slice(whole.q, size_t{whole.s.Hg} * whole.s.K);
    f.k = slice(whole.k, size_t{whole.s.Hg} * whole.s.K);
    f.v = slice(whole.v, size_t{whole.s.H} * whole.s.V);
    f.g = slice(whole.g, whole.s.H);
    f.beta = slice(whole.beta, whole.s.H);
    f.h0 = h0;
    return RunForward(f, QueueOptions{.threads = 3});
  };
  const ForwardResult first = part(0, 128, whole.h0);
  const ForwardResult second = part(128, 64, first.final_state);
  std::vector<bf16> o = first.o;
  o.insert(o.end(), second.o.begin(), second.o.end());
  EXPECT_TRUE(test::BitsEqual(want.o, o));
  EXPECT_TRUE(test::BitsEqual(want.final_state, second.final_state));
}

TEST(GdnChunkForwardTest, ValidationErrors) {
  const GdnChunkShape ok{1, 64, 2, 4, 64, 32};
  const Forward in = RandomForward(ok, 1);
  const size_t kc = in.q.size(), vc = in.rows() * ok.V, rc = in.rows(), sc = in.state();
  const size_t scratch_bytes = GdnChunkScratch(ok).bytes;
  const DType b = DType::kBF16, f = DType::kF32, u8 = DType::kU8;
  // q, k, v, g, beta, h0, o, final_state, scratch
  const std::array<size_t, 9> c0 = {kc, kc, vc, rc, rc, sc, vc, sc, scratch_bytes};
  const std::array<DType, 9> d0 = {b, b, b, f, f, f, b, f, u8};
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
    GdnChunkShape shape;
    float scale;
    bool l2norm;
    std::array<size_t, 9> counts;
    std::array<DType, 9> dtypes;
    std::string message;
  };
  const std::string p = "chunk_gated_delta_rule_fwd";
  const float inf = std::numeric_limits<float>::infinity();
  const Case cases[] = {
      {{0, 64, 2, 4, 64, 32}, 1.0f, false, c0, d0, p + ": all dims must be > 0"},
      {{1, 64, 2, 4, 64, 0}, 1.0f, false, c0, d0, p + ": all dims must be > 0"},
      {{1, 64, 2, 4, 64, 32, 0}, 1.0f, false, c0, d0, p + ": all dims must be > 0"},
      {{1, 64, 3, 4, 64, 32}, 1.0f, false, c0, d0, p + ": H (4) must be a multiple of Hg (3)"},
      {{1, 64, 2, 4, 96, 32},
       1.0f,
       false,
       c0,
       d0,
       p + ": K (96) must be a multiple of 64 and at most 512 (the kkt stage's limit; tgk lifts "
           "the Metal pipeline's K = 128)"},
      {{1, 64, 2, 4, 576, 32},
       1.0f,
       false,
       c0,
       d0,
       p + ": K (576) must be a multiple of 64 and at most 512 (the kkt stage's limit; tgk lifts "
           "the Metal pipeline's K = 128)"},
      {{1, 64, 2, 4, 64, 16385},
       1.0f,
       false,
       c0,
       d0,
       p + ": V (16385) exceeds chunk-pipeline cap (MAX_V = 16384)"},
      {{1, 64, 2, 4, 64, 32, 32}, 1.0f, false, c0, d0, p + " (iter 4): bt must be 64 (got 32)"},
      {ok, -inf, false, c0, d0, p + ": scale must be finite (got -inf)"},
      {ok, std::numeric_limits<float>::quiet_NaN(), false, c0, d0,
       p + ": scale must be finite (got NaN)"},
      {ok, 1.0f, false, counts(0, kc + 1), d0, p + ": q element count 8193 != expected 8192"},
      {ok, 1.0f, false, c0, dtypes(0, f), p + ": q must be bf16 (got f32)"},
      {ok, 1.0f, false, counts(1, 0), d0, p + ": k element count 0 != expected 8192"},
      {ok, 1.0f, false, c0, dtypes(2, f), p + ": v must be bf16 (got f32)"},
      {ok, 1.0f, false, counts(6, vc - 1), d0, p + ": o element count 8191 != expected 8192"},
      {ok, 1.0f, false, c0, dtypes(6, f), p + ": o must be bf16 (got f32)"},
      {ok, 1.0f, false, counts(3, rc + 1), d0,
       p + ": g_log_decay element count 257 != expected 256"},
      {ok, 1.0f, false, c0, dtypes(4, b), p + ": beta must be f32 (got bf16)"},
      {ok, 1.0f, false, counts(5, 1), d0, p + ": h0 element count 1 != expected 8192"},
      {ok, 1.0f, false, c0, dtypes(7, b), p + ": final_state must be f32 (got bf16)"},
      {ok, 1.0f, false, counts(8, scratch_bytes - 1), d0,
       p + ": scratch must be u8[>= " + std::to_string(scratch_bytes) + "] (got " +
           std::to_string(scratch_bytes - 1) + " u8)"},
      {ok, 1.0f, true, c0, d0,
       p + ": scratch must be u8[>= " + std::to_string(GdnChunkScratch(ok, true).bytes) +
           "] (got " + std::to_string(scratch_bytes) + " u8)"},
      {ok, 1.0f, false, c0, dtypes(8, f),
       p + ": scratch must be u8[>= " + std::to_string(scratch_bytes) + "] (got " +
           std::to_string(scratch_bytes) + " f32)"},
      {{0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 64, 32},
       1.0f,
       false,
       c0,
       d0,
       p + ": element count of q overflows 64 bits"},
  };
  std::vector<uint8_t> big(4 * scratch_bytes + 1024);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> out(sc + 64, -7.0f);
    std::vector<uint8_t> scratch(4 * scratch_bytes, 0x5A);
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaRuleChunkForward(queue, c.shape,
                                     ConstView(in.q.data(), c.counts[0], c.dtypes[0]),
                                     ConstView(in.k.data(), c.counts[1], c.dtypes[1]),
                                     ConstView(big.data(), c.counts[2], c.dtypes[2]),
                                     ConstView(big.data(), c.counts[3], c.dtypes[3]),
                                     ConstView(big.data(), c.counts[4], c.dtypes[4]), c.scale,
                                     ConstView(big.data(), c.counts[5], c.dtypes[5]),
                                     View(out.data(), c.counts[6], c.dtypes[6]),
                                     View(out.data(), c.counts[7], c.dtypes[7]),
                                     View(scratch.data(), c.counts[8], c.dtypes[8]), c.l2norm);
        },
        c.message);
    queue.commit_and_wait();
    for (float x : out) ASSERT_EQ(x, -7.0f);
    for (uint8_t x : scratch) ASSERT_EQ(x, 0x5A);
  }
}

// ---- variable-length batches ---------------------------------------------------------------

template <class T>
std::vector<T> Rows(const std::vector<T>& x, size_t per_row, uint64_t from, uint64_t to) {
  return std::vector<T>(x.begin() + from * per_row, x.begin() + to * per_row);
}

// Each sequence of a cu_seqlens batch gets the bits of a call of its own, on every target and
// thread count (stage 1 included: it runs on each sequence's rows).
TEST_P(GdnChunkTargets, VarlenSequencesHaveTheBitsOfTheirOwnCalls) {
  const std::vector<uint64_t> cu = {0, 100, 164, 170, 300};
  const size_t n = cu.size() - 1;
  Forward all = RandomForward({1, 300, 1, 2, 64, 48}, 77, /*l2norm=*/true);
  const size_t state = size_t{all.s.H} * all.s.V * all.s.K;
  test::Random random(5);
  all.h0 = random.Vector<float>(n * state, test::Normal(0.0f, 0.1f));
  const size_t keys = size_t{all.s.Hg} * all.s.K, values = size_t{all.s.H} * all.s.V;
  std::vector<bf16> want_o;
  std::vector<float> want_state;
  for (size_t i = 0; i < n; ++i) {
    Forward one = all;
    one.s.T = uint32_t(cu[i + 1] - cu[i]);
    one.q = Rows(all.q, keys, cu[i], cu[i + 1]);
    one.k = Rows(all.k, keys, cu[i], cu[i + 1]);
    one.v = Rows(all.v, values, cu[i], cu[i + 1]);
    one.g = Rows(all.g, all.s.H, cu[i], cu[i + 1]);
    one.beta = Rows(all.beta, all.s.H, cu[i], cu[i + 1]);
    one.h0 = Rows(all.h0, state, i, i + 1);
    const ForwardResult r = RunForward(one, QueueOptions{.threads = 1});
    want_o.insert(want_o.end(), r.o.begin(), r.o.end());
    want_state.insert(want_state.end(), r.final_state.begin(), r.final_state.end());
  }
  ForwardResult r{test::Poisoned<bf16>(all.rows() * all.s.V), test::Poisoned<float>(n * state),
                  std::vector<uint8_t>(GdnChunkVarlenScratchBytes(all.s, cu, true), 0xA5)};
  Queue queue(GetParam().options());
  GatedDeltaRuleChunkForwardVarlen(
      queue, all.s, cu, ConstView::Of<bf16>(all.q.data(), all.q.size()),
      ConstView::Of<bf16>(all.k.data(), all.k.size()),
      ConstView::Of<bf16>(all.v.data(), all.v.size()),
      ConstView::Of<float>(all.g.data(), all.g.size()),
      ConstView::Of<float>(all.beta.data(), all.beta.size()), all.scale,
      ConstView::Of<float>(all.h0.data(), all.h0.size()), View::Of<bf16>(r.o.data(), r.o.size()),
      View::Of<float>(r.final_state.data(), r.final_state.size()),
      View::Of<uint8_t>(r.scratch.data(), r.scratch.size()), /*use_qk_l2norm=*/true);
  queue.commit_and_wait();
  EXPECT_TRUE(test::BitsEqual(want_o, r.o));
  EXPECT_TRUE(test::BitsEqual(want_state, r.final_state));
}

TEST(GdnChunkVarlenTest, ValidationErrors) {
  const Forward in = RandomForward({1, 100, 1, 2, 64, 16}, 3);
  const size_t state = size_t{in.s.H} * in.s.V * in.s.K;
  std::vector<float> h0(2 * state);
  std::vector<bf16> o(in.rows() * in.s.V);
  std::vector<float> final_state(2 * state, -7.0f);
  std::vector<uint8_t> scratch(4 << 20);
  struct Case {
    GdnChunkShape shape;
    std::vector<uint64_t> cu;
    size_t states;
    std::string message;
  };
  const std::string p = "chunk_gated_delta_rule_fwd";
  const Case cases[] = {
      {{2, 100, 1, 2, 64, 16},
       {0, 60, 100},
       2,
       p + ": B (2) must be 1 with cu_seqlens (the sequences lie along T)"},
      {in.s,
       {0},
       2,
       p + ": cu_seqlens must run from 0 to T (100) in at least 2 offsets (got 1 offsets)"},
      {in.s,
       {1, 60, 100},
       2,
       p + ": cu_seqlens must run from 0 to T (100) in at least 2 offsets (got 3 offsets)"},
      {in.s,
       {0, 60, 99},
       2,
       p + ": cu_seqlens must run from 0 to T (100) in at least 2 offsets (got 3 offsets)"},
      {in.s,
       {0, 60, 60, 100},
       3,
       p + ": cu_seqlens must be strictly increasing (offset 2 is 60 after 60)"},
      {in.s, {0, 60, 100}, 1, p + ": h0 element count 2048 != expected 4096"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaRuleChunkForwardVarlen(
              queue, c.shape, c.cu, ConstView::Of<bf16>(in.q.data(), in.q.size()),
              ConstView::Of<bf16>(in.k.data(), in.k.size()),
              ConstView::Of<bf16>(in.v.data(), in.v.size()),
              ConstView::Of<float>(in.g.data(), in.g.size()),
              ConstView::Of<float>(in.beta.data(), in.beta.size()), in.scale,
              ConstView::Of<float>(h0.data(), c.states * state), View::Of<bf16>(o.data(), o.size()),
              View::Of<float>(final_state.data(), c.states * state),
              View::Of<uint8_t>(scratch.data(), scratch.size()));
        },
        c.message);
    queue.commit_and_wait();
    for (float x : final_state) ASSERT_EQ(x, -7.0f);
  }
}

TEST(GdnChunkForwardTest, RaceCheckerIsQuiet) {
  const Forward in = RandomForward({1, 100, 1, 2, 64, 72}, 9);
  const ForwardResult a =
      RunForward(in, QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true});
  EXPECT_TRUE(test::BitsEqual(RunForward(in, QueueOptions{.threads = 1}).o, a.o));
}

TGK_INSTANTIATE_CONFIGS(GdnChunkTargets);

}  // namespace
}  // namespace tgk
