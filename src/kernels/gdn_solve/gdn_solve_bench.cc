// chunk_tri_solve_invert_f32 at the chunked forward's benchmark shape (B=1, T=4096, H=32:
// 0.53 GFLOP nominal a call), for threads 1..nproc, on the best target and the scalar oracle.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_solve.h"

namespace {

struct Problem {
  tgk::GdnSolveShape shape{1, 4096, 32};
  tgk::test::AlignedVector<float> a, x;

  Problem() {
    tgk::test::Random random(1);
    a.assign(size_t{shape.B} * shape.T * shape.H * 64, 0.0f);
    for (size_t row = 0; row < size_t{shape.T} * shape.H; ++row) {
      for (size_t j = 0; j < row / shape.H % 64; ++j) a[row * 64 + j] = 0.125f * random.Normal();
    }
    x.resize(a.size());
  }
};

void RunSolve(benchmark::State& state, tgk::Target target) {
  static Problem problem;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::GdnSolveFlops(problem.shape), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetSolve(q, problem.shape,
                                tgk::ConstView::Of<float>(problem.a.data(), problem.a.size()),
                                tgk::View::Of<float>(problem.x.data(), problem.x.size()));
      });
}

void BM_GdnSolveBest(benchmark::State& state) { RunSolve(state, tgk::BestTarget()); }
BENCHMARK(BM_GdnSolveBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnSolveScalarOracle(benchmark::State& state) { RunSolve(state, tgk::Target::Scalar()); }
BENCHMARK(BM_GdnSolveScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
