// gated_delta_net_recompute_wu_bf16 at the chunked forward's benchmark shape (B=1, T=4096,
// Hg=16, H=32, K=V=128: 2.15 GFLOP nominal a call), threads 1..nproc, best target and oracle.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_wu.h"

namespace {

struct Problem {
  tgk::GdnWuShape shape{1, 4096, 16, 32, 128, 128};
  tgk::test::AlignedVector<tgk::bf16> k, v, w, u;
  tgk::test::AlignedVector<float> beta, g, a_inv;

  Problem() {
    tgk::test::Random random(1);
    const size_t rows = size_t{shape.B} * shape.T * shape.H;
    k = tgk::test::Aligned(
        random.Vector<tgk::bf16>(size_t{shape.B} * shape.T * shape.Hg * shape.K,
                                 tgk::test::Normal(0.0f, 1.0f / std::sqrt(128.0f))));
    v = tgk::test::Aligned(random.Vector<tgk::bf16>(rows * shape.V, tgk::test::Normal(0.0f, 0.5f)));
    beta.assign(rows, 0.5f);
    g.resize(rows);
    for (size_t i = 0; i < rows; ++i) g[i] = -0.05f * float(i / shape.H % 64);
    a_inv.assign(rows * 64, 0.0f);
    for (size_t row = 0; row < rows; ++row) {
      const size_t i = row / shape.H % 64;
      for (size_t j = 0; j < i; ++j) a_inv[row * 64 + j] = 0.1f * random.Normal();
      a_inv[row * 64 + i] = 1.0f;
    }
    w.resize(rows * shape.K);
    u.resize(rows * shape.V);
  }
};

void RunWu(benchmark::State& state, tgk::Target target) {
  static Problem p;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::GdnWuFlops(p.shape), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetRecomputeWu(q, p.shape,
                                      tgk::ConstView::Of<tgk::bf16>(p.k.data(), p.k.size()),
                                      tgk::ConstView::Of<tgk::bf16>(p.v.data(), p.v.size()),
                                      tgk::ConstView::Of<float>(p.beta.data(), p.beta.size()),
                                      tgk::ConstView::Of<float>(p.g.data(), p.g.size()),
                                      tgk::ConstView::Of<float>(p.a_inv.data(), p.a_inv.size()),
                                      tgk::View::Of<tgk::bf16>(p.w.data(), p.w.size()),
                                      tgk::View::Of<tgk::bf16>(p.u.data(), p.u.size()));
      });
}

void BM_GdnWuBest(benchmark::State& state) { RunWu(state, tgk::BestTarget()); }
BENCHMARK(BM_GdnWuBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnWuScalarOracle(benchmark::State& state) { RunWu(state, tgk::Target::Scalar()); }
BENCHMARK(BM_GdnWuScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
