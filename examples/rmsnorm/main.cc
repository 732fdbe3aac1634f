// Runs the RMSNorm family on every target and thread count and compares every output bit with
// its reference. Exits non-zero on any difference.
#include <cstdio>
#include <cstring>
#include <vector>

#include "rmsnorm.h"
#include "tgk/target.h"

int main() {
  constexpr uint32_t kRows = 5, kD = 384;
  std::vector<float> x(kRows * kD), w(kD), expected(x.size()), out(x.size());
  uint32_t seed = 1;
  for (float& v : x) v = float(int32_t(seed = seed * 1664525u + 1013904223u) >> 8) * 0x1p-20f;
  for (float& v : w) v = float((seed = seed * 1664525u + 1013904223u) >> 8) * 0x1p-23f;
  RmsNormReference(kRows, {x.data(), w.data(), expected.data(), kD, 1e-6f});
  int failures = 0;
  for (tgk::Target target : tgk::AvailableTargets()) {
    for (int threads : {1, 3}) {
      // The scalar target runs with the race checker: a missing barrier throws.
      tgk::Queue queue({.threads = threads, .target = target, .check_races = target.is_scalar()});
      out.assign(out.size(), -1.0f);
      RmsNorm(queue, kRows, {x.data(), w.data(), out.data(), kD, 1e-6f});
      queue.commit_and_wait();
      if (std::memcmp(out.data(), expected.data(), out.size() * sizeof(float)) != 0) {
        std::printf("FAIL: %s, %d threads\n", target.name().c_str(), threads);
        ++failures;
      }
    }
  }
  std::printf("rmsnorm: %s\n", failures ? "FAILED"
                                        : "every target and thread count is bitwise "
                                          "the reference");
  return failures ? 1 : 0;
}
