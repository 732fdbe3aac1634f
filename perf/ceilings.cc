#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ceilings.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep

#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace tgk::perf {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Independent fused multiply-add chains, enough to cover the FMA latency on every target.
// Returns a value derived from the accumulators so the work cannot be optimised away.
float FmaChains(size_t iterations) {
  const hn::ScalableTag<float> d;
  constexpr int kChains = 12;
  hn::Vec<decltype(d)> acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = hn::Set(d, 1.0f + 1e-3f * float(i));
  const auto mul = hn::Set(d, 0.999999f);
  const auto add = hn::Set(d, 1e-7f);
  for (size_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = hn::MulAdd(acc[i], mul, add);
  }
  auto sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = hn::Add(sum, acc[i]);
  return hn::GetLane(hn::SumOfLanes(d, sum));
}
size_t FmaChainLanes() { return 12 * hn::Lanes(hn::ScalableTag<float>()); }

float SumArray(const float* p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t w = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * w <= n; i += 4 * w) {
    a0 = hn::Add(a0, hn::LoadU(d, p + i));
    a1 = hn::Add(a1, hn::LoadU(d, p + i + w));
    a2 = hn::Add(a2, hn::LoadU(d, p + i + 2 * w));
    a3 = hn::Add(a3, hn::LoadU(d, p + i + 3 * w));
  }
  float tail = 0;
  for (; i < n; ++i) tail += p[i];
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)))) + tail;
}

void CopyArray(const float* src, float* dst, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t w = hn::Lanes(d);
  size_t i = 0;
  for (; i + w <= n; i += w) hn::StoreU(hn::LoadU(d, src + i), d, dst + i);
  for (; i < n; ++i) dst[i] = src[i];
}

}  // namespace HWY_NAMESPACE
}  // namespace tgk::perf
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "ceilings.h"

namespace tgk::perf {

HWY_EXPORT(FmaChains);
HWY_EXPORT(FmaChainLanes);
HWY_EXPORT(SumArray);
HWY_EXPORT(CopyArray);

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kRepeats = 5;

template <class Body>
double BestSeconds(Body body) {
  double best = 1e30;
  for (int r = 0; r < kRepeats; ++r) {
    const auto start = Clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

// Each thread's share of [0, n), the same static split for first touch and for the runs.
std::pair<size_t, size_t> Share(size_t n, int thread, int threads) {
  const size_t chunk = (n / size_t(threads) + 63) / 64 * 64;
  const size_t begin = std::min(n, chunk * size_t(thread));
  return {begin, std::min(n, begin + chunk)};
}

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Array = std::unique_ptr<float[], AlignedFree>;

Array Allocate(size_t n) { return Array(static_cast<float*>(std::aligned_alloc(64, n * 4))); }

Ceilings Measure(int threads) {
  Ceilings c{threads, 0, 0, 0};
  volatile float sink = 0;

  constexpr size_t kIterations = size_t{1} << 22;
  const double fma_seconds = BestSeconds([&] {
#pragma omp parallel num_threads(threads)
    {
      const float r = HWY_DYNAMIC_DISPATCH(FmaChains)(kIterations);
      if (r == 12345.0f) sink = r;
    }
  });
  c.fma_gflops = 2.0 * double(HWY_DYNAMIC_DISPATCH(FmaChainLanes)()) * kIterations * threads /
                 fma_seconds * 1e-9;

  constexpr size_t kReadFloats = size_t{128} << 20;  // 512 MiB
  Array a = Allocate(kReadFloats);
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = Share(kReadFloats, omp_get_thread_num(), omp_get_num_threads());
    for (size_t i = begin; i < end; ++i) a[i] = 1.0f;
  }
  const double read_seconds = BestSeconds([&] {
#pragma omp parallel num_threads(threads)
    {
      const auto [begin, end] = Share(kReadFloats, omp_get_thread_num(), omp_get_num_threads());
      const float s = HWY_DYNAMIC_DISPATCH(SumArray)(a.get() + begin, end - begin);
      if (s == -1.0f) sink = s;
    }
  });
  c.read_gbs = double(kReadFloats) * 4 / read_seconds * 1e-9;

  constexpr size_t kCopyFloats = size_t{64} << 20;  // 256 MiB each way
  float* src = a.get();
  Array dst = Allocate(kCopyFloats);
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = Share(kCopyFloats, omp_get_thread_num(), omp_get_num_threads());
    for (size_t i = begin; i < end; ++i) dst[i] = 0.0f;
  }
  const double copy_seconds = BestSeconds([&] {
#pragma omp parallel num_threads(threads)
    {
      const auto [begin, end] = Share(kCopyFloats, omp_get_thread_num(), omp_get_num_threads());
      HWY_DYNAMIC_DISPATCH(CopyArray)(src + begin, dst.get() + begin, end - begin);
    }
  });
  c.copy_gbs = 2.0 * double(kCopyFloats) * 4 / copy_seconds * 1e-9;
  (void)sink;
  return c;
}

}  // namespace

const Ceilings& MeasuredCeilings(int threads) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<Ceilings>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[threads];
  if (!entry) entry = std::make_unique<Ceilings>(Measure(threads));
  return *entry;
}

}  // namespace tgk::perf
#endif  // HWY_ONCE
