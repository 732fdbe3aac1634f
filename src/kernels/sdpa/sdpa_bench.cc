// sdpa and sdpa_bf16 at the speed-goal shape (batch 1, 16 query heads over 8 KV heads,
// head_dim 128, causal prefill seq_len = kv_seq_len = 512: 1.08 GFLOP a call at 4·head_dim flops
// per visible (query, key) pair), for threads 1..nproc, on the best target and the oracle.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <cmath>
#include <random>
#include <vector>

#include "ceilings.h"
#include "tgk/convert.h"
#include "tgk/kernels/sdpa.h"

namespace {

constexpr tgk::SdpaParams kShape{1, 16, 8, 128, 512, 512, 0.08838834764831845f, 0};

template <class T>
struct Problem {
  std::vector<T> q, k, v, out;

  Problem() {
    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const auto fill = [&](std::vector<T>& x, size_t n) {
      x.resize(n);
      for (auto& e : x) {
        if constexpr (std::is_same_v<T, float>) {
          e = normal(rng);
        } else {
          e = tgk::BF16FromF32(normal(rng));
        }
      }
    };
    const size_t q_count = size_t{kShape.batch} * kShape.n_heads * kShape.seq_len * kShape.head_dim;
    const size_t kv_count =
        size_t{kShape.batch} * kShape.n_kv_heads * kShape.kv_seq_len * kShape.head_dim;
    fill(q, q_count);
    fill(k, kv_count);
    fill(v, kv_count);
    out.resize(q_count);
  }
};

template <class T>
void RunSdpa(benchmark::State& state, tgk::Target target) {
  static Problem<T> problem;
  const int threads = int(state.range(0));
  tgk::Queue queue(tgk::QueueOptions{.threads = threads, .target = target});
  const auto view = [](const std::vector<T>& x) {
    return tgk::ConstView::Of<T>(x.data(), x.size());
  };
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    tgk::Sdpa(queue, kShape, view(problem.q), view(problem.k), view(problem.v),
              tgk::View::Of<T>(problem.out.data(), problem.out.size()));
    queue.commit_and_wait();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  const double gflops = tgk::SdpaFlops(kShape) * double(state.iterations()) / seconds * 1e-9;
  const double peak = tgk::perf::MeasuredCeilings(threads).fma_gflops;
  state.counters["GFLOPs"] = gflops;
  state.counters["fma_peak_GFLOPs"] = peak;
  state.counters["fraction_of_peak"] = gflops / peak;
  state.SetLabel(target.name());
}

void ThreadArgs(benchmark::internal::Benchmark* b) {
  for (int t = 1; t <= omp_get_num_procs(); ++t) b->Arg(t);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

void BM_SdpaF32Best(benchmark::State& state) { RunSdpa<float>(state, tgk::BestTarget()); }
BENCHMARK(BM_SdpaF32Best)->Apply(ThreadArgs);

void BM_SdpaBF16Best(benchmark::State& state) { RunSdpa<tgk::bf16>(state, tgk::BestTarget()); }
BENCHMARK(BM_SdpaBF16Best)->Apply(ThreadArgs);

void BM_SdpaF32ScalarOracle(benchmark::State& state) {
  RunSdpa<float>(state, tgk::Target::Scalar());
}
BENCHMARK(BM_SdpaF32ScalarOracle)->Apply(ThreadArgs)->Iterations(1);

}  // namespace
