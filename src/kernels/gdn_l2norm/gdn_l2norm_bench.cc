// The L2 norm at the chunked forward's speed-goal shape, one of q or k: B·T·Hg = 1·4096·16
// rows of K = 128 bf16 (16 MiB read and written), against STREAM copy; threads 1..nproc, best
// target and the scalar oracle.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_l2norm.h"

namespace {

struct Problem {
  tgk::GdnL2NormShape shape{4096 * 16, 128};
  tgk::test::AlignedVector<tgk::bf16> x, y;

  Problem() {
    x = tgk::test::Aligned(tgk::test::Random(1).Vector<tgk::bf16>(shape.rows * shape.dim,
                                                                  tgk::test::Normal(0.0f, 0.1f)));
    y.resize(x.size());
  }
};

void Run(benchmark::State& state, tgk::Target target) {
  static Problem p;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kCopy, tgk::GdnL2NormBytes(p.shape, sizeof(tgk::bf16)),
      [&](tgk::Queue& q) {
        tgk::GatedDeltaNetL2Norm(q, p.shape, tgk::ConstView::Of<tgk::bf16>(p.x.data(), p.x.size()),
                                 tgk::View::Of<tgk::bf16>(p.y.data(), p.y.size()));
      });
}

void BM_GdnL2NormBest(benchmark::State& state) { Run(state, tgk::BestTarget()); }
BENCHMARK(BM_GdnL2NormBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnL2NormScalarOracle(benchmark::State& state) { Run(state, tgk::Target::Scalar()); }
BENCHMARK(BM_GdnL2NormScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
