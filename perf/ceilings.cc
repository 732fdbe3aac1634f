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

// The same chains with each step a multiply and then an add, each rounded: the instruction mix
// of kernels whose spec forbids fusing (sdpa). Where multiplies and adds share the FMA ports
// (Intel) this peak is half the FMA peak; where they have ports of their own (AMD Zen) it is
// about the same.
float MulAddChains(size_t iterations) {
  const hn::ScalableTag<float> d;
  constexpr int kChains = 12;
  hn::Vec<decltype(d)> acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = hn::Set(d, 1.0f + 1e-3f * float(i));
  const auto mul = hn::Set(d, 0.999999f);
  const auto add = hn::Set(d, 1e-7f);
  for (size_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kChains; ++i) acc[i] = hn::Add(hn::Mul(acc[i], mul), add);
  }
  auto sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = hn::Add(sum, acc[i]);
  return hn::GetLane(hn::SumOfLanes(d, sum));
}

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
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <utility>

#include "ceilings.h"

namespace tgk::perf {

HWY_EXPORT(FmaChains);
HWY_EXPORT(FmaChainLanes);
HWY_EXPORT(MulAddChains);
HWY_EXPORT(SumArray);
HWY_EXPORT(CopyArray);

namespace {

constexpr size_t kFmaIterations = size_t{1} << 22;
constexpr size_t kReadFloats = size_t{128} << 20;  // 512 MiB
constexpr size_t kCopyFloats = size_t{64} << 20;   // 256 MiB each way
constexpr int kBestOf = 5;                         // MeasuredCeilings' runs per roof

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

Array FirstTouched(size_t n, float value, int threads) {
  Array a(static_cast<float*>(std::aligned_alloc(64, n * 4)));
  if (!a) throw std::bad_alloc();
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = Share(n, omp_get_thread_num(), omp_get_num_threads());
    std::fill(a.get() + begin, a.get() + end, value);
  }
  return a;
}

// Written only on impossible results, so that no run is optimised away.
volatile float sink = 0;

void FmaRun(int threads, bool fused) {
#pragma omp parallel num_threads(threads)
  {
    const float r = fused ? HWY_DYNAMIC_DISPATCH(FmaChains)(kFmaIterations)
                          : HWY_DYNAMIC_DISPATCH(MulAddChains)(kFmaIterations);
    if (r == 12345.0f) sink = r;
  }
}

void ReadRun(const float* src, int threads) {
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = Share(kReadFloats, omp_get_thread_num(), omp_get_num_threads());
    const float s = HWY_DYNAMIC_DISPATCH(SumArray)(src + begin, end - begin);
    if (s == -1.0f) sink = s;
  }
}

void CopyRun(const float* src, float* dst, int threads) {
#pragma omp parallel num_threads(threads)
  {
    const auto [begin, end] = Share(kCopyFloats, omp_get_thread_num(), omp_get_num_threads());
    HWY_DYNAMIC_DISPATCH(CopyArray)(src + begin, dst + begin, end - begin);
  }
}

}  // namespace

// Allocated when a roof first needs them, so that a process that measures only FMA-bound
// kernels holds none of their 768 MiB. The copy reads the first half of `read`.
struct CeilingProbe::Arrays {
  Array read, copy_dst;
};

CeilingProbe::CeilingProbe(int threads) : threads_(threads), arrays_(std::make_unique<Arrays>()) {}
CeilingProbe::~CeilingProbe() = default;

double CeilingProbe::Run(Roof roof) {
  Arrays& arrays = *arrays_;
  if ((roof == Roof::kRead || roof == Roof::kCopy) && !arrays.read)
    arrays.read = FirstTouched(kReadFloats, 1.0f, threads_);
  if (roof == Roof::kCopy && !arrays.copy_dst) {
    arrays.copy_dst = FirstTouched(kCopyFloats, 0.0f, threads_);
  }
  const auto start = std::chrono::steady_clock::now();
  double work = 0;  // flops or bytes
  switch (roof) {
    case Roof::kFma:
    case Roof::kMulAdd:
      FmaRun(threads_, roof == Roof::kFma);
      work = 2.0 * double(HWY_DYNAMIC_DISPATCH(FmaChainLanes)()) * kFmaIterations * threads_;
      break;
    case Roof::kRead:
      ReadRun(arrays.read.get(), threads_);
      work = 4.0 * kReadFloats;
      break;
    case Roof::kCopy:
      CopyRun(arrays.read.get(), arrays.copy_dst.get(), threads_);
      work = 2 * 4.0 * kCopyFloats;
      break;
  }
  const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
  return work / seconds.count() * 1e-9;
}

CeilingProbe& SharedCeilingProbe(int threads) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<CeilingProbe>> probes;
  std::lock_guard<std::mutex> lock(mutex);
  auto& probe = probes[threads];
  if (!probe) probe = std::make_unique<CeilingProbe>(threads);
  return *probe;
}

double UnpairedCeiling(const std::vector<double>& probes) {
  return probes.empty() ? 0 : *std::max_element(probes.begin(), probes.end());
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return (values[(n - 1) / 2] + values[n / 2]) / 2;
}

const Ceilings& MeasuredCeilings(int threads) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<Ceilings>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[threads];
  if (!entry) {
    CeilingProbe& probe = SharedCeilingProbe(threads);
    const auto best = [&probe](Roof roof) {
      double rate = 0;
      for (int r = 0; r < kBestOf; ++r) rate = std::max(rate, probe.Run(roof));
      return rate;
    };
    entry = std::make_unique<Ceilings>(Ceilings{threads, best(Roof::kFma), best(Roof::kMulAdd),
                                                best(Roof::kRead), best(Roof::kCopy)});
  }
  return *entry;
}

}  // namespace tgk::perf
#endif  // HWY_ONCE
