// The chunk-local cumsum at the chunked forward's speed-goal shape (B=1, T=4096, H=32): 1 MiB
// read and written a call, against STREAM copy; threads 1..nproc, best target and the scalar
// oracle. The stage is tiny beside the others; this row says what it costs in the pipeline.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_cumsum.h"

namespace {

struct Problem {
  tgk::GdnCumsumShape shape{1, 4096, 32};
  tgk::test::AlignedVector<float> g, g_cumsum;

  Problem() {
    g = tgk::test::Aligned(tgk::test::Random(1).Vector<float>(size_t{shape.B} * shape.T * shape.H,
                                                              tgk::test::Uniform(-0.05f, -0.005f)));
    g_cumsum.resize(g.size());
  }
};

void Run(benchmark::State& state, tgk::Target target) {
  static Problem p;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kCopy, tgk::GdnCumsumBytes(p.shape), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetChunkCumsum(q, p.shape, tgk::ConstView::Of<float>(p.g.data(), p.g.size()),
                                      tgk::View::Of<float>(p.g_cumsum.data(), p.g_cumsum.size()));
      });
}

void BM_GdnCumsumBest(benchmark::State& state) { Run(state, tgk::BestTarget()); }
BENCHMARK(BM_GdnCumsumBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnCumsumScalarOracle(benchmark::State& state) { Run(state, tgk::Target::Scalar()); }
BENCHMARK(BM_GdnCumsumScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
