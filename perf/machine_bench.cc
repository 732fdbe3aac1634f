// The machine's ceilings and the runtime's dispatch overhead, for threads 1..nproc.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "machine_bench.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// A kernel that does nothing: what remains is the cost of a dispatch.
struct EmptyKernel {
  int unused;
  template <class Group>
  void operator()(Group&) const {}
};
TGK_DEFINE_KERNEL_RUNNERS(EmptyKernel, int)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <benchmark/benchmark.h>
#include <omp.h>

#include "ceilings.h"
#include "tgk/queue.h"

namespace tgk {
TGK_EXPORT_KERNEL(EmptyKernel, "empty")
}  // namespace tgk

namespace {

void ThreadArgs(benchmark::internal::Benchmark* b) {
  for (int t = 1; t <= omp_get_num_procs(); ++t) b->Arg(t);
  b->UseRealTime();
}

void BM_Ceilings(benchmark::State& state) {
  const int threads = int(state.range(0));
  tgk::perf::Ceilings c{};
  for (auto _ : state) c = tgk::perf::MeasuredCeilings(threads);
  state.counters["fma_GFLOPs"] = c.fma_gflops;
  state.counters["mul_add_GFLOPs"] = c.mul_add_gflops;
  state.counters["read_GBs"] = c.read_gbs;
  state.counters["copy_GBs"] = c.copy_gbs;
}
BENCHMARK(BM_Ceilings)->Apply(ThreadArgs)->Iterations(1);

// 64 groups x 256 lanes of an empty kernel: record, commit, wait.
void BM_EmptyDispatch(benchmark::State& state) {
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  for (auto _ : state) {
    queue.dispatch(tgk::EmptyKernelEntry(), tgk::Dim3{64, 1, 1}, 256, tgk::ArenaSizes{}, 0);
    queue.commit_and_wait();
  }
}
BENCHMARK(BM_EmptyDispatch)->Apply(ThreadArgs);

// The same 64 items in a bare OpenMP loop: the floor any OpenMP runtime pays.
void BM_BareOmpParallelFor(benchmark::State& state) {
  const int threads = int(state.range(0));
  int sink[64] = {};
  for (auto _ : state) {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (int i = 0; i < 64; ++i) sink[i] += i;
    benchmark::DoNotOptimize(sink);
  }
}
BENCHMARK(BM_BareOmpParallelFor)->Apply(ThreadArgs);

}  // namespace
#endif  // HWY_ONCE
