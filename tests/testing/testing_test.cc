// The testing library checks itself: a comparison that never fails, or a configuration list
// that skips a target, would make every kernel test pass vacuously.
#include <gtest/gtest.h>
#include <hwy/highway.h>

#include <cctype>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/poison.h"
#include "testing/random.h"
#include "tgk/convert.h"
#include "tgk/target.h"

namespace tgk::test {
namespace {

TEST(TestingConfigs, EveryTargetWithEveryThreadCountAndAReadableName) {
  const std::vector<Config> configs = AllConfigs();
  ASSERT_EQ(configs.size(), AvailableTargets().size() * std::size(kThreadCounts));
  EXPECT_TRUE(configs.front().target.is_scalar());
  EXPECT_EQ(configs.front().name(), "Scalar_1Thread");
  std::set<std::string> names;
  for (const Config& c : configs) {
    EXPECT_EQ(c.options().threads, c.threads);
    EXPECT_TRUE(c.options().target == c.target);
    for (const char ch : c.name()) EXPECT_TRUE(std::isalnum((unsigned char)ch) || ch == '_');
    names.insert(c.name());
  }
  EXPECT_EQ(names.size(), configs.size());
  EXPECT_EQ((Config{Target::Highway(HWY_AVX2), 7}.name()), "AVX2_7Threads");
  EXPECT_EQ((Config{Target::Highway(HWY_AVX3_DL), 2}.name()), "AVX3_DL_2Threads");
}

TEST(TestingPoison, PatternsAreSignallingNaNsOrA5Bytes) {
  const float f = PoisonValue<float>();
  EXPECT_TRUE(std::isnan(f));
  EXPECT_EQ(BitsOf(f), 0x7FA5A5A5u);
  EXPECT_TRUE(std::isnan(F32FromBF16(PoisonValue<bf16>())));
  EXPECT_TRUE(std::isnan(F32FromF16(PoisonValue<f16>())));
  // Arithmetic quiets a signalling NaN, so no computed result has the poison's bits.
  volatile float one = 1.0f;
  EXPECT_NE(BitsOf(f * one), BitsOf(f));
  EXPECT_EQ(PoisonValue<uint8_t>(), 0xA5);
  EXPECT_EQ(PoisonValue<uint32_t>(), 0xA5A5A5A5u);
  std::vector<float> v(5, 1.0f);
  Poison(v);
  EXPECT_TRUE(BitsEqual(v, Poisoned<float>(5)));
}

TEST(TestingCompare, ReportsCountFirstIndexAndBothValues) {
  const std::vector<float> a{1.0f, 2.0f, 3.0f, 4.0f};
  EXPECT_TRUE(BitsEqual(a, a));
  std::vector<float> b = a;
  b[2] = -0.5f;
  b[3] = PoisonValue<float>();
  const ::testing::AssertionResult r = BitsEqual(a, b);
  EXPECT_FALSE(r);
  EXPECT_STREQ(r.message(),
               "2 of 4 elements differ; first at index 2: expected 0x40400000 (3), "
               "got 0xBF000000 (-0.5)");
  // Bits, not values: -0 differs from +0, and NaNs compare by payload.
  EXPECT_FALSE(BitsEqual(std::vector<float>{0.0f}, std::vector<float>{-0.0f}));
  EXPECT_TRUE(BitsEqual(std::vector<float>{b[3]}, std::vector<float>{b[3]}));
  EXPECT_STREQ(
      BitsEqual(std::vector<bf16>{bf16{0x3F80}}, std::vector<bf16>{bf16{0x7FA5}}).message(),
      "1 of 1 elements differ; first at index 0: expected 0x3F80 (1), got 0x7FA5 (nan)");
  EXPECT_STREQ(BitsEqual(std::vector<uint8_t>{1, 2}, std::vector<uint8_t>{1}).message(),
               "sizes differ: expected 2 elements, got 1");
}

TEST(TestingRandom, SameSeedSameValuesInRange) {
  Random a(7), b(7), c(8);
  const auto x = a.Vector<float>(1000, Uniform(-2.0f, 3.0f));
  EXPECT_TRUE(BitsEqual(x, b.Vector<float>(1000, Uniform(-2.0f, 3.0f))));
  EXPECT_FALSE(BitsEqual(x, c.Vector<float>(1000, Uniform(-2.0f, 3.0f))));
  for (const float v : x) {
    EXPECT_GE(v, -2.0f);
    EXPECT_LT(v, 3.0f);
  }
  // bf16 values are the f32 draws rounded by tgk's conversion.
  Random d(7);
  const auto y = d.Vector<bf16>(1000, Uniform(-2.0f, 3.0f));
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i].bits, BF16FromF32(x[i]).bits);
  Random e(9);
  const auto n = e.Vector<float>(20000, Normal(1.0f, 2.0f));
  double sum = 0.0, squares = 0.0;
  for (const float v : n) sum += v, squares += double(v) * v;
  const double mean = sum / double(n.size());
  EXPECT_NEAR(mean, 1.0, 0.05);
  EXPECT_NEAR(std::sqrt(squares / double(n.size()) - mean * mean), 2.0, 0.05);
  Random f(3);
  for (const uint8_t v : f.Vector<uint8_t>(100, Uniform(0.0f, 16.0f))) EXPECT_LT(v, 16);
}

}  // namespace
}  // namespace tgk::test
