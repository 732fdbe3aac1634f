// What the kernel benchmarks share: the thread counts they sweep and the timing of one
// recorded call per iteration against a ceiling of the same process.
#pragma once

#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <string>

#include "ceilings.h"
#include "tgk/queue.h"

namespace tgk::perf {

// Threads 1..nproc, timed by the benchmarks themselves (commit to completion).
inline void ThreadArgs(benchmark::internal::Benchmark* b) {
  for (int t = 1; t <= omp_get_num_procs(); ++t) b->Arg(t);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

// Each iteration records one call with `record(queue)` and runs it; returns the total seconds.
template <class Record>
double TimeCommits(benchmark::State& state, Queue& queue, Record record) {
  double seconds = 0.0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    record(queue);
    queue.commit_and_wait();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
  }
  return seconds;
}

// GFLOP/s of `flops_per_call` over the timed calls, beside the FMA peak of `threads` threads.
inline void ReportFmaFraction(benchmark::State& state, double flops_per_call, double seconds,
                              int threads, Target target) {
  const double gflops = flops_per_call * double(state.iterations()) / seconds * 1e-9;
  const double peak = MeasuredCeilings(threads).fma_gflops;
  state.counters["GFLOPs"] = gflops;
  state.counters["fma_peak_GFLOPs"] = peak;
  state.counters["fraction_of_peak"] = gflops / peak;
  state.SetLabel(target.name());
}

}  // namespace tgk::perf
