// Test helpers of the Gated DeltaNet chunk families: random inputs in the spec's regime,
// poisoned outputs, bit comparison, and the targets × threads sweep.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "tgk/convert.h"
#include "tgk/dtype.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk::test {

class GdnRandom {
 public:
  explicit GdnRandom(uint64_t seed) : rng_(seed) {}
  float Normal() { return normal_(rng_); }
  float Uniform() { return uniform_(rng_); }
  std::vector<bf16> Bf16(size_t n, float scale) {
    std::vector<bf16> x(n);
    for (auto& e : x) e = BF16FromF32(Normal() * scale);
    return x;
  }
  std::vector<float> F32(size_t n, float scale) {
    std::vector<float> x(n);
    for (auto& e : x) e = Normal() * scale;
    return x;
  }
  std::vector<float> Uniform(size_t n, float lo, float hi) {
    std::vector<float> x(n);
    for (auto& e : x) e = lo + (hi - lo) * Uniform();
    return x;
  }
  // A chunk-local cumulative gate [B, T, H]: sums of steps in [-0.1, 0] restarted every 64.
  std::vector<float> Gate(uint32_t B, uint32_t T, uint32_t H) {
    std::vector<float> g(size_t{B} * T * H);
    for (uint32_t b = 0; b < B; ++b) {
      for (uint32_t h = 0; h < H; ++h) {
        float sum = 0.0f;
        for (uint32_t t = 0; t < T; ++t) {
          if (t % 64 == 0) sum = 0.0f;
          sum = sum - 0.1f * Uniform();
          g[(size_t{b} * T + t) * H + h] = sum;
        }
      }
    }
    return g;
  }

 private:
  std::mt19937_64 rng_;
  std::normal_distribution<float> normal_{0.0f, 1.0f};
  std::uniform_real_distribution<float> uniform_{0.0f, 1.0f};
};

// Outputs start as NaN with a payload no kernel produces, so an unwritten element shows.
template <class T>
std::vector<T> Poisoned(size_t n) {
  if constexpr (std::is_same_v<T, bf16>) {
    return std::vector<T>(n, bf16{0x7FA5});
  } else {
    float poison;
    const uint32_t bits = 0x7FC0DEADu;
    std::memcpy(&poison, &bits, sizeof poison);
    return std::vector<T>(n, poison);
  }
}

inline float Value(float x) { return x; }
inline float Value(bf16 x) { return F32FromBF16(x); }

template <class T>
bool SameBits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

// Bitwise equal, except that any two NaNs are equal: IEEE leaves open which NaN an
// operation on NaN operands returns, and compilers commute additions.
template <class T>
bool SameValues(const std::vector<T>& x, const std::vector<T>& y) {
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    const float a = Value(x[i]), b = Value(y[i]);
    if (std::memcmp(&x[i], &y[i], sizeof(T)) != 0 && !(std::isnan(a) && std::isnan(b)))
      return false;
  }
  return true;
}

// Runs `run(options)` on every available target × threads {1, 2, 3, 7}, and on the scalar
// target with one thread, expecting `check(result, options label)` of each.
template <class Result>
void ForEveryTargetAndThreads(const std::function<Result(QueueOptions)>& run,
                              const std::function<void(const Result&)>& check) {
  {
    SCOPED_TRACE("scalar oracle");
    check(run(QueueOptions{.threads = 1, .target = Target::Scalar()}));
  }
  for (Target target : AvailableTargets()) {
    for (int threads : {1, 2, 3, 7}) {
      SCOPED_TRACE(target.name() + ", threads " + std::to_string(threads));
      check(run(QueueOptions{.threads = threads, .target = target}));
    }
  }
}

}  // namespace tgk::test
