// The chunk-local cumsum: the reference vs the scalar instantiation vs every target and thread
// count (bitwise, outputs poisoned), the reference vs the spec's numpy model and fp64, and
// every validation error.
#include "tgk/kernels/gdn_cumsum.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "kernels/gdn_cumsum/gdn_cumsum_reference.h"
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

size_t Count(const GdnCumsumShape& s) { return size_t{s.B} * s.T * s.H; }

// FLA's logsigmoid gates: g = log σ(u), u ~ U[0, 1), so G reaches about −45 over a chunk.
std::vector<float> RandomGates(const GdnCumsumShape& s, uint64_t seed) {
  test::Random random(seed);
  std::vector<float> g(Count(s));
  for (auto& x : g) x = float(-std::log1p(std::exp(-double(random.Uniform()))));
  return g;
}

std::vector<float> RunKernel(const GdnCumsumShape& s, const std::vector<float>& g,
                             QueueOptions options) {
  std::vector<float> out = test::Poisoned<float>(Count(s));
  Queue queue(options);
  GatedDeltaNetChunkCumsum(queue, s, ConstView::Of<float>(g.data(), g.size()),
                           View::Of<float>(out.data(), out.size()));
  queue.commit_and_wait();
  return out;
}

std::vector<float> Reference(const GdnCumsumShape& s, const std::vector<float>& g) {
  std::vector<float> out = test::Poisoned<float>(Count(s));
  GdnCumsumReference(s, g.data(), out.data());
  return out;
}

std::string Describe(const GdnCumsumShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " H=" + std::to_string(s.H);
}

// Whole and partial chunks, partial lane packs, heads past one group (256) and a partial last
// head group.
const GdnCumsumShape kShapes[] = {
    {1, 64, 1}, {2, 200, 3}, {1, 1, 16}, {3, 130, 32}, {1, 65, 300}, {1, 63, 520}, {2, 7, 17},
};

class GdnCumsumParity : public ::testing::TestWithParam<test::Config> {};

TEST_P(GdnCumsumParity, MatchesTheReferenceBitwise) {
  for (const GdnCumsumShape& shape : kShapes) {
    SCOPED_TRACE(Describe(shape));
    std::vector<float> g = RandomGates(shape, 42);
    g[0] = -0.0f;  // a chunk starting at −0 sums to +0
    const auto want = Reference(shape, g);
    uint32_t first;
    std::memcpy(&first, &want[0], sizeof first);
    EXPECT_EQ(first, 0u);
    EXPECT_TRUE(test::BitsEqual(want, RunKernel(shape, g, GetParam().options())));
  }
}

TEST_P(GdnCumsumParity, InPlaceGivesTheSameBits) {
  const GdnCumsumShape shape{2, 200, 20};
  std::vector<float> x = RandomGates(shape, 3);
  const auto want = Reference(shape, x);
  Queue queue(GetParam().options());
  GatedDeltaNetChunkCumsum(queue, shape, ConstView::Of<float>(x.data(), x.size()),
                           View::Of<float>(x.data(), x.size()));
  queue.commit_and_wait();
  EXPECT_TRUE(test::BitsEqual(want, x));
}

TGK_INSTANTIATE_CONFIGS(GdnCumsumParity);

// Spec section 11, stage 2: |ΔG| <= 1e-5·max(1, |G|) against another order or exact sums.
void ExpectWithinStageBar(const std::vector<float>& got, const std::vector<double>& want) {
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(std::abs(double(got[i]) - want[i]), 1e-5 * std::max(1.0, std::abs(want[i]))) << i;
  }
}

TEST(GdnCumsumTest, MatchesFp64Sums) {
  for (const GdnCumsumShape& shape : kShapes) {
    SCOPED_TRACE(Describe(shape));
    const std::vector<float> g = RandomGates(shape, 7);
    std::vector<double> want(g.size());
    for (uint32_t b = 0; b < shape.B; ++b) {
      for (uint32_t h = 0; h < shape.H; ++h) {
        double sum = 0.0;
        for (uint32_t t = 0; t < shape.T; ++t) {
          const size_t at = (size_t{b} * shape.T + t) * shape.H + h;
          if (t % kGdnCumsumChunk == 0) sum = 0.0;
          want[at] = sum += g[at];
        }
      }
    }
    ExpectWithinStageBar(RunKernel(shape, g, {.threads = 2}), want);
  }
}

// The spec's numpy model (testdata/make_fixtures.py): its f32 mode is this spec's order, so
// the reference must give its bits; its f64 mode is held to the stage bar.
TEST(GdnCumsumTest, ReferenceMatchesTheSpecModel) {
  const std::string dir = TGK_GDN_CUMSUM_TESTDATA;
  std::ifstream cases(dir + "/cases.txt");
  ASSERT_TRUE(cases) << dir;
  std::string name;
  GdnCumsumShape s;
  int count = 0;
  while (cases >> name >> s.B >> s.T >> s.H) {
    SCOPED_TRACE(name);
    ++count;
    std::ifstream file(dir + "/" + name + ".bin", std::ios::binary);
    std::vector<float> g(Count(s)), g32(Count(s));
    std::vector<double> g64(Count(s));
    file.read(reinterpret_cast<char*>(g.data()), std::streamsize(g.size() * sizeof(float)));
    file.read(reinterpret_cast<char*>(g32.data()), std::streamsize(g32.size() * sizeof(float)));
    file.read(reinterpret_cast<char*>(g64.data()), std::streamsize(g64.size() * sizeof(double)));
    ASSERT_TRUE(file) << "short fixture";
    const auto ref = Reference(s, g);
    EXPECT_TRUE(test::BitsEqual(g32, ref));
    ExpectWithinStageBar(ref, g64);
  }
  EXPECT_EQ(count, 3);
}

TEST(GdnCumsumTest, RaceCheckerIsQuiet) {
  const GdnCumsumShape shape{1, 100, 300};
  const std::vector<float> g = RandomGates(shape, 9);
  EXPECT_TRUE(test::BitsEqual(
      Reference(shape, g),
      RunKernel(shape, g, {.threads = 2, .target = Target::Scalar(), .check_races = true})));
}

TEST(GdnCumsumTest, ValidationErrors) {
  const GdnCumsumShape ok{1, 64, 4};
  const std::vector<float> g(Count(ok) + 1, 0.5f);
  struct Case {
    GdnCumsumShape shape;
    size_t g_count, out_count;
    DType g_dtype, out_dtype;
    bool null;
    std::string message;
  };
  const size_t n = Count(ok);
  const DType f = DType::kF32, bf = DType::kBF16;
  const Case cases[] = {
      {{0, 64, 4}, n, n, f, f, false, "chunk_local_cumsum_g: all dims must be > 0"},
      {{1, 0, 4}, n, n, f, f, false, "chunk_local_cumsum_g: all dims must be > 0"},
      {{1, 64, 0}, n, n, f, f, false, "chunk_local_cumsum_g: all dims must be > 0"},
      {{1, 64, 4, 0}, n, n, f, f, false, "chunk_local_cumsum_g: all dims must be > 0"},
      {{1, 64, 4, 32}, n, n, f, f, false, "chunk_local_cumsum_g: bt must be 64 (got 32)"},
      {{0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
       n,
       n,
       f,
       f,
       false,
       "chunk_local_cumsum_g: element count of g overflows 64 bits"},
      {ok, n + 1, n, f, f, false, "chunk_local_cumsum_g: g element count 257 != expected 256"},
      {ok, n, n, bf, f, false, "chunk_local_cumsum_g: g must be f32 (got bf16)"},
      {ok, n, n - 1, f, f, false,
       "chunk_local_cumsum_g: g_cumsum element count 255 != expected 256"},
      {ok, n, n, f, bf, false, "chunk_local_cumsum_g: g_cumsum must be f32 (got bf16)"},
      {ok, n, n, f, f, true, "chunk_local_cumsum_g: g has 256 elements but a null data pointer"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> out(n + 1, -7.0f);
    Queue queue({.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaNetChunkCumsum(queue, c.shape,
                                   ConstView(c.null ? nullptr : g.data(), c.g_count, c.g_dtype),
                                   View(out.data(), c.out_count, c.out_dtype));
        },
        c.message);
    queue.commit_and_wait();
    for (float x : out) ASSERT_EQ(x, -7.0f);
  }
}

}  // namespace
}  // namespace tgk
