// The configurations every kernel test runs: each available target (tgk's scalar lanes first,
// then every Highway target this CPU supports) with 1, 2, 3 and 7 threads: results must not
// depend on either. As a GoogleTest parameter generator whose names read "AVX2_3Threads", so
// that --gtest_filter='*AVX2*' runs one target and '*Scalar*' the oracle:
//
//   class KktParity : public ::testing::TestWithParam<tgk::test::Config> {};
//   TEST_P(KktParity, MatchesReference) { Queue queue(GetParam().options()); ... }
//   TGK_INSTANTIATE_CONFIGS(KktParity);
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk::test {

// The thread counts: one, two, and team sizes that divide no group count evenly.
inline constexpr int kThreadCounts[] = {1, 2, 3, 7};

struct Config {
  Target target;
  int threads;

  QueueOptions options() const { return QueueOptions{.threads = threads, .target = target}; }
  // "Scalar_1Thread", "AVX3_DL_7Threads", "HWY_SCALAR_2Threads": a GoogleTest name.
  std::string name() const;
};

// Every available target × kThreadCounts, the scalar target first.
std::vector<Config> AllConfigs();

// For INSTANTIATE_TEST_SUITE_P: the configurations and their names.
inline auto Configs() { return ::testing::ValuesIn(AllConfigs()); }
inline std::string ConfigName(const ::testing::TestParamInfo<Config>& info) {
  return info.param.name();
}

// SCOPED_TRACE and failure messages print the configuration by name.
inline void PrintTo(const Config& config, std::ostream* os) { *os << config.name(); }

}  // namespace tgk::test

// Instantiates the TEST_P tests of `suite` (a TestWithParam<tgk::test::Config>) once per
// configuration.
#define TGK_INSTANTIATE_CONFIGS(suite) \
  INSTANTIATE_TEST_SUITE_P(Targets, suite, ::tgk::test::Configs(), ::tgk::test::ConfigName)
