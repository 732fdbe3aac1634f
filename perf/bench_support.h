// What the kernel benchmarks share: the thread counts they sweep and the timing of one
// recorded call per iteration, each paired with a ceiling probe run of the same process.
#pragma once

#include <benchmark/benchmark.h>
#include <omp.h>

#include <chrono>
#include <vector>

#include "ceilings.h"
#include "tgk/queue.h"

namespace tgk::perf {

// Threads 1..nproc, timed by the benchmarks themselves (commit to completion).
inline void ThreadArgs(benchmark::internal::Benchmark* b) {
  for (int t = 1; t <= omp_get_num_procs(); ++t) b->Arg(t);
  b->UseManualTime()->Unit(benchmark::kMillisecond);
}

// For a memory roof, each iteration runs the `roof` ceiling probe once, untimed, then records one
// call with `record(queue)` and runs it, timed: the probe sees the machine as the call does, so
// their ratio holds however the machine's speed drifts between iterations. Calls shorter than
// kProbeEvery share a probe, one per kProbeEvery of calls: a probe takes some 20 ms, which
// before each call of a few microseconds would stretch a benchmark to half an hour, and the
// machine drifts over seconds, so a probe milliseconds old still sees the same phase.
// For a compute roof (see PairedPerRun) five probe runs come first, then untimed calls for
// kWarmUp, and every iteration is judged against the best of the probes (UnpairedCeiling).
// Reports the call's rate (`work_per_call` flops or bytes over the timed total), the median
// ceiling of the iterations and the median of their ratios, under the counter names of the
// roof.
template <class Record>
void TimeAgainstCeiling(benchmark::State& state, Queue& queue, Roof roof, double work_per_call,
                        Record record) {
  constexpr double kProbeEvery = 1e-3;  // seconds of calls
  constexpr double kWarmUp = 20e-3;     // seconds of calls
  CeilingProbe& probe = SharedCeilingProbe(queue.threads());
  const bool paired = PairedPerRun(roof);
  std::vector<double> ceilings, fractions;
  double seconds = 0.0, ceiling = 0.0, since_probe = kProbeEvery;
  const auto call = [&] {
    const auto start = std::chrono::steady_clock::now();
    record(queue);
    queue.commit_and_wait();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if (!paired) {
    std::vector<double> probes;
    for (int i = 0; i < 5; ++i) probes.push_back(probe.Run(roof));
    ceiling = UnpairedCeiling(probes);
    for (double warm = 0.0; warm < kWarmUp;) warm += call();
  }
  for (auto _ : state) {
    if (paired && since_probe >= kProbeEvery) {
      ceiling = probe.Run(roof);
      since_probe = 0.0;
    }
    const double elapsed = call();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    since_probe += elapsed;
    ceilings.push_back(ceiling);
    fractions.push_back(work_per_call / elapsed * 1e-9 / ceiling);
  }
  struct Names {
    const char *rate, *ceiling, *fraction;
  };
  const Names names = roof == Roof::kFma ? Names{"GFLOPs", "fma_peak_GFLOPs", "fraction_of_peak"}
                      : roof == Roof::kMulAdd
                          ? Names{"GFLOPs", "mul_add_peak_GFLOPs", "fraction_of_peak"}
                      : roof == Roof::kRead ? Names{"GBs", "stream_read_GBs", "read_fraction"}
                                            : Names{"GBs", "copy_GBs", "fraction_of_copy"};
  state.counters[names.rate] = work_per_call * double(state.iterations()) / seconds * 1e-9;
  state.counters[names.ceiling] = Median(ceilings);
  state.counters[names.fraction] = Median(fractions);
  state.SetLabel(queue.target().name());
}

}  // namespace tgk::perf
