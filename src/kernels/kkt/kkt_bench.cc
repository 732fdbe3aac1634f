// gated_delta_net_kkt at the tool's default shape (B=1, T=4096, H=Hg=16, K=128: 1.07 GFLOP a
// call), for threads 1..nproc, on the best target and on the scalar oracle.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/kkt.h"

namespace {

struct Problem {
  tgk::KktShape shape{1, 4096, 16, 16, 128};
  tgk::test::AlignedVector<tgk::bf16> k;
  tgk::test::AlignedVector<float> beta, g, a;

  Problem() {
    tgk::test::Random random(1);
    k = tgk::test::Aligned(random.Vector<tgk::bf16>(size_t{shape.B} * shape.T * shape.Hg * shape.K,
                                                    tgk::test::Normal(0.0f, 0.1f)));
    beta = tgk::test::Aligned(
        random.Vector<float>(size_t{shape.B} * shape.T * shape.H, tgk::test::Uniform(0.1f, 1.0f)));
    g.resize(beta.size());
    for (size_t i = 0; i < g.size(); ++i) g[i] = -0.05f * float(i / shape.H % tgk::kKktChunk);
    a.resize(size_t{shape.B} * shape.T * shape.H * tgk::kKktChunk);
  }
};

void RunKkt(benchmark::State& state, tgk::Target target) {
  static Problem problem;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::KktFlops(problem.shape), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetKkt(q, problem.shape,
                              tgk::ConstView::Of<tgk::bf16>(problem.k.data(), problem.k.size()),
                              tgk::ConstView::Of<float>(problem.beta.data(), problem.beta.size()),
                              tgk::ConstView::Of<float>(problem.g.data(), problem.g.size()),
                              tgk::View::Of<float>(problem.a.data(), problem.a.size()));
      });
}

void BM_KktBest(benchmark::State& state) { RunKkt(state, tgk::BestTarget()); }
BENCHMARK(BM_KktBest)->Apply(tgk::perf::ThreadArgs);

void BM_KktScalarOracle(benchmark::State& state) { RunKkt(state, tgk::Target::Scalar()); }
BENCHMARK(BM_KktScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
