// chunk_tri_solve_invert_f32: the reference vs the scalar oracle vs every target and thread
// count (bitwise, outputs poisoned), non-finite inputs, and every validation error.
#include "tgk/kernels/gdn_solve.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "kernels/gdn_chunk/gdn_test_util.h"
#include "kernels/gdn_solve/gdn_solve_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"

namespace tgk {
namespace {

size_t Count(const GdnSolveShape& s) { return size_t{s.B} * s.T * s.H * 64; }

// A strictly lower block per chunk (kkt's output form), entries of unit scale over 64 rows.
std::vector<float> RandomAStrict(const GdnSolveShape& s, uint64_t seed) {
  test::Random random(seed);
  std::vector<float> a(Count(s), 0.0f);
  for (size_t row = 0; row < size_t{s.B} * s.T * s.H; ++row) {
    const uint32_t i = uint32_t(row / s.H % s.T % 64);
    for (uint32_t j = 0; j < i; ++j) a[row * 64 + j] = random.Normal() * 0.125f;
  }
  return a;
}

std::vector<float> RunSolve(const GdnSolveShape& s, const std::vector<float>& a,
                            QueueOptions options) {
  auto out = test::Poisoned<float>(Count(s));
  Queue queue(options);
  GatedDeltaNetSolve(queue, s, ConstView::Of<float>(a.data(), a.size()),
                     View::Of<float>(out.data(), out.size()));
  queue.commit_and_wait();
  return out;
}

std::vector<float> Reference(const GdnSolveShape& s, const std::vector<float>& a) {
  auto out = test::Poisoned<float>(Count(s));
  GdnSolveReference(s, a.data(), out.data());
  return out;
}

const GdnSolveShape kShapes[] = {{1, 64, 1}, {2, 100, 3}, {1, 1, 1}, {1, 130, 2}, {1, 63, 1}};

class GdnSolveTargets : public ::testing::TestWithParam<test::Config> {};

TEST_P(GdnSolveTargets, MatchesTheReferenceBitwise) {
  for (const GdnSolveShape& s : kShapes) {
    SCOPED_TRACE("B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) +
                 " H=" + std::to_string(s.H));
    const auto a = RandomAStrict(s, 11);
    const auto want = Reference(s, a);
    const std::vector<float> got = RunSolve(s, a, GetParam().options());
    EXPECT_TRUE(test::BitsEqual(want, got));
  }
}

// (I + A)·X = I to f32 accuracy, the diagonal exactly 1 and the upper triangle exactly +0.
TEST(GdnSolveTest, InvertsTheBlock) {
  const GdnSolveShape s{1, 100, 2};
  const auto a = RandomAStrict(s, 3);
  const auto x = RunSolve(s, a, QueueOptions{.threads = 2});
  for (uint32_t h = 0; h < s.H; ++h) {
    for (uint32_t t = 0; t < s.T; ++t) {
      const uint32_t t0 = t / 64 * 64, i = t - t0;
      for (uint32_t j = 0; j < 64; ++j) {
        const float xij = x[(size_t{t} * s.H + h) * 64 + j];
        if (j >= i) {
          EXPECT_EQ(xij, j == i ? 1.0f : 0.0f);
          EXPECT_FALSE(std::signbit(xij));
          continue;
        }
        double sum = xij;  // row i of (I + A)·X, column j < i
        for (uint32_t m = j; m < i; ++m) {
          sum += double(a[(size_t{t} * s.H + h) * 64 + m]) * x[(size_t{t0 + m} * s.H + h) * 64 + j];
        }
        EXPECT_NEAR(sum, 0.0, 1e-5);
      }
    }
  }
}

TEST_P(GdnSolveTargets, NonFiniteEntriesPropagateAsInTheReference) {
  const GdnSolveShape s{1, 64, 1};
  auto a = RandomAStrict(s, 5);
  a[10 * 64 + 3] = std::numeric_limits<float>::infinity();
  a[20 * 64 + 19] = std::numeric_limits<float>::quiet_NaN();
  const auto want = Reference(s, a);
  EXPECT_TRUE(std::isnan(want[30 * 64 + 40]));  // 0·inf reaches the upper triangle
  const std::vector<float> got = RunSolve(s, a, GetParam().options());
  EXPECT_TRUE(test::SameValues(want, got));
}

TEST(GdnSolveTest, ValidationErrors) {
  const GdnSolveShape ok{1, 64, 2};
  const size_t n = Count(ok);
  std::vector<float> in(n + 64, 0.0f);
  struct Case {
    GdnSolveShape shape;
    size_t in_count, out_count;
    DType in_dtype, out_dtype;
    std::string message;
  };
  const DType f = DType::kF32, bf = DType::kBF16;
  const Case cases[] = {
      {{0, 64, 2}, n, n, f, f, "chunk_tri_solve_invert: all dims must be > 0"},
      {{1, 0, 2}, n, n, f, f, "chunk_tri_solve_invert: all dims must be > 0"},
      {{1, 64, 0}, n, n, f, f, "chunk_tri_solve_invert: all dims must be > 0"},
      {{1, 64, 2, 0}, n, n, f, f, "chunk_tri_solve_invert: all dims must be > 0"},
      {{1, 64, 2, 32}, n, n, f, f, "chunk_tri_solve_invert (iter 4): bt must be 64 (got 32)"},
      {ok, n - 1, n, f, f, "chunk_tri_solve_invert: A_strict element count 8191 != expected 8192"},
      {ok, n, n, bf, f, "chunk_tri_solve_invert: A_strict must be f32 (got bf16)"},
      {ok, n, n + 64, f, f, "chunk_tri_solve_invert: A_inv element count 8256 != expected 8192"},
      {ok, n, n, f, bf, "chunk_tri_solve_invert: A_inv must be f32 (got bf16)"},
      {{0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu},
       n,
       n,
       f,
       f,
       "chunk_tri_solve_invert: element count of A_strict overflows 64 bits"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> out(n + 64, -7.0f);
    Queue queue(QueueOptions{.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaNetSolve(queue, c.shape, ConstView(in.data(), c.in_count, c.in_dtype),
                             View(out.data(), c.out_count, c.out_dtype));
        },
        c.message);
    queue.commit_and_wait();
    for (float x : out) ASSERT_EQ(x, -7.0f);
  }
  std::vector<float> out(n);
  Queue queue;
  test::ExpectInvalidArgument(
      [&] {
        GatedDeltaNetSolve(queue, ok, ConstView(nullptr, n, DType::kF32),
                           View::Of<float>(out.data(), n));
      },
      "chunk_tri_solve_invert: A_strict has 8192 elements but a null data pointer");
}

TEST(GdnSolveTest, RaceCheckerIsQuiet) {
  const GdnSolveShape s{1, 100, 2};
  const auto a = RandomAStrict(s, 9);
  EXPECT_TRUE(test::BitsEqual(
      Reference(s, a),
      RunSolve(s, a, QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true})));
}

TGK_INSTANTIATE_CONFIGS(GdnSolveTargets);

}  // namespace
}  // namespace tgk
