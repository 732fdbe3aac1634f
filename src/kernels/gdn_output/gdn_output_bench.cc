// gated_delta_net_chunk_o_bf16 at the chunked forward's benchmark shape (B=1, T=4096, Hg=16,
// H=32, K=V=128: 8.59 GFLOP nominal a call), threads 1..nproc, best target and oracle.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_output.h"

namespace {

struct Problem {
  tgk::GdnOutputShape shape{1, 4096, 16, 32, 128, 128};
  tgk::test::AlignedVector<tgk::bf16> q, k, v_new, h, o;
  tgk::test::AlignedVector<float> g;

  Problem() {
    tgk::test::Random random(1);
    const auto bf16s = [&](size_t n, float scale) {
      return tgk::test::Aligned(random.Vector<tgk::bf16>(n, tgk::test::Normal(0.0f, scale)));
    };
    const size_t rows = size_t{shape.B} * shape.T * shape.H;
    const size_t keys = size_t{shape.B} * shape.T * shape.Hg * shape.K;
    q = bf16s(keys, 1.0f / std::sqrt(128.0f));
    k = bf16s(keys, 1.0f / std::sqrt(128.0f));
    v_new = bf16s(rows * shape.V, 0.5f);
    h = bf16s(size_t{shape.B} * (shape.T / 64) * shape.H * shape.V * shape.K, 0.1f);
    g.resize(rows);
    for (size_t i = 0; i < rows; ++i) g[i] = -0.05f * float(i / shape.H % 64 + 1);
    o.resize(rows * shape.V);
  }
};

void RunOutput(benchmark::State& state, tgk::Target target) {
  static Problem p;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::GdnOutputFlops(p.shape), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetChunkOutput(
            q, p.shape, tgk::ConstView::Of<tgk::bf16>(p.q.data(), p.q.size()),
            tgk::ConstView::Of<tgk::bf16>(p.k.data(), p.k.size()),
            tgk::ConstView::Of<tgk::bf16>(p.v_new.data(), p.v_new.size()),
            tgk::ConstView::Of<tgk::bf16>(p.h.data(), p.h.size()),
            tgk::ConstView::Of<float>(p.g.data(), p.g.size()), 1.0f / std::sqrt(128.0f),
            tgk::View::Of<tgk::bf16>(p.o.data(), p.o.size()));
      });
}

void BM_GdnOutputBest(benchmark::State& state) { RunOutput(state, tgk::BestTarget()); }
BENCHMARK(BM_GdnOutputBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnOutputScalarOracle(benchmark::State& state) { RunOutput(state, tgk::Target::Scalar()); }
BENCHMARK(BM_GdnOutputScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
