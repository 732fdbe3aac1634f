// gated_delta_net_kkt: oracle vs every target and thread count, an fp64 reference, the
// upstream golden fixture, and every validation error.
#include "tgk/kernels/kkt.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "testing/expect_error.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {
namespace {

struct Inputs {
  KktShape shape;
  std::vector<bf16> k;
  std::vector<float> beta, g;
};

size_t OutputCount(const KktShape& s) { return size_t{s.B} * s.T * s.H * kKktChunk; }

// k = bf16(N(0,1) / sqrt(K)), so that each dot product is of unit scale; β in [0.1, 1];
// g a chunk-local cumulative sum of small negative steps, as in the upstream fixture.
Inputs RandomInputs(const KktShape& s, uint64_t seed) {
  Inputs in{s, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  in.k.resize(size_t{s.B} * s.T * s.Hg * s.K);
  for (auto& x : in.k) x = BF16FromF32(normal(rng) / std::sqrt(float(s.K)));
  in.beta.resize(size_t{s.B} * s.T * s.H);
  for (auto& x : in.beta) x = uniform(rng) * 0.9f + 0.1f;
  in.g.resize(in.beta.size());
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t h = 0; h < s.H; ++h) {
      float sum = 0.0f;
      for (uint32_t t = 0; t < s.T; ++t) {
        if (t % kKktChunk == 0) sum = 0.0f;
        sum += uniform(rng) * 0.045f - 0.05f;
        in.g[(size_t{b} * s.T + t) * s.H + h] = sum;
      }
    }
  }
  return in;
}

std::vector<float> RunKkt(const Inputs& in, QueueOptions options) {
  std::vector<float> a(OutputCount(in.shape), std::numeric_limits<float>::quiet_NaN());
  Queue queue(options);
  GatedDeltaNetKkt(queue, in.shape, ConstView::Of<bf16>(in.k.data(), in.k.size()),
                   ConstView::Of<float>(in.beta.data(), in.beta.size()),
                   ConstView::Of<float>(in.g.data(), in.g.size()),
                   View::Of<float>(a.data(), a.size()));
  queue.commit_and_wait();
  return a;
}

bool SameBits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// The spec's math in fp64: the one bf16 rounding of k·β (in f32, as specified), everything
// else exact, then exp in double.
std::vector<double> Reference(const Inputs& in) {
  const KktShape& s = in.shape;
  std::vector<double> a(OutputCount(s), 0.0);
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t h = 0; h < s.H; ++h) {
      const uint32_t hk = h / (s.H / s.Hg);
      for (uint32_t t = 0; t < s.T; ++t) {
        const uint32_t t0 = t / kKktChunk * kKktChunk;
        const size_t row = (size_t{b} * s.T + t) * s.H + h;
        for (uint32_t tj = t0; tj < t; ++tj) {
          const size_t col = (size_t{b} * s.T + tj) * s.H + h;
          double dot = 0.0;
          for (uint32_t c = 0; c < s.K; ++c) {
            const float key_i = F32FromBF16(in.k[((size_t{b} * s.T + t) * s.Hg + hk) * s.K + c]);
            const float key_j = F32FromBF16(in.k[((size_t{b} * s.T + tj) * s.Hg + hk) * s.K + c]);
            dot += double(RoundToBF16(key_i * in.beta[row])) * double(key_j);
          }
          a[row * kKktChunk + (tj - t0)] = dot * std::exp(double(in.g[row]) - double(in.g[col]));
        }
      }
    }
  }
  return a;
}

double MaxAbsError(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]);
    if (!(err <= worst)) worst = err;  // NaN propagates
  }
  return worst;
}

// Diagonal and upper triangle of every block must be +0.0 exactly.
void ExpectMaskedZero(const KktShape& s, const std::vector<float>& a) {
  for (size_t row = 0; row < size_t{s.B} * s.T * s.H; ++row) {
    const uint32_t i = uint32_t(row / s.H % s.T % kKktChunk);
    for (uint32_t j = i; j < kKktChunk; ++j) {
      uint32_t bits;
      std::memcpy(&bits, &a[row * kKktChunk + j], sizeof bits);
      ASSERT_EQ(bits, 0u) << "row " << row << " column " << j;
    }
  }
}

std::string Describe(const KktShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " Hg=" + std::to_string(s.Hg) +
         " H=" + std::to_string(s.H) + " K=" + std::to_string(s.K);
}

const KktShape kShapes[] = {
    {1, 64, 1, 1, 64},                         // one full chunk
    {2, 200, 2, 4, 128},                       // GQA 2, partial last chunk, two batches
    {1, 130, 1, 4, 192},                       // GQA 4
    {1, 192, 2, 2, 256},                       // K past the Metal limit
    {1, 77, 1, 2, 320},  {1, 100, 1, 1, 512},  // the largest K
    {1, 1, 1, 1, 64},                          // a single step
    {1, 63, 1, 2, 64},   {1, 65, 2, 2, 128},
};

TEST(KktTest, EveryTargetAndThreadCountMatchesTheOracleBitwise) {
  for (const KktShape& shape : kShapes) {
    SCOPED_TRACE(Describe(shape));
    const Inputs in = RandomInputs(shape, 42);
    const auto oracle = RunKkt(in, QueueOptions{.threads = 1, .target = Target::Scalar()});
    for (Target target : AvailableTargets()) {
      for (int threads : {1, 2, 3, 7}) {
        SCOPED_TRACE(target.name() + ", threads " + std::to_string(threads));
        EXPECT_TRUE(
            SameBits(RunKkt(in, QueueOptions{.threads = threads, .target = target}), oracle));
      }
    }
  }
}

TEST(KktTest, MatchesFp64Reference) {
  for (const KktShape& shape : kShapes) {
    SCOPED_TRACE(Describe(shape));
    const Inputs in = RandomInputs(shape, 7);
    const auto a = RunKkt(in, QueueOptions{.threads = 2});
    EXPECT_LE(MaxAbsError(a, Reference(in)), 1e-6);
    ExpectMaskedZero(shape, a);
  }
}

TEST(KktTest, CallerThreadOnlyModeGivesTheSameBits) {
  const Inputs in = RandomInputs(kShapes[1], 3);
  EXPECT_TRUE(SameBits(RunKkt(in, QueueOptions{.caller_thread_only = true}),
                       RunKkt(in, QueueOptions{.threads = 2, .target = Target::Scalar()})));
}

TEST(KktTest, MaskedCellsAreZeroWhateverTheInputs) {
  const KktShape shape{1, 64, 1, 1, 64};
  Inputs in = RandomInputs(shape, 5);
  // Row 10 of g is +inf: every exp(g_i - g_10) is 0 or NaN-producing for masked cells only,
  // and exp(g_10 - g_j) is inf for the cells of row 10.
  in.g[10] = std::numeric_limits<float>::infinity();
  in.k[20 * shape.K + 3] = BF16FromF32(std::numeric_limits<float>::quiet_NaN());
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    const auto a = RunKkt(in, QueueOptions{.threads = 2, .target = target});
    ExpectMaskedZero(shape, a);
    EXPECT_TRUE(std::isnan(a[20 * kKktChunk + 0]));   // row 20 holds the NaN key
    EXPECT_TRUE(std::isnan(a[25 * kKktChunk + 20]));  // column 20 too
  }
}

template <class T>
std::vector<T> ReadFile(const std::string& name) {
  const std::string path = std::string(TGK_KKT_TESTDATA) + "/" + name;
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  EXPECT_TRUE(file) << path;
  std::vector<T> data(size_t(file.tellg()) / sizeof(T));
  file.seekg(0);
  file.read(reinterpret_cast<char*>(data.data()), std::streamsize(data.size() * sizeof(T)));
  return data;
}

// The upstream PyTorch fixture (spec section 9): B=1, T=128, Hg=2, H=4, K=128.
TEST(KktTest, MatchesUpstreamGoldenFixture) {
  Inputs in{{1, 128, 2, 4, 128}, {}, {}, {}};
  in.k = ReadFile<bf16>("gated_delta_net_kkt_input_k.bin");
  in.beta = ReadFile<float>("gated_delta_net_kkt_input_beta.bin");
  in.g = ReadFile<float>("gated_delta_net_kkt_input_g.bin");
  const auto want = ReadFile<float>("gated_delta_net_kkt_A_ref.bin");
  ASSERT_EQ(want.size(), OutputCount(in.shape));
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    const auto a = RunKkt(in, QueueOptions{.threads = 2, .target = target});
    double worst = 0.0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::abs(a[i] - want[i])));
    EXPECT_LE(worst, 1e-6);
    ExpectMaskedZero(in.shape, a);
  }
}

// Each rule of spec section 5 (as tgk keeps or lifts it), in order, with its message; the
// output stays untouched and nothing runs.
TEST(KktTest, ValidationErrors) {
  const KktShape ok{1, 64, 2, 4, 128};
  const Inputs in = RandomInputs(ok, 1);
  const size_t a_count = OutputCount(ok);
  struct Case {
    KktShape shape;
    size_t k_count, beta_count, g_count, a_count;
    DType k_dtype, a_dtype;
    std::string message;
  };
  const size_t kc = in.k.size(), bc = in.beta.size();
  const DType bf = DType::kBF16, f = DType::kF32;
  const Case cases[] = {
      {{0, 64, 2, 4, 128}, kc, bc, bc, a_count, bf, f, "gated_delta_net_kkt: all dims must be > 0"},
      {{1, 64, 2, 4, 0}, kc, bc, bc, a_count, bf, f, "gated_delta_net_kkt: all dims must be > 0"},
      {{1, 64, 2, 4, 128, 0},
       kc,
       bc,
       bc,
       a_count,
       bf,
       f,
       "gated_delta_net_kkt: all dims must be > 0"},
      {{1, 64, 3, 4, 128},
       kc,
       bc,
       bc,
       a_count,
       bf,
       f,
       "gated_delta_net_kkt: h (4) must be a multiple of hg (3)"},
      {{1, 64, 2, 4, 576},
       kc,
       bc,
       bc,
       a_count,
       bf,
       f,
       "gated_delta_net_kkt: K (576) exceeds MAX_K = 512 (tgk lifts the Metal kernel's 32 KB "
       "threadgroup memory budget, MAX_K = 192, to 512)"},
      {{1, 64, 2, 4, 128, 32},
       kc,
       bc,
       bc,
       a_count,
       bf,
       f,
       "gated_delta_net_kkt (iter 2): bt must be 64 (got 32)"},
      {{1, 64, 2, 4, 96},
       kc,
       bc,
       bc,
       a_count,
       bf,
       f,
       "gated_delta_net_kkt (iter 2): k (96) must be a multiple of BK (64)"},
      {ok, kc - 1, bc, bc, a_count, bf, f,
       "gated_delta_net_kkt: k must be bf16[16384] (got 16383 bf16)"},
      {ok, kc, bc, bc, a_count, f, f, "gated_delta_net_kkt: k must be bf16[16384] (got 16384 f32)"},
      {ok, kc, bc + 1, bc, a_count, bf, f,
       "gated_delta_net_kkt: beta must be f32[256] (got 257 f32)"},
      {ok, kc, bc, bc - 1, a_count, bf, f, "gated_delta_net_kkt: g must be f32[256] (got 255 f32)"},
      {ok, kc, bc, bc, a_count + 64, bf, f,
       "gated_delta_net_kkt: A must be f32[16384] (got 16448 f32)"},
      {ok, kc, bc, bc, a_count, bf, bf,
       "gated_delta_net_kkt: A must be f32[16384] (got 16384 bf16)"},
      {{0xFFFFFFFFu, 0xFFFFFFFFu, 1024, 1024, 512},
       kc,
       bc,
       bc,
       a_count,
       bf,
       f,
       "gated_delta_net_kkt: element count of k overflows 64 bits"},
  };
  std::vector<float> big(a_count + 64);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> a(big.size(), -7.0f);
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaNetKkt(queue, c.shape, ConstView(in.k.data(), c.k_count, c.k_dtype),
                           ConstView(in.beta.data(), c.beta_count, DType::kF32),
                           ConstView(in.g.data(), c.g_count, DType::kF32),
                           View(a.data(), c.a_count, c.a_dtype));
        },
        c.message);
    queue.commit_and_wait();
    for (float x : a) ASSERT_EQ(x, -7.0f);
  }
}

TEST(KktTest, NullBufferIsRejected) {
  const KktShape s{1, 64, 1, 1, 64};
  const Inputs in = RandomInputs(s, 1);
  std::vector<float> a(OutputCount(s));
  Queue queue;
  test::ExpectInvalidArgument(
      [&] {
        GatedDeltaNetKkt(queue, s, ConstView(nullptr, in.k.size(), DType::kBF16),
                         ConstView::Of<float>(in.beta.data(), in.beta.size()),
                         ConstView::Of<float>(in.g.data(), in.g.size()),
                         View::Of<float>(a.data(), a.size()));
      },
      "gated_delta_net_kkt: k has 4096 elements but a null data pointer");
}

TEST(KktTest, RaceCheckerIsQuietOnKkt) {
  const Inputs in = RandomInputs(KktShape{1, 100, 1, 2, 128}, 9);
  const auto checked =
      RunKkt(in, QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true});
  EXPECT_TRUE(
      SameBits(checked, RunKkt(in, QueueOptions{.threads = 1, .target = Target::Scalar()})));
}

}  // namespace
}  // namespace tgk
