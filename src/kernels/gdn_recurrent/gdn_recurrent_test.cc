// The recurrent gated delta net: the reference vs the scalar instantiation vs every target and
// thread count (bitwise, outputs poisoned), the reference vs the spec's numpy model and an
// fp64 recurrence, decode vs serial, and every validation error.
#include "tgk/kernels/gdn_recurrent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/gdn_recurrent/gdn_recurrent_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"
#include "tgk/error.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {
namespace {

using Kernel = GdnRecurrentKernel;

struct Inputs {
  GdnRecurrentShape shape;
  std::vector<float> q, k, v, g, beta, h0;
};

struct Outputs {
  std::vector<float> y, state;
};

size_t QkCount(const GdnRecurrentShape& s) { return size_t{s.Sn} * s.T * s.Hk * s.Dk; }
size_t VCount(const GdnRecurrentShape& s) { return size_t{s.Sn} * s.T * s.Hv * s.Dv; }
size_t GateCount(const GdnRecurrentShape& s) { return size_t{s.Sn} * s.T * s.Hv; }
size_t StateCount(const GdnRecurrentShape& s) { return size_t{s.Sn} * s.Hv * s.Dv * s.Dk; }

// Unit-norm q (times Dk^-1/2) and k, v ~ N(0, 1), g in [0.05, 0.5] (a decay rate), β in
// [0, 1), h0 ~ N(0, 0.25): mlx-native's own test distributions.
Inputs RandomInputs(const GdnRecurrentShape& s, uint64_t seed) {
  Inputs in{s, {}, {}, {}, {}, {}, {}};
  test::Random random(seed);
  const auto unit_rows = [&](std::vector<float>& x, float scale) {
    x.resize(QkCount(s));
    for (size_t r = 0; r < x.size(); r += s.Dk) {
      double norm = 0.0;
      for (uint32_t c = 0; c < s.Dk; ++c) {
        x[r + c] = random.Normal();
        norm += double(x[r + c]) * x[r + c];
      }
      for (uint32_t c = 0; c < s.Dk; ++c) x[r + c] = float(x[r + c] / std::sqrt(norm) * scale);
    }
  };
  unit_rows(in.q, 1.0f / std::sqrt(float(s.Dk)));
  unit_rows(in.k, 1.0f);
  in.v = random.Vector<float>(VCount(s), test::Normal());
  in.g = random.Vector<float>(GateCount(s), test::Uniform(0.05f, 0.5f));
  in.beta = random.Vector<float>(GateCount(s), test::Uniform(0.0f, 1.0f));
  in.h0 = random.Vector<float>(StateCount(s), test::Normal(0.0f, 0.5f));
  return in;
}

std::vector<float> Poisoned(size_t n) { return test::Poisoned<float>(n); }

// Runs the kernel through the entry point `kernel` selects; scale != 1 goes through
// GatedDeltaRuleRecurrent.
Outputs RunKernel(const Inputs& in, Kernel kernel, float scale, QueueOptions options) {
  const GdnRecurrentShape& s = in.shape;
  Outputs out{Poisoned(VCount(s)), Poisoned(StateCount(s))};
  Queue queue(options);
  const auto c = [](const std::vector<float>& x) {
    return ConstView::Of<float>(x.data(), x.size());
  };
  const auto m = [](std::vector<float>& x) { return View::Of<float>(x.data(), x.size()); };
  if (scale != 1.0f) {
    GatedDeltaRuleRecurrent(queue, s, c(in.q), c(in.k), c(in.v), c(in.g), c(in.beta), scale,
                            c(in.h0), m(out.y), m(out.state), kernel);
  } else if (kernel == Kernel::kDecode) {
    GatedDeltaNetDecode(queue, s, c(in.q), c(in.k), c(in.v), c(in.g), c(in.beta), c(in.h0),
                        m(out.y), m(out.state));
  } else {
    GatedDeltaNet(queue, s, c(in.q), c(in.k), c(in.v), c(in.g), c(in.beta), c(in.h0), m(out.y),
                  m(out.state));
  }
  queue.commit_and_wait();
  return out;
}

Outputs Reference(const Inputs& in, Kernel kernel, float scale) {
  Outputs out{Poisoned(VCount(in.shape)), Poisoned(StateCount(in.shape))};
  GdnRecurrentReference(kernel, in.shape, in.q.data(), in.k.data(), in.v.data(), in.g.data(),
                        in.beta.data(), scale, in.h0.data(), out.y.data(), out.state.data());
  return out;
}

void ExpectSameBits(const Outputs& got, const Outputs& want) {
  EXPECT_TRUE(test::BitsEqual(want.y, got.y)) << "output";
  EXPECT_TRUE(test::BitsEqual(want.state, got.state)) << "state";
}

std::string Describe(const GdnRecurrentShape& s) {
  return "Sn=" + std::to_string(s.Sn) + " T=" + std::to_string(s.T) +
         " Hk=" + std::to_string(s.Hk) + " Hv=" + std::to_string(s.Hv) +
         " Dk=" + std::to_string(s.Dk) + " Dv=" + std::to_string(s.Dv);
}

// Full and partial lane packs, partial row groups (Dv > 64 and not a multiple of 64),
// column blocks narrower than a pack, GQA, several tokens and sequences.
const GdnRecurrentShape kShapes[] = {
    {1, 1, 1, 1, 32, 16},    // one pack
    {2, 3, 2, 4, 64, 40},    // GQA 2, a partial pack
    {1, 2, 1, 2, 128, 128},  // the decode shape, two tokens
    {3, 1, 4, 4, 96, 70},    // NSG = 3, rows past one group
    {1, 4, 3, 6, 37, 5},     // odd Dk (serial only), Dv below a pack
    {1, 2, 1, 1, 160, 136},  // Dk past Metal's limit, partial last row group
    {2, 5, 1, 3, 7, 1},      // tiny
};

class GdnRecurrentParity : public ::testing::TestWithParam<test::Config> {};

TEST_P(GdnRecurrentParity, MatchesTheReferenceBitwise) {
  for (const GdnRecurrentShape& shape : kShapes) {
    for (Kernel kernel : {Kernel::kSerial, Kernel::kDecode}) {
      if (kernel == Kernel::kDecode && shape.Dk % 32 != 0) continue;
      for (float scale : {1.0f, 0.37f}) {
        SCOPED_TRACE(Describe(shape) + (kernel == Kernel::kDecode ? " decode" : " serial") +
                     " scale " + std::to_string(scale));
        const Inputs in = RandomInputs(shape, 42);
        ExpectSameBits(RunKernel(in, kernel, scale, GetParam().options()),
                       Reference(in, kernel, scale));
      }
    }
  }
}

// q pre-scaled by the caller through GatedDeltaNet and q scaled in GatedDeltaRuleRecurrent
// give the same bits (spec section 8: f32(q·scale) outside is what the kernel computes).
TEST(GdnRecurrentTest, ScaleInsideEqualsCallerPreScaling) {
  Inputs in = RandomInputs(kShapes[1], 3);
  const float scale = 0.0883883f;
  const Outputs inside = RunKernel(in, Kernel::kSerial, scale, {.threads = 2});
  for (auto& x : in.q) x = x * scale;
  ExpectSameBits(RunKernel(in, Kernel::kSerial, 1.0f, {.threads = 2}), inside);
}

// state_in and state_out may be one buffer.
TEST_P(GdnRecurrentParity, StateInPlaceGivesTheSameBits) {
  for (Kernel kernel : {Kernel::kSerial, Kernel::kDecode}) {
    const Inputs in = RandomInputs(kShapes[2], 5);
    const Outputs want = Reference(in, kernel, 1.0f);
    {
      std::vector<float> state = in.h0, y = Poisoned(VCount(in.shape));
      Queue queue(GetParam().options());
      const auto c = [](const std::vector<float>& x) {
        return ConstView::Of<float>(x.data(), x.size());
      };
      (kernel == Kernel::kDecode ? GatedDeltaNetDecode : GatedDeltaNet)(
          queue, in.shape, c(in.q), c(in.k), c(in.v), c(in.g), c(in.beta), c(state),
          View::Of<float>(y.data(), y.size()), View::Of<float>(state.data(), state.size()));
      queue.commit_and_wait();
      ExpectSameBits({y, state}, want);
    }
  }
}

// Running T tokens at once equals running them one call at a time with the state carried.
TEST(GdnRecurrentTest, TokenByTokenCallsGiveTheSameBits) {
  const Inputs in = RandomInputs({2, 4, 1, 2, 64, 24}, 8);
  const Outputs whole = RunKernel(in, Kernel::kSerial, 1.0f, {.threads = 2});
  const GdnRecurrentShape& s = in.shape;
  std::vector<float> state = in.h0;
  for (uint32_t t = 0; t < s.T; ++t) {
    Inputs step = in;
    step.shape.T = 1;
    const auto pick = [&](const std::vector<float>& x, size_t per_token) {
      std::vector<float> out;
      for (uint32_t seq = 0; seq < s.Sn; ++seq) {
        const auto first = x.begin() + (size_t{seq} * s.T + t) * per_token;
        out.insert(out.end(), first, first + per_token);
      }
      return out;
    };
    step.q = pick(in.q, size_t{s.Hk} * s.Dk);
    step.k = pick(in.k, size_t{s.Hk} * s.Dk);
    step.v = pick(in.v, size_t{s.Hv} * s.Dv);
    step.g = pick(in.g, s.Hv);
    step.beta = pick(in.beta, s.Hv);
    step.h0 = state;
    const Outputs out = RunKernel(step, Kernel::kSerial, 1.0f, {.threads = 2});
    state = out.state;
    for (uint32_t seq = 0; seq < s.Sn; ++seq) {
      for (uint32_t i = 0; i < s.Hv * s.Dv; ++i) {
        const float want = whole.y[(size_t{seq} * s.T + t) * s.Hv * s.Dv + i];
        ASSERT_EQ(std::memcmp(&out.y[size_t{seq} * s.Hv * s.Dv + i], &want, sizeof want), 0);
      }
    }
  }
  EXPECT_TRUE(test::BitsEqual(whole.state, state));
}

// ---- variable-length sequences -------------------------------------------------------------

// Sequences of 1, 7, 3 and 20 tokens packed along T = 31, each with its own state.
struct Varlen {
  Inputs in;  // shape.Sn = 4 sequences, shape.T = 31 tokens in all; q etc. as [1, T, ...]
  std::vector<int32_t> cu_seqlens;
};

Varlen RandomVarlen(uint32_t dk, uint32_t dv, uint64_t seed) {
  const std::vector<int32_t> cu{0, 1, 8, 11, 31};
  // Draw as one sequence of 31 tokens, then give it the state of 4 sequences.
  Inputs in = RandomInputs({1, 31, 2, 4, dk, dv}, seed);
  const Inputs states = RandomInputs({4, 1, 2, 4, dk, dv}, seed + 1);
  in.h0 = states.h0;
  in.shape.Sn = 4;
  return {in, cu};
}

Outputs RunVarlen(const Varlen& x, Kernel kernel, QueueOptions options) {
  const Inputs& in = x.in;
  Outputs out{Poisoned(in.v.size()), Poisoned(in.h0.size())};
  Queue queue(options);
  const auto c = [](const std::vector<float>& v) {
    return ConstView::Of<float>(v.data(), v.size());
  };
  GatedDeltaRuleRecurrentVarlen(queue, in.shape,
                                ConstView::Of<int32_t>(x.cu_seqlens.data(), x.cu_seqlens.size()),
                                c(in.q), c(in.k), c(in.v), c(in.g), c(in.beta), 0.5f, c(in.h0),
                                View::Of<float>(out.y.data(), out.y.size()),
                                View::Of<float>(out.state.data(), out.state.size()), kernel);
  queue.commit_and_wait();
  return out;
}

TEST_P(GdnRecurrentParity, VarlenMatchesTheReferenceBitwise) {
  for (Kernel kernel : {Kernel::kSerial, Kernel::kDecode}) {
    const Varlen x = RandomVarlen(64, 40, 12);
    Outputs want{Poisoned(x.in.v.size()), Poisoned(x.in.h0.size())};
    GdnRecurrentReference(kernel, x.in.shape, x.in.q.data(), x.in.k.data(), x.in.v.data(),
                          x.in.g.data(), x.in.beta.data(), 0.5f, x.in.h0.data(), want.y.data(),
                          want.state.data(), x.cu_seqlens.data());
    ExpectSameBits(RunVarlen(x, kernel, GetParam().options()), want);
  }
}

// Each packed sequence gives the bits of a call on it alone.
TEST(GdnRecurrentTest, VarlenEqualsOneCallPerSequence) {
  const Varlen x = RandomVarlen(48, 24, 13);
  const Outputs packed = RunVarlen(x, Kernel::kSerial, {.threads = 2});
  const GdnRecurrentShape& s = x.in.shape;
  for (uint32_t n = 0; n < s.Sn; ++n) {
    SCOPED_TRACE("sequence " + std::to_string(n));
    const size_t t0 = size_t(x.cu_seqlens[n]), t1 = size_t(x.cu_seqlens[n + 1]);
    Inputs one{{1, uint32_t(t1 - t0), s.Hk, s.Hv, s.Dk, s.Dv}, {}, {}, {}, {}, {}, {}};
    const auto slice = [&](const std::vector<float>& v, size_t per_token) {
      return std::vector<float>(v.begin() + t0 * per_token, v.begin() + t1 * per_token);
    };
    one.q = slice(x.in.q, size_t{s.Hk} * s.Dk);
    one.k = slice(x.in.k, size_t{s.Hk} * s.Dk);
    one.v = slice(x.in.v, size_t{s.Hv} * s.Dv);
    one.g = slice(x.in.g, s.Hv);
    one.beta = slice(x.in.beta, s.Hv);
    const size_t state = size_t{s.Hv} * s.Dv * s.Dk;
    one.h0.assign(x.in.h0.begin() + n * state, x.in.h0.begin() + (n + 1) * state);
    const Outputs alone = RunKernel(one, Kernel::kSerial, 0.5f, {.threads = 2});
    EXPECT_TRUE(test::BitsEqual(slice(packed.y, size_t{s.Hv} * s.Dv), alone.y));
    EXPECT_TRUE(test::BitsEqual(std::vector<float>(packed.state.begin() + n * state,
                                                   packed.state.begin() + (n + 1) * state),
                                alone.state));
  }
}

TEST(GdnRecurrentTest, VarlenValidationErrors) {
  const Varlen x = RandomVarlen(32, 8, 14);
  const auto c = [](const std::vector<float>& v) {
    return ConstView::Of<float>(v.data(), v.size());
  };
  struct Case {
    std::vector<int32_t> cu;
    DType dtype;
    bool null;
    std::string message;
  };
  const Case cases[] = {
      {{0, 1, 8, 31},
       DType::kI32,
       false,
       "gated_delta_rule_recurrent: cu_seqlens element count 4 != expected 5"},
      {{0, 1, 8, 11, 31},
       DType::kU32,
       false,
       "gated_delta_rule_recurrent: cu_seqlens must be i32 (got u32)"},
      {{0, 1, 8, 11, 31},
       DType::kI32,
       true,
       "gated_delta_rule_recurrent: cu_seqlens has 5 elements but a null data pointer"},
      {{1, 2, 8, 11, 31},
       DType::kI32,
       false,
       "gated_delta_rule_recurrent: cu_seqlens[0] must be 0 (got 1)"},
      {{0, 8, 8, 11, 31},
       DType::kI32,
       false,
       "gated_delta_rule_recurrent: cu_seqlens must increase strictly (cu_seqlens[1] = 8, "
       "cu_seqlens[2] = 8)"},
      {{0, 1, 8, 11, 30},
       DType::kI32,
       false,
       "gated_delta_rule_recurrent: cu_seqlens[4] (30) != n_tokens (31)"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.message);
    std::vector<float> y(x.in.v.size(), -7.0f), state(x.in.h0.size(), -7.0f);
    Queue queue({.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaRuleRecurrentVarlen(
              queue, x.in.shape, ConstView(k.null ? nullptr : k.cu.data(), k.cu.size(), k.dtype),
              c(x.in.q), c(x.in.k), c(x.in.v), c(x.in.g), c(x.in.beta), 1.0f, c(x.in.h0),
              View::Of<float>(y.data(), y.size()), View::Of<float>(state.data(), state.size()));
        },
        k.message);
    queue.commit_and_wait();
    for (float v : y) ASSERT_EQ(v, -7.0f);
    for (float v : state) ASSERT_EQ(v, -7.0f);
  }
}

// ---- accuracy ------------------------------------------------------------------------------

double MaxAbs(const std::vector<double>& x) {
  double m = 0.0;
  for (double v : x) m = std::max(m, std::abs(v));
  return m;
}

double MaxAbsError(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]);
    if (!(err <= worst)) worst = err;  // NaN propagates
  }
  return worst;
}

// The recurrence in fp64 (spec section 1), tiled GQA, exact exp.
struct Fp64 {
  std::vector<double> y, state;
};
Fp64 Fp64Recurrence(const Inputs& in) {
  const GdnRecurrentShape& s = in.shape;
  Fp64 out{std::vector<double>(VCount(s)), std::vector<double>(StateCount(s))};
  std::vector<double> S(s.Dk);
  for (uint32_t seq = 0; seq < s.Sn; ++seq) {
    for (uint32_t h = 0; h < s.Hv; ++h) {
      for (uint32_t x = 0; x < s.Dv; ++x) {
        const size_t row = ((size_t{seq} * s.Hv + h) * s.Dv + x) * s.Dk;
        for (uint32_t c = 0; c < s.Dk; ++c) S[c] = in.h0[row + c];
        for (uint32_t t = 0; t < s.T; ++t) {
          const size_t token = size_t{seq} * s.T + t, gate = token * s.Hv + h;
          const float* kt = &in.k[(token * s.Hk + h % s.Hk) * s.Dk];
          const float* qt = &in.q[(token * s.Hk + h % s.Hk) * s.Dk];
          const double alpha = std::exp(-double(in.g[gate]));
          double sk = 0.0;
          for (uint32_t c = 0; c < s.Dk; ++c) sk += (S[c] *= alpha) * kt[c];
          const double delta = in.beta[gate] * (in.v[gate * s.Dv + x] - sk);
          double y = 0.0;
          for (uint32_t c = 0; c < s.Dk; ++c) y += (S[c] += delta * kt[c]) * qt[c];
          out.y[gate * s.Dv + x] = y;
        }
        for (uint32_t c = 0; c < s.Dk; ++c) out.state[row + c] = S[c];
      }
    }
  }
  return out;
}

// Spec section 10: within 1e-5 of the maximum, for y and for the state (the model measures
// f32 vs f64 at 3.7e-7, 1.2e-6 with every exp perturbed by 2-4 ulps).
TEST(GdnRecurrentTest, MatchesFp64Recurrence) {
  for (const GdnRecurrentShape& shape :
       {GdnRecurrentShape{2, 64, 2, 4, 128, 128}, GdnRecurrentShape{1, 200, 1, 2, 48, 72},
        GdnRecurrentShape{1, 16, 3, 3, 256, 24}}) {
    for (Kernel kernel : {Kernel::kSerial, Kernel::kDecode}) {
      if (kernel == Kernel::kDecode && shape.Dk % 32 != 0) continue;
      SCOPED_TRACE(Describe(shape) + (kernel == Kernel::kDecode ? " decode" : " serial"));
      const Inputs in = RandomInputs(shape, 11);
      const Outputs got = RunKernel(in, kernel, 1.0f, {.threads = 2});
      const Fp64 want = Fp64Recurrence(in);
      EXPECT_LE(MaxAbsError(got.y, want.y), 1e-5 * MaxAbs(want.y));
      EXPECT_LE(MaxAbsError(got.state, want.state), 1e-5 * MaxAbs(want.state));
    }
  }
}

// Spec section 10: decode and serial differ only in the two reductions; the model measures at
// most 4e-7 of max|o| and 1.3e-7 of max|S| for Dk = 32..128, T <= 256.
TEST(GdnRecurrentTest, DecodeAgreesWithSerial) {
  for (uint32_t dk : {32u, 64u, 128u}) {
    const Inputs in = RandomInputs({2, 32, 2, 4, dk, 64}, dk);
    const Outputs serial = RunKernel(in, Kernel::kSerial, 1.0f, {.threads = 2});
    const Outputs decode = RunKernel(in, Kernel::kDecode, 1.0f, {.threads = 2});
    const std::vector<double> sy(serial.y.begin(), serial.y.end());
    const std::vector<double> ss(serial.state.begin(), serial.state.end());
    EXPECT_LE(MaxAbsError(decode.y, sy), 4e-7 * MaxAbs(sy)) << "Dk " << dk;
    EXPECT_LE(MaxAbsError(decode.state, ss), 1.3e-7 * MaxAbs(ss)) << "Dk " << dk;
  }
}

// The spec's numpy model (testdata/make_fixtures.py wrote its f32-mode and f64-mode results).
// The model's exp is correctly rounded and tgk's within 0.94 ulp, so the bar is the spec's
// CPU-vs-reference one, 1e-5 of the maximum; the f64 mode is held to the same.
TEST(GdnRecurrentTest, ReferenceMatchesTheSpecModel) {
  const std::string dir = TGK_GDN_RECURRENT_TESTDATA;
  std::ifstream cases(dir + "/cases.txt");
  ASSERT_TRUE(cases) << dir;
  std::string name, kernel_name;
  GdnRecurrentShape s;
  int count = 0;
  while (cases >> name >> kernel_name >> s.Sn >> s.T >> s.Hk >> s.Hv >> s.Dk >> s.Dv) {
    SCOPED_TRACE(name);
    ++count;
    std::ifstream file(dir + "/" + name + ".bin", std::ios::binary);
    ASSERT_TRUE(file);
    const auto read32 = [&](size_t n) {
      std::vector<float> x(n);
      file.read(reinterpret_cast<char*>(x.data()), std::streamsize(n * sizeof(float)));
      return x;
    };
    const auto read64 = [&](size_t n) {
      std::vector<double> x(n);
      file.read(reinterpret_cast<char*>(x.data()), std::streamsize(n * sizeof(double)));
      return x;
    };
    Inputs in{s, {}, {}, {}, {}, {}, {}};
    in.q = read32(QkCount(s));
    in.k = read32(QkCount(s));
    in.v = read32(VCount(s));
    in.g = read32(GateCount(s));
    in.beta = read32(GateCount(s));
    in.h0 = read32(StateCount(s));
    const std::vector<float> y32 = read32(VCount(s)), s32 = read32(StateCount(s));
    const std::vector<double> y64 = read64(VCount(s)), s64 = read64(StateCount(s));
    ASSERT_TRUE(file) << "short fixture";
    const Kernel kernel = kernel_name == "decode" ? Kernel::kDecode : Kernel::kSerial;
    const Outputs ref = Reference(in, kernel, 1.0f);
    const std::vector<double> m_y(y32.begin(), y32.end()), m_s(s32.begin(), s32.end());
    EXPECT_LE(MaxAbsError(ref.y, m_y), 1e-5 * MaxAbs(m_y));
    EXPECT_LE(MaxAbsError(ref.state, m_s), 1e-5 * MaxAbs(m_s));
    EXPECT_LE(MaxAbsError(ref.y, y64), 1e-5 * MaxAbs(y64));
    EXPECT_LE(MaxAbsError(ref.state, s64), 1e-5 * MaxAbs(s64));
  }
  EXPECT_EQ(count, 6);
}

TEST_P(GdnRecurrentParity, NonFiniteInputsPropagate) {
  Inputs in = RandomInputs({1, 2, 1, 1, 32, 16}, 4);
  in.k[3] = std::numeric_limits<float>::quiet_NaN();  // token 0: every row sees it
  for (Kernel kernel : {Kernel::kSerial, Kernel::kDecode}) {
    const Outputs want = Reference(in, kernel, 1.0f);
    const Outputs got = RunKernel(in, kernel, 1.0f, GetParam().options());
    for (float y : got.y) ASSERT_TRUE(std::isnan(y));
    for (size_t i = 0; i < got.state.size(); ++i) {
      ASSERT_EQ(std::isnan(got.state[i]), std::isnan(want.state[i])) << i;
    }
  }
}

TGK_INSTANTIATE_CONFIGS(GdnRecurrentParity);

TEST(GdnRecurrentTest, RaceCheckerIsQuiet) {
  for (Kernel kernel : {Kernel::kSerial, Kernel::kDecode}) {
    const Inputs in = RandomInputs({1, 2, 1, 2, 64, 70}, 9);
    ExpectSameBits(RunKernel(in, kernel, 1.0f,
                             {.threads = 2, .target = Target::Scalar(), .check_races = true}),
                   Reference(in, kernel, 1.0f));
  }
}

// ---- validation ----------------------------------------------------------------------------

enum class Entry { kKernel, kDecode, kLayer };

struct Case {
  Entry entry;
  GdnRecurrentShape shape;
  int buffer = -1;  // which of q k v output g beta state_in state_out to spoil
  size_t count_delta = 0;
  DType dtype = DType::kF32;
  bool null = false;
  float scale = 1.0f;
  std::string message;
};

TEST(GdnRecurrentTest, ValidationErrors) {
  const GdnRecurrentShape ok{1, 2, 2, 4, 64, 8};
  const Inputs in = RandomInputs(ok, 1);
  const float inf = std::numeric_limits<float>::infinity();
  const DType bf = DType::kBF16;
  const Case cases[] = {
      {Entry::kKernel,
       {1, 2, 2, 4, 0, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: dims must all be > 0"},
      {Entry::kKernel,
       {1, 2, 2, 4, 64, 0},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: dims must all be > 0"},
      {Entry::kKernel,
       {1, 2, 0, 4, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: dims must all be > 0"},
      {Entry::kKernel,
       {1, 2, 2, 0, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: dims must all be > 0"},
      {Entry::kKernel,
       {1, 0, 2, 4, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: n_tokens and n_seqs must be > 0"},
      {Entry::kKernel,
       {0, 2, 2, 4, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: n_tokens and n_seqs must be > 0"},
      {Entry::kKernel,
       {1, 2, 3, 4, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: n_v_heads (4) must be a multiple of n_k_heads (3)"},
      {Entry::kKernel,
       {1, 2, 2, 4, 65537, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: d_k (65537) must be <= 65536 (tgk lifts the Metal kernel's "
       "MAX_STATE_D = 128; a group's state columns live in one threadgroup arena)"},
      {Entry::kKernel,
       ok,
       0,
       1,
       {},
       false,
       1,
       "gated_delta_net: q element count 257 != expected 256"},
      {Entry::kKernel, ok, 0, 0, bf, false, 1, "gated_delta_net: q must be f32 (got bf16)"},
      {Entry::kKernel,
       ok,
       1,
       1,
       {},
       false,
       1,
       "gated_delta_net: k element count 257 != expected 256"},
      {Entry::kKernel,
       ok,
       2,
       1,
       {},
       false,
       1,
       "gated_delta_net: v element count 65 != expected 64"},
      {Entry::kKernel,
       ok,
       3,
       1,
       {},
       false,
       1,
       "gated_delta_net: output element count 65 != expected 64"},
      {Entry::kKernel, ok, 3, 0, bf, false, 1, "gated_delta_net: output must be f32 (got bf16)"},
      {Entry::kKernel, ok, 4, 1, {}, false, 1, "gated_delta_net: g element count 9 != expected 8"},
      {Entry::kKernel,
       ok,
       5,
       1,
       {},
       false,
       1,
       "gated_delta_net: beta element count 9 != expected 8"},
      {Entry::kKernel,
       ok,
       6,
       1,
       {},
       false,
       1,
       "gated_delta_net: state_in element count 2049 != expected 2048"},
      {Entry::kKernel, ok, 7, 0, bf, false, 1, "gated_delta_net: state_out must be f32 (got bf16)"},
      {Entry::kKernel,
       ok,
       2,
       0,
       {},
       true,
       1,
       "gated_delta_net: v has 64 elements but a null data pointer"},
      {Entry::kKernel,
       {0xFFFFFFFFu, 0xFFFFFFFFu, 65536, 65536, 65536, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net: element count of q overflows 64 bits"},
      {Entry::kDecode,
       {1, 2, 2, 4, 0, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net_decode: dims must all be > 0"},
      {Entry::kDecode,
       {0, 2, 2, 4, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net_decode: n_tokens and n_seqs must be > 0"},
      {Entry::kDecode,
       {1, 2, 3, 4, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net_decode: n_v_heads (4) must be a multiple of n_k_heads (3)"},
      {Entry::kDecode,
       {1, 2, 2, 4, 48, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net_decode: D_k (48) must be a multiple of 32 (simdgroup width)"},
      {Entry::kDecode,
       {1, 2, 2, 4, 65568, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_net_decode: d_k (65568) must be <= 65536 (tgk lifts the Metal kernel's "
       "MAX_STATE_D = 128; a group's state columns live in one threadgroup arena)"},
      {Entry::kDecode, ok, 6, 0, bf, false, 1,
       "gated_delta_net_decode: state_in must be f32 (got bf16)"},
      {Entry::kLayer,
       {1, 2, 2, 0, 64, 8},
       -1,
       0,
       {},
       false,
       1,
       "gated_delta_rule_recurrent: dims must all be > 0"},
      {Entry::kLayer,
       ok,
       -1,
       0,
       {},
       false,
       inf,
       "gated_delta_rule_recurrent: scale must be finite (got inf)"},
      {Entry::kLayer,
       ok,
       -1,
       0,
       {},
       false,
       -inf,
       "gated_delta_rule_recurrent: scale must be finite (got -inf)"},
      {Entry::kLayer,
       ok,
       -1,
       0,
       {},
       false,
       std::numeric_limits<float>::quiet_NaN(),
       "gated_delta_rule_recurrent: scale must be finite (got NaN)"},
      {Entry::kLayer,
       ok,
       3,
       1,
       {},
       false,
       1,
       "gated_delta_rule_recurrent: o element count 65 != expected 64"},
      {Entry::kLayer,
       ok,
       6,
       1,
       {},
       false,
       1,
       "gated_delta_rule_recurrent: h0 element count 2049 != expected 2048"},
      {Entry::kLayer,
       ok,
       7,
       1,
       {},
       false,
       1,
       "gated_delta_rule_recurrent: final_state element count 2049 != expected 2048"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> y(VCount(ok) + 1, -7.0f), state(StateCount(ok) + 1, -7.0f);
    const std::vector<float>* inputs[] = {&in.q, &in.k,    &in.v,  nullptr,
                                          &in.g, &in.beta, &in.h0, nullptr};
    std::vector<float> big(StateCount(ok) + 1);  // large enough for any spoiled input
    ConstView views[8];
    for (int i = 0; i < 8; ++i) {
      const size_t n = i == 3 ? VCount(ok) : i == 7 ? StateCount(ok) : inputs[i]->size();
      const void* data = i == 3 ? y.data() : i == 7 ? state.data() : inputs[i]->data();
      if (i == c.buffer && c.count_delta > 0 && i != 3 && i != 7) data = big.data();
      views[i] =
          ConstView(i == c.buffer && c.null ? nullptr : data,
                    n + (i == c.buffer ? c.count_delta : 0), i == c.buffer ? c.dtype : DType::kF32);
    }
    const View output(const_cast<void*>(views[3].data()), views[3].count(), views[3].dtype());
    const View state_out(const_cast<void*>(views[7].data()), views[7].count(), views[7].dtype());
    Queue queue({.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          if (c.entry == Entry::kKernel) {
            GatedDeltaNet(queue, c.shape, views[0], views[1], views[2], views[4], views[5],
                          views[6], output, state_out);
          } else if (c.entry == Entry::kDecode) {
            GatedDeltaNetDecode(queue, c.shape, views[0], views[1], views[2], views[4], views[5],
                                views[6], output, state_out);
          } else {
            GatedDeltaRuleRecurrent(queue, c.shape, views[0], views[1], views[2], views[4],
                                    views[5], c.scale, views[6], output, state_out);
          }
        },
        c.message);
    queue.commit_and_wait();
    for (float x : y) ASSERT_EQ(x, -7.0f);
    for (float x : state) ASSERT_EQ(x, -7.0f);
  }
}

}  // namespace
}  // namespace tgk
