// The L2 norm: the reference vs the scalar instantiation vs every target and thread count
// (bitwise, outputs poisoned) for bf16, f32 and f16, the reference vs the spec's numpy model
// and fp64, and every validation error.
#include "tgk/kernels/gdn_l2norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/gdn_l2norm/gdn_l2norm_args.h"
#include "kernels/gdn_l2norm/gdn_l2norm_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {
namespace {

float Widen(bf16 x) { return F32FromBF16(x); }
template <class T>
std::vector<T> RandomRows(const GdnL2NormShape& s, uint64_t seed) {
  return test::Random(seed).Vector<T>(s.rows * s.dim, test::Normal(0.0f, 0.1f));
}

template <class T>
std::vector<T> Poisoned(size_t n) {
  return test::Poisoned<T>(n);
}

template <class T>
std::vector<T> RunKernel(const GdnL2NormShape& s, const std::vector<T>& x, QueueOptions options) {
  std::vector<T> y = Poisoned<T>(x.size());
  Queue queue(options);
  GatedDeltaNetL2Norm(queue, s, ConstView::Of<T>(x.data(), x.size()),
                      View::Of<T>(y.data(), y.size()));
  queue.commit_and_wait();
  return y;
}

template <class T>
std::vector<T> Reference(const GdnL2NormShape& s, const std::vector<T>& x) {
  std::vector<T> y = Poisoned<T>(x.size());
  GdnL2NormReference(s, x.data(), y.data());
  return y;
}

// tg = 1, partial packs, tg below a pack, dim not a power of two, the pipeline's K = 128, dim
// past 256 (lanes loop), rows not a multiple of the group's 8.
const GdnL2NormShape kShapes[] = {{5, 1},   {9, 5},    {17, 12},  {40, 128}, {7, 48},
                                  {3, 300}, {11, 256}, {1, 1000}, {65, 64}};

class GdnL2NormParity : public ::testing::TestWithParam<test::Config> {
 protected:
  template <class T>
  void Check() {
    for (const GdnL2NormShape& shape : kShapes) {
      SCOPED_TRACE("rows " + std::to_string(shape.rows) + " dim " + std::to_string(shape.dim));
      const std::vector<T> x = RandomRows<T>(shape, 42);
      EXPECT_TRUE(test::BitsEqual(Reference(shape, x), RunKernel(shape, x, GetParam().options())));
    }
  }
};

TEST_P(GdnL2NormParity, MatchesTheReferenceBitwiseBF16) { Check<bf16>(); }
TEST_P(GdnL2NormParity, MatchesTheReferenceBitwiseF32) { Check<float>(); }
TEST_P(GdnL2NormParity, MatchesTheReferenceBitwiseF16) { Check<f16>(); }
TGK_INSTANTIATE_CONFIGS(GdnL2NormParity);

TEST(GdnL2NormTest, InPlaceGivesTheSameBits) {
  const GdnL2NormShape shape{40, 130};
  std::vector<bf16> x = RandomRows<bf16>(shape, 3);
  const auto want = Reference(shape, x);
  Queue queue({.threads = 2});
  GatedDeltaNetL2Norm(queue, shape, ConstView::Of<bf16>(x.data(), x.size()),
                      View::Of<bf16>(x.data(), x.size()));
  queue.commit_and_wait();
  EXPECT_TRUE(test::BitsEqual(want, x));
}

// Against x / sqrt(Σx² + ε) in fp64: the f32 result is within a few f32 ulps, so after the
// output's rounding at most one step of the output format (spec section 11, stage 1).
TEST(GdnL2NormTest, MatchesFp64WithinOneOutputStep) {
  for (const GdnL2NormShape& shape : kShapes) {
    SCOPED_TRACE("dim " + std::to_string(shape.dim));
    const std::vector<bf16> x = RandomRows<bf16>(shape, 7);
    const std::vector<bf16> y = RunKernel(shape, x, {.threads = 2});
    for (uint64_t r = 0; r < shape.rows; ++r) {
      double sum = 0.0;
      for (uint32_t i = 0; i < shape.dim; ++i)
        sum += std::pow(double(Widen(x[r * shape.dim + i])), 2);
      const double inv = 1.0 / std::sqrt(sum + double(kGdnL2NormEps));
      for (uint32_t i = 0; i < shape.dim; ++i) {
        const double want = double(Widen(x[r * shape.dim + i])) * inv;
        const double got = Widen(y[r * shape.dim + i]);
        const double step = std::ldexp(1.0, std::ilogb(std::max(std::abs(want), 1e-30)) - 7);
        ASSERT_LE(std::abs(got - want), step) << r << ", " << i;
      }
    }
  }
}

// The spec's numpy model computes exactly this order with the same rsqrt: identical bits.
TEST(GdnL2NormTest, ReferenceMatchesTheSpecModel) {
  const std::string dir = TGK_GDN_L2NORM_TESTDATA;
  std::ifstream cases(dir + "/cases.txt");
  ASSERT_TRUE(cases) << dir;
  std::string name;
  GdnL2NormShape s;
  int count = 0;
  while (cases >> name >> s.rows >> s.dim) {
    SCOPED_TRACE(name);
    ++count;
    std::ifstream file(dir + "/" + name + ".bin", std::ios::binary);
    std::vector<bf16> x(s.rows * s.dim), want(x.size());
    file.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(bf16)));
    file.read(reinterpret_cast<char*>(want.data()), std::streamsize(want.size() * sizeof(bf16)));
    ASSERT_TRUE(file) << "short fixture";
    EXPECT_TRUE(test::BitsEqual(want, Reference(s, x)));
  }
  EXPECT_EQ(count, 4);
}

TEST(GdnL2NormTest, RaceCheckerIsQuiet) {
  for (const GdnL2NormShape& shape : {GdnL2NormShape{9, 5}, GdnL2NormShape{10, 300}}) {
    const std::vector<bf16> x = RandomRows<bf16>(shape, 9);
    EXPECT_TRUE(test::BitsEqual(
        Reference(shape, x),
        RunKernel(shape, x, {.threads = 2, .target = Target::Scalar(), .check_races = true})));
  }
}

TEST(GdnL2NormTest, ValidationErrors) {
  const GdnL2NormShape ok{4, 8};
  std::vector<float> in(33, 0.5f);
  struct Case {
    GdnL2NormShape shape;
    size_t in_count, out_count;
    DType in_dtype, out_dtype;
    bool null;
    std::string message;
  };
  const DType f = DType::kF32, bf = DType::kBF16, u8 = DType::kU8;
  const Case cases[] = {
      {{0, 8}, 32, 32, f, f, false, "L2 norm rows and dim must be > 0"},
      {{4, 0}, 32, 32, f, f, false, "L2 norm rows and dim must be > 0"},
      {{uint64_t{1} << 40, 1u << 30},
       32,
       32,
       f,
       f,
       false,
       "L2 norm rows(1099511627776) * dim(1073741824) overflows 64 bits"},
      {ok, 33, 32, f, f, false, "L2 norm input element count 33 != rows(4) * dim(8)"},
      {ok, 32, 31, f, f, false, "L2 norm output element count 31 != rows(4) * dim(8)"},
      {ok, 32, 32, f, bf, false, "L2 norm input/output dtype mismatch: f32 vs bf16"},
      {ok, 32, 32, u8, u8, false, "L2 norm unsupported dtype: u8"},
      {ok, 32, 32, f, f, true, "L2 norm input has 32 elements but a null data pointer"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    std::vector<float> out(33, -7.0f);
    Queue queue({.threads = 2});
    test::ExpectInvalidArgument(
        [&] {
          GatedDeltaNetL2Norm(queue, c.shape,
                              ConstView(c.null ? nullptr : in.data(), c.in_count, c.in_dtype),
                              View(out.data(), c.out_count, c.out_dtype));
        },
        c.message);
    queue.commit_and_wait();
    for (float x : out) ASSERT_EQ(x, -7.0f);
  }
}

}  // namespace
}  // namespace tgk
