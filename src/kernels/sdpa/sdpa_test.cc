// sdpa / sdpa_bf16: oracle vs every target and thread count over a sweep of shapes, a literal
// f32 transcription of the spec's algorithm (bit for bit), an independent fp64 reference, special
// values, and every validation error.
#include "tgk/kernels/sdpa.h"

#include <gtest/gtest.h>
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "testing/expect_error.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/math-inl.h"  // tgk's Exp, whose float overload is the same on every target
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {
namespace {

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();
// Elements past the output's end that the kernel must never write.
constexpr size_t kGuard = 64;

uint32_t Capacity(const SdpaParams& p) { return p.kv_capacity ? p.kv_capacity : p.kv_seq_len; }
size_t QCount(const SdpaParams& p) { return size_t{p.batch} * p.n_heads * p.seq_len * p.head_dim; }
size_t KvCount(const SdpaParams& p) {
  return size_t{p.batch} * p.n_kv_heads * Capacity(p) * p.head_dim;
}

// Inputs as f32 values (for bf16, values that bf16 holds exactly) and the buffers the kernel
// reads, in its dtype. Unit-scale data: N(0, 1) entries, scale = 1/sqrt(head_dim). K/V slots
// past kv_seq_len (capacity padding) hold NaN: reading one would show in the output.
struct Inputs {
  SdpaParams p;
  DType dtype;
  std::vector<float> q, k, v;
  std::vector<bf16> q16, k16, v16;
};

// The bf16 buffers from the f32 values (after these changed).
void EncodeBF16(Inputs& in) {
  in.q16.clear(), in.k16.clear(), in.v16.clear();
  if (in.dtype != DType::kBF16) return;
  for (auto [from, to] : {std::pair{&in.q, &in.q16}, {&in.k, &in.k16}, {&in.v, &in.v16}}) {
    for (float x : *from) to->push_back(BF16FromF32(x));
  }
}

Inputs RandomInputs(const SdpaParams& p, DType dtype, uint64_t seed) {
  Inputs in{p, dtype, {}, {}, {}, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto fill = [&](std::vector<float>& x, size_t n, bool padded) {
    x.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const bool padding = padded && (i / p.head_dim) % Capacity(p) >= p.kv_seq_len;
      const float value = normal(rng);
      x[i] = padding ? kPoison : dtype == DType::kBF16 ? RoundToBF16(value) : value;
    }
  };
  fill(in.q, QCount(p), false);
  fill(in.k, KvCount(p), true);
  fill(in.v, KvCount(p), true);
  EncodeBF16(in);
  return in;
}

ConstView ViewOf(const Inputs& in, const std::vector<float>& f32, const std::vector<bf16>& b16) {
  return in.dtype == DType::kBF16 ? ConstView::Of<bf16>(b16.data(), b16.size())
                                  : ConstView::Of<float>(f32.data(), f32.size());
}

// The output as raw bits (f32 or bf16 patterns), poisoned before the run; the guard elements
// past its end must come back unchanged.
std::vector<uint32_t> RunSdpa(const Inputs& in, QueueOptions options) {
  const size_t n = QCount(in.p);
  std::vector<float> out32(n + kGuard, kPoison);
  std::vector<bf16> out16(n + kGuard, BF16FromF32(kPoison));
  const View out =
      in.dtype == DType::kBF16 ? View::Of<bf16>(out16.data(), n) : View::Of<float>(out32.data(), n);
  Queue queue(options);
  Sdpa(queue, in.p, ViewOf(in, in.q, in.q16), ViewOf(in, in.k, in.k16), ViewOf(in, in.v, in.v16),
       out);
  queue.commit_and_wait();
  std::vector<uint32_t> bits(n + kGuard);
  for (size_t i = 0; i < bits.size(); ++i) {
    bits[i] = in.dtype == DType::kBF16 ? out16[i].bits : BitsOf(out32[i]);
  }
  const uint32_t poison_bits =
      in.dtype == DType::kBF16 ? BF16FromF32(kPoison).bits : BitsOf(kPoison);
  for (size_t i = n; i < n + kGuard; ++i) EXPECT_EQ(bits[i], poison_bits) << "guard " << i - n;
  bits.resize(n);
  return bits;
}

float ValueOf(const Inputs& in, uint32_t bits) {
  return in.dtype == DType::kBF16 ? F32FromBF16(bf16{uint16_t(bits)}) : FloatFromBits(bits);
}

// Softmax attention in fp64 from the definition: scores, max-subtracted exponentials, their
// normalised sum over the visible keys (causal with the decode offset, grouped-query heads).
// `magnitude` is the same average of |V|: the scale of the terms an output sums, which bounds
// the rounding error of any summation order however much the terms cancel.
struct Expected {
  std::vector<double> out, magnitude;
};

Expected Reference(const Inputs& in) {
  const SdpaParams& p = in.p;
  const size_t hd = p.head_dim;
  Expected e{std::vector<double>(QCount(p)), std::vector<double>(QCount(p))};
  std::vector<double> score(p.kv_seq_len);
  for (uint32_t b = 0; b < p.batch; ++b) {
    for (uint32_t h = 0; h < p.n_heads; ++h) {
      const uint32_t kh = h / (p.n_heads / p.n_kv_heads);
      const size_t kv_base = (size_t{b} * p.n_kv_heads + kh) * Capacity(p) * hd;
      for (uint32_t q = 0; q < p.seq_len; ++q) {
        const size_t row = ((size_t{b} * p.n_heads + h) * p.seq_len + q) * hd;
        const uint32_t visible = p.kv_seq_len - p.seq_len + q + 1;
        double max_score = -std::numeric_limits<double>::infinity();
        for (uint32_t key = 0; key < visible; ++key) {
          double dot = 0.0;
          for (size_t d = 0; d < hd; ++d)
            dot += double(in.q[row + d]) * in.k[kv_base + key * hd + d];
          score[key] = dot * p.scale;
          max_score = std::max(max_score, score[key]);
        }
        double sum = 0.0;
        for (uint32_t key = 0; key < visible; ++key) {
          score[key] = std::exp(score[key] - max_score);
          sum += score[key];
        }
        for (size_t d = 0; d < hd; ++d) {
          double o = 0.0, magnitude = 0.0;
          for (uint32_t key = 0; key < visible; ++key) {
            o += score[key] * in.v[kv_base + key * hd + d];
            magnitude += score[key] * std::abs(in.v[kv_base + key * hd + d]);
          }
          e.out[row + d] = o / sum;
          e.magnitude[row + d] = magnitude / sum;
        }
      }
    }
  }
  return e;
}

std::string Describe(const SdpaParams& p, DType dtype) {
  return std::string(Name(dtype)) + " batch=" + std::to_string(p.batch) +
         " n_heads=" + std::to_string(p.n_heads) + " n_kv_heads=" + std::to_string(p.n_kv_heads) +
         " head_dim=" + std::to_string(p.head_dim) + " seq_len=" + std::to_string(p.seq_len) +
         " kv_seq_len=" + std::to_string(p.kv_seq_len) +
         " kv_capacity=" + std::to_string(p.kv_capacity);
}

// Every pair of head_dim and seq_len, with batch 1–2, GQA ratios 1/2/4, kv_seq_len from
// seq_len (prefill) up, and kv_capacity 0 or past kv_seq_len.
std::vector<SdpaParams> SweepShapes() {
  const uint32_t head_dims[] = {1, 3, 64, 128, 256, 512};
  const uint32_t seq_lens[] = {1, 7, 32, 33, 100};
  const uint32_t ratios[] = {1, 2, 4};
  std::mt19937 rng(2024);
  std::vector<SdpaParams> shapes;
  for (uint32_t i = 0; i < 30; ++i) {
    SdpaParams p;
    p.head_dim = head_dims[i % 6];
    p.seq_len = seq_lens[i % 5];
    p.n_kv_heads = 1 + i % 2;
    p.n_heads = p.n_kv_heads * ratios[i % 3];
    p.batch = 1 + i / 3 % 2;
    // Half the shapes are prefill (kv_seq_len == seq_len); the others see up to 60 more keys.
    p.kv_seq_len = p.seq_len + (i % 4 < 2 ? 0 : 1 + rng() % 60);
    p.kv_capacity = i % 7 < 4 ? 0 : p.kv_seq_len + 1 + rng() % 9;
    p.scale = 1.0f / std::sqrt(float(p.head_dim));
    shapes.push_back(p);
  }
  return shapes;
}

class SdpaSweepTest : public ::testing::TestWithParam<DType> {};

TEST_P(SdpaSweepTest, EveryTargetAndThreadCountMatchesTheOracleBitwise) {
  uint64_t seed = 1;
  for (const SdpaParams& p : SweepShapes()) {
    SCOPED_TRACE(Describe(p, GetParam()));
    const Inputs in = RandomInputs(p, GetParam(), seed++);
    const auto oracle = RunSdpa(in, QueueOptions{.threads = 1, .target = Target::Scalar()});
    for (Target target : AvailableTargets()) {
      for (int threads : {1, 2, 3, 7}) {
        SCOPED_TRACE(target.name() + ", threads " + std::to_string(threads));
        EXPECT_TRUE(RunSdpa(in, QueueOptions{.threads = threads, .target = target}) == oracle);
      }
    }
  }
}

// The spec's section 3 transcribed literally, one row at a time in plain f32 code (this file,
// like the library, is compiled without contraction), with tgk's Exp.
std::vector<uint32_t> SpecAlgorithm(const Inputs& in) {
  const SdpaParams& p = in.p;
  const size_t hd = p.head_dim;
  std::vector<uint32_t> out(QCount(p));
  std::vector<float> acc(hd);
  for (uint32_t b = 0; b < p.batch; ++b) {
    for (uint32_t h = 0; h < p.n_heads; ++h) {
      const uint32_t kh = h / (p.n_heads / p.n_kv_heads);
      const float* K = in.k.data() + (size_t{b} * p.n_kv_heads + kh) * Capacity(p) * hd;
      const float* V = in.v.data() + (size_t{b} * p.n_kv_heads + kh) * Capacity(p) * hd;
      for (uint32_t q = 0; q < p.seq_len; ++q) {
        const size_t row = ((size_t{b} * p.n_heads + h) * p.seq_len + q) * hd;
        const float* Q = in.q.data() + row;
        const uint32_t n_q = std::min(p.kv_seq_len - p.seq_len + q + 1, p.kv_seq_len);
        float M = -std::numeric_limits<float>::infinity(), L = 0.0f;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (uint32_t key = 0; key < n_q; ++key) {
          float dot = 0.0f;
          for (size_t d = 0; d < hd; ++d) dot = dot + Q[d] * K[key * hd + d];
          const float s = dot * p.scale;
          const float M_old = M;
          M = s > M ? s : M;  // the data holds no NaN
          const float corr = HWY_NAMESPACE::Exp(M_old - M);
          L = L * corr + HWY_NAMESPACE::Exp(s - M);
          const float w = HWY_NAMESPACE::Exp(s - M);
          for (size_t d = 0; d < hd; ++d) acc[d] = acc[d] * corr + w * V[key * hd + d];
        }
        const float inv = 1.0f / L;
        for (size_t d = 0; d < hd; ++d) {
          const float o = acc[d] * inv;
          out[row + d] = in.dtype == DType::kBF16 ? BF16FromF32(o).bits : BitsOf(o);
        }
      }
    }
  }
  return out;
}

TEST_P(SdpaSweepTest, IsTheSpecAlgorithmBitForBit) {
  uint64_t seed = 50;
  for (const SdpaParams& p : SweepShapes()) {
    SCOPED_TRACE(Describe(p, GetParam()));
    const Inputs in = RandomInputs(p, GetParam(), seed++);
    EXPECT_TRUE(RunSdpa(in, QueueOptions{.threads = 2}) == SpecAlgorithm(in));
  }
}

// Errors are relative to the magnitude of the averaged values (Reference). f32: at most 1e-5.
// bf16: the result is within one bf16 ulp of the fp64 result rounded to bf16 (distance between
// the bit patterns as ordered integers). The f32 arithmetic before the final rounding carries a
// relative error of up to ~1e-6, which exceeds a bf16 ulp where cancellation leaves an
// output far below its magnitude; there the bound is that f32 error plus the rounding. Such
// outputs must stay rare, or the bf16 check would mean little.
TEST_P(SdpaSweepTest, MatchesFp64Reference) {
  uint64_t seed = 100;
  size_t checked = 0, tiny = 0;
  double worst = 0.0;
  for (const SdpaParams& p : SweepShapes()) {
    SCOPED_TRACE(Describe(p, GetParam()));
    const Inputs in = RandomInputs(p, GetParam(), seed++);
    const auto got = RunSdpa(in, QueueOptions{.threads = 2});
    const Expected want = Reference(in);
    for (size_t i = 0; i < got.size(); ++i) {
      const double value = ValueOf(in, got[i]);
      const double err = std::abs(value - want.out[i]);
      const double scale = want.magnitude[i];
      ++checked;
      if (GetParam() == DType::kF32) {
        worst = std::max(worst, err / scale);
        ASSERT_LE(err, 1e-5 * scale) << "element " << i << ": " << value << " vs " << want.out[i];
        continue;
      }
      const auto ordered = [](uint16_t bits) {
        return bits & 0x8000u ? -int32_t(bits & 0x7FFFu) : int32_t(bits);
      };
      const bf16 rounded = BF16FromF32(float(want.out[i]));
      if (std::abs(ordered(uint16_t(got[i])) - ordered(rounded.bits)) <= 1) continue;
      ++tiny;
      const double ulp = std::ldexp(1.0, std::ilogb(want.out[i]) - 7);
      ASSERT_LE(err, 1e-5 * scale + ulp)
          << "element " << i << ": " << value << " vs " << want.out[i];
    }
  }
  EXPECT_LE(tiny, checked / 10000) << "outputs more than one bf16 ulp off";
  if (GetParam() == DType::kF32) {
    EXPECT_GT(worst, 0.0);  // the sweep did compare something
  }
  if (GetParam() == DType::kF32) {
    std::printf("%zu f32 outputs, worst relative error %.3g\n", checked, worst);
  } else {
    std::printf("%zu bf16 outputs, %zu more than one ulp off (cancellation)\n", checked, tiny);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, SdpaSweepTest, ::testing::Values(DType::kF32, DType::kBF16),
                         [](const auto& info) { return std::string(Name(info.param)); });

// head_dim 1, V[p] = p and scale 0 (uniform weights): row q's output is the mean of the keys
// it sees, 0 .. kv_seq_len − seq_len + q, so it pins down the causal rule with its offset.
TEST(SdpaTest, CausalRuleWithDecodeOffset) {
  for (uint32_t seq_len : {1u, 4u, 9u}) {  // decode, offset 5, prefill
    SCOPED_TRACE("seq_len " + std::to_string(seq_len));
    const SdpaParams p{1, 1, 1, 1, seq_len, 9, 0.0f, 0};
    Inputs in = RandomInputs(p, DType::kF32, 3);
    for (uint32_t key = 0; key < 9; ++key) in.v[key] = float(key);
    const auto got = RunSdpa(in, QueueOptions{.threads = 1});
    for (uint32_t q = 0; q < seq_len; ++q) {
      EXPECT_FLOAT_EQ(FloatFromBits(got[q]), float(9 - seq_len + q) / 2) << "row " << q;
    }
  }
}

TEST(SdpaTest, CallerThreadOnlyModeGivesTheSameBits) {
  const SdpaParams p{2, 4, 2, 64, 33, 40, 0.125f, 48};
  const Inputs in = RandomInputs(p, DType::kF32, 4);
  EXPECT_TRUE(RunSdpa(in, QueueOptions{.caller_thread_only = true}) ==
              RunSdpa(in, QueueOptions{.threads = 2, .target = Target::Scalar()}));
}

TEST(SdpaTest, RaceCheckerIsQuiet) {
  const SdpaParams p{1, 2, 1, 16, 40, 50, 0.25f, 0};
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    const Inputs in = RandomInputs(p, dtype, 5);
    EXPECT_TRUE(
        RunSdpa(in, QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true}) ==
        RunSdpa(in, QueueOptions{.threads = 1, .target = Target::Scalar()}));
  }
}

// A pack whose rows all see a key with corr = 1 skips acc·corr; keys that raise the running
// max in one row only (here: a large score at a different key per row) must still rescale.
TEST(SdpaTest, RescalingInSomeRowsOnlyMatchesTheOracle) {
  SdpaParams p{1, 1, 1, 8, 32, 64, 1.0f, 0};
  Inputs in = RandomInputs(p, DType::kF32, 6);
  for (uint32_t q = 0; q < 32; ++q) {
    for (uint32_t d = 0; d < 8; ++d) in.q[q * 8 + d] = d == q % 8 ? 4.0f : 0.0f;
  }
  for (uint32_t key = 0; key < 64; ++key) {
    for (uint32_t d = 0; d < 8; ++d) in.k[key * 8 + d] = d == key % 8 ? float(key) / 16 : 0.0f;
  }
  const auto oracle = RunSdpa(in, QueueOptions{.threads = 1, .target = Target::Scalar()});
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    EXPECT_TRUE(RunSdpa(in, QueueOptions{.threads = 2, .target = target}) == oracle);
  }
}

// The bits of a NaN's sign and payload are not part of the contract: where two NaN operands
// meet, x86 arithmetic returns the one the compiler placed first. Every path must agree on all
// other bits and on which outputs are NaN.
std::vector<uint32_t> CanonicalNaNs(const Inputs& in, std::vector<uint32_t> bits) {
  for (uint32_t& b : bits) {
    if (std::isnan(ValueOf(in, b))) b = 0xFFFFFFFFu;
  }
  return bits;
}

// NaN, infinities and overflowing scores flow through every path alike: exp(inf − inf), 0·inf,
// NaN operands of max (ignored) and of the products and sums. Special keys and values sit at
// positions that only the last rows see, so the other rows stay finite.
TEST(SdpaTest, SpecialValuesMatchTheOracle) {
  const SdpaParams p{1, 2, 1, 16, 40, 70, 1.0f, 0};
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {kPoison, inf, -inf, 1e30f, -1e30f, FloatFromBits(0xFFC12340u)};
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    SCOPED_TRACE(Name(dtype));
    Inputs in = RandomInputs(p, dtype, 8);
    std::mt19937 rng(9);
    for (int i = 0; i < 4; ++i) in.q[rng() % in.q.size()] = specials[rng() % 6];
    for (int i = 0; i < 8; ++i) {
      const size_t late_key = 60 * p.head_dim + rng() % (10 * p.head_dim);
      in.k[late_key] = specials[rng() % 6];
      in.v[late_key] = specials[rng() % 6];
    }
    EncodeBF16(in);
    const auto oracle =
        CanonicalNaNs(in, RunSdpa(in, QueueOptions{.threads = 1, .target = Target::Scalar()}));
    const size_t nan = size_t(std::count(oracle.begin(), oracle.end(), 0xFFFFFFFFu));
    EXPECT_GT(nan, 0u);
    EXPECT_LT(nan, oracle.size() / 2);
    for (Target target : AvailableTargets()) {
      SCOPED_TRACE(target.name());
      EXPECT_TRUE(CanonicalNaNs(in, RunSdpa(in, QueueOptions{.threads = 2, .target = target})) ==
                  oracle);
    }
  }
}

TEST(SdpaTest, ZeroBatchDispatchesNothing) {
  const SdpaParams p{0, 4, 2, 64, 8, 8, 0.125f, 0};
  std::vector<float> out(16, -7.0f);
  Queue queue(QueueOptions{.threads = 2});
  Sdpa(queue, p, ConstView(nullptr, 0, DType::kF32), ConstView(nullptr, 0, DType::kF32),
       ConstView(nullptr, 0, DType::kF32), View::Of<float>(out.data(), out.size()));
  queue.commit_and_wait();
  for (float x : out) EXPECT_EQ(x, -7.0f);
}

TEST(SdpaTest, FlopCount) {
  // Prefill 4 rows: 1 + 2 + 3 + 4 pairs; with 2 more keys each row sees 2 more.
  EXPECT_EQ(SdpaFlops(SdpaParams{1, 1, 1, 8, 4, 4, 1.0f, 0}), 4.0 * 8 * 10);
  EXPECT_EQ(SdpaFlops(SdpaParams{2, 3, 1, 8, 4, 6, 1.0f, 0}), 4.0 * 8 * 18 * 3 * 2);
  EXPECT_EQ(SdpaFlops(SdpaParams{1, 16, 8, 128, 512, 512, 1.0f, 0}),
            4.0 * 128 * (512.0 * 513 / 2) * 16);
}

// Each rule of spec section 4 and each tgk addition, in order, with its message; the output
// stays untouched and nothing runs.
TEST(SdpaTest, ValidationErrors) {
  const SdpaParams ok{2, 4, 2, 8, 3, 5, 0.5f, 0};
  const size_t qc = QCount(ok), kc = KvCount(ok);
  std::vector<float> buffer(2 * (qc + kc) + 64, 1.0f);
  struct Case {
    SdpaParams p;
    size_t q_count, k_count, v_count, out_count;
    DType q_dtype, k_dtype, v_dtype, out_dtype;
    std::string message;
  };
  const DType f = DType::kF32, b = DType::kBF16, h = DType::kF16;
  const auto shape = [&](auto edit) {
    SdpaParams p = ok;
    edit(p);
    return p;
  };
  const Case cases[] = {
      {shape([](auto& p) { p.head_dim = 0; }), qc, kc, kc, qc, f, f, f, f, "head_dim must be > 0"},
      {shape([](auto& p) { p.n_heads = 0; }), qc, kc, kc, qc, f, f, f, f, "n_heads must be > 0"},
      {shape([](auto& p) { p.n_kv_heads = 0; }), qc, kc, kc, qc, f, f, f, f,
       "n_kv_heads must be > 0"},
      {shape([](auto& p) { p.n_kv_heads = 3; }), qc, kc, kc, qc, f, f, f, f,
       "n_heads (4) must be divisible by n_kv_heads (3)"},
      {shape([](auto& p) { p.seq_len = 0; }), qc, kc, kc, qc, f, f, f, f, "seq_len must be > 0"},
      {shape([](auto& p) { p.kv_seq_len = 0; }), qc, kc, kc, qc, f, f, f, f,
       "kv_seq_len must be > 0"},
      // The spec's order: an earlier rule wins over a later one.
      {shape([](auto& p) { p.head_dim = 0, p.n_heads = 0; }), qc, kc, kc, qc, f, f, f, f,
       "head_dim must be > 0"},
      {shape([](auto& p) { p.seq_len = 6; }), qc, kc, kc, qc, f, f, f, f,
       "seq_len (6) must be <= kv_seq_len (5)"},
      {shape([](auto& p) { p.head_dim = 513; }), qc, kc, kc, qc, f, f, f, f,
       "head_dim (513) must be <= 512"},
      {shape([](auto& p) { p.kv_capacity = 4; }), qc, kc, kc, qc, f, f, f, f,
       "kv_capacity (4) must be 0 or >= kv_seq_len (5)"},
      {ok, qc, kc, kc, qc, h, h, h, h, "Q dtype must be f32 or bf16 (got f16)"},
      {ok, qc, kc, kc, qc, f, b, f, f, "K dtype (bf16) must match Q's dtype (f32)"},
      {ok, qc, kc, kc, qc, b, b, f, b, "V dtype (f32) must match Q's dtype (bf16)"},
      {ok, qc, kc, kc, qc, f, f, f, b, "output dtype (bf16) must match Q's dtype (f32)"},
      {ok, qc - 1, kc, kc, qc, f, f, f, f,
       "Q buffer too small: expected at least 768 bytes, got 764"},
      {ok, qc, kc - 1, kc, qc, f, f, f, f,
       "K buffer too small: expected at least 640 bytes, got 636"},
      {ok, qc, kc, kc - 8, qc, b, b, b, b,
       "V buffer too small: expected at least 320 bytes, got 304"},
      {ok, qc, kc, kc, qc - 1, f, f, f, f,
       "output buffer too small: expected at least 768 bytes, got 764"},
      // kv_capacity sizes K and V.
      {shape([](auto& p) { p.kv_capacity = 6; }), qc, kc, kc, qc, f, f, f, f,
       "K buffer too small: expected at least 768 bytes, got 640"},
      {shape([](auto& p) { p.batch = 0xFFFFFFFFu, p.n_heads = 0x80000000u, p.n_kv_heads = 1; }), qc,
       kc, kc, qc, f, f, f, f, "Q buffer size overflows 64 bits"},
      // Q and the output pass (views that claim enough elements; nothing reads them), K's byte
      // count does not fit in 64 bits.
      {shape([](auto& p) { p.kv_capacity = 0xFFFFFFFFu, p.batch = 0xFFFFFFFFu; }),
       size_t{0xFFFFFFFFu} * 96, kc, kc, size_t{0xFFFFFFFFu} * 96, f, f, f, f,
       "K buffer size overflows 64 bits"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> out(buffer.size(), -7.0f);
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          Sdpa(queue, c.p, ConstView(buffer.data(), c.q_count, c.q_dtype),
               ConstView(buffer.data(), c.k_count, c.k_dtype),
               ConstView(buffer.data(), c.v_count, c.v_dtype),
               View(out.data(), c.out_count, c.out_dtype));
        },
        c.message);
    queue.commit_and_wait();
    for (float x : out) ASSERT_EQ(x, -7.0f);
  }
}

TEST(SdpaTest, NullBufferIsRejected) {
  const SdpaParams p{1, 1, 1, 4, 2, 2, 0.5f, 0};
  std::vector<float> data(8, 1.0f);
  std::vector<float> out(8, -7.0f);
  Queue queue;
  test::ExpectInvalidArgument(
      [&] {
        Sdpa(queue, p, ConstView::Of<float>(data.data(), 8), ConstView(nullptr, 8, DType::kF32),
             ConstView::Of<float>(data.data(), 8), View::Of<float>(out.data(), 8));
      },
      "K buffer is null");
  queue.commit_and_wait();
  for (float x : out) EXPECT_EQ(x, -7.0f);
}

}  // namespace
}  // namespace tgk
