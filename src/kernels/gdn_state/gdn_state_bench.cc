// gated_delta_net_chunk_inter_state_bf16 at the chunked forward's benchmark shape (B=1,
// T=4096, Hg=16, H=32, K=V=128: 8.59 GFLOP nominal a call), threads 1..nproc, best target and
// oracle.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_state.h"

namespace {

struct Problem {
  tgk::GdnStateShape shape{1, 4096, 16, 32, 128, 128};
  tgk::test::AlignedVector<tgk::bf16> k, w, u, h, v_new;
  tgk::test::AlignedVector<float> g, h0, final_state;

  Problem() {
    tgk::test::Random random(1);
    const auto bf16s = [&](size_t n, float scale) {
      return tgk::test::Aligned(random.Vector<tgk::bf16>(n, tgk::test::Normal(0.0f, scale)));
    };
    const size_t rows = size_t{shape.B} * shape.T * shape.H;
    const size_t state = size_t{shape.B} * shape.H * shape.V * shape.K;
    k = bf16s(size_t{shape.B} * shape.T * shape.Hg * shape.K, 1.0f / std::sqrt(128.0f));
    w = bf16s(rows * shape.K, 1.0f / std::sqrt(128.0f));
    u = bf16s(rows * shape.V, 0.5f);
    g.resize(rows);
    for (size_t i = 0; i < rows; ++i) g[i] = -0.05f * float(i / shape.H % 64 + 1);
    h0.assign(state, 0.0f);
    h.resize(state * (shape.T / 64));
    v_new.resize(rows * shape.V);
    final_state.resize(state);
  }
};

void RunState(benchmark::State& state, tgk::Target target) {
  static Problem p;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::GdnStateFlops(p.shape), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetChunkState(
            q, p.shape, tgk::ConstView::Of<tgk::bf16>(p.k.data(), p.k.size()),
            tgk::ConstView::Of<tgk::bf16>(p.w.data(), p.w.size()),
            tgk::ConstView::Of<tgk::bf16>(p.u.data(), p.u.size()),
            tgk::ConstView::Of<float>(p.g.data(), p.g.size()),
            tgk::ConstView::Of<float>(p.h0.data(), p.h0.size()),
            tgk::View::Of<tgk::bf16>(p.h.data(), p.h.size()),
            tgk::View::Of<tgk::bf16>(p.v_new.data(), p.v_new.size()),
            tgk::View::Of<float>(p.final_state.data(), p.final_state.size()));
      });
}

void BM_GdnStateBest(benchmark::State& state) { RunState(state, tgk::BestTarget()); }
BENCHMARK(BM_GdnStateBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnStateScalarOracle(benchmark::State& state) { RunState(state, tgk::Target::Scalar()); }
BENCHMARK(BM_GdnStateScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
