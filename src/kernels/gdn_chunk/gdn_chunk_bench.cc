// The chunked Gated DeltaNet forward at B=1, T=4096, Hg=16, H=32, K=V=128 (Qwen3-Next-like;
// 24.15 GFLOP nominal a call, spec section 12), as a fraction of the f32 FMA peak, for
// threads 1..nproc; and each stage alone on the same data (the whole call's intermediates),
// against the same peak with its own nominal flops (stages 1 and 2, memory-bound, against
// STREAM copy with the bytes they read and write once).
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_chunk.h"
#include "tgk/kernels/gdn_cumsum.h"
#include "tgk/kernels/gdn_l2norm.h"
#include "tgk/kernels/gdn_output.h"
#include "tgk/kernels/gdn_solve.h"
#include "tgk/kernels/gdn_state.h"
#include "tgk/kernels/gdn_wu.h"
#include "tgk/kernels/kkt.h"

namespace {

using tgk::bf16;
using tgk::ConstView;
using tgk::View;

struct Problem {
  tgk::GdnChunkShape s{1, 4096, 16, 32, 128, 128};
  tgk::test::AlignedVector<bf16> q, k, v, o, q_n, k_n;
  tgk::test::AlignedVector<float> g, beta, h0, final_state;
  tgk::test::AlignedVector<uint8_t> scratch;
  tgk::GdnChunkScratchLayout l = tgk::GdnChunkScratch(s);

  Problem() {
    tgk::test::Random random(1);
    const size_t keys = size_t{s.B} * s.T * s.Hg * s.K, rows = size_t{s.B} * s.T * s.H;
    const auto unit = tgk::test::Normal(0.0f, 1.0f / std::sqrt(float(s.K)));
    q = tgk::test::Aligned(random.Vector<bf16>(keys, unit));
    k = tgk::test::Aligned(random.Vector<bf16>(keys, unit));
    q_n.resize(keys);
    k_n.resize(keys);
    v = tgk::test::Aligned(random.Vector<bf16>(rows * s.V, tgk::test::Normal(0.0f, 0.5f)));
    g = tgk::test::Aligned(random.Vector<float>(rows, tgk::test::Uniform(-0.1f, 0.0f)));
    beta = tgk::test::Aligned(random.Vector<float>(rows, tgk::test::Uniform(0.1f, 1.0f)));
    h0.assign(size_t{s.B} * s.H * s.V * s.K, 0.0f);
    final_state.resize(h0.size());
    o.resize(rows * s.V);
    scratch.resize(l.bytes);
    tgk::Queue queue;
    Forward(queue);
    queue.commit_and_wait();
  }

  void Forward(tgk::Queue& queue) {
    tgk::GatedDeltaRuleChunkForward(
        queue, s, ConstView::Of<bf16>(q.data(), q.size()), ConstView::Of<bf16>(k.data(), k.size()),
        ConstView::Of<bf16>(v.data(), v.size()), ConstView::Of<float>(g.data(), g.size()),
        ConstView::Of<float>(beta.data(), beta.size()), 1.0f / std::sqrt(float(s.K)),
        ConstView::Of<float>(h0.data(), h0.size()), View::Of<bf16>(o.data(), o.size()),
        View::Of<float>(final_state.data(), final_state.size()),
        View::Of<uint8_t>(scratch.data(), scratch.size()));
  }

  template <class T>
  View Part(size_t offset, size_t count) {
    return View::Of<T>(reinterpret_cast<T*>(scratch.data() + offset), count);
  }
  size_t rows() const { return size_t{s.B} * s.T * s.H; }
  size_t state() const { return size_t{s.B} * s.H * s.V * s.K; }
};

Problem& Shared() {
  static Problem problem;
  return problem;
}

void BM_GdnChunkForward(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  tgk::perf::TimeAgainstCeiling(state, queue, tgk::perf::Roof::kFma, tgk::GdnChunkFlops(p.s),
                                [&](tgk::Queue& q) { p.Forward(q); });
}
BENCHMARK(BM_GdnChunkForward)->Apply(tgk::perf::ThreadArgs);

void BM_GdnChunkStage1L2Norm(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const tgk::GdnL2NormShape s{size_t{p.s.B} * p.s.T * p.s.Hg, p.s.K};
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kCopy, 2 * tgk::GdnL2NormBytes(s, sizeof(bf16)),
      [&](tgk::Queue& q) {
        tgk::GatedDeltaNetL2Norm(q, s, ConstView::Of<bf16>(p.q.data(), p.q.size()),
                                 View::Of<bf16>(p.q_n.data(), p.q_n.size()));
        tgk::GatedDeltaNetL2Norm(q, s, ConstView::Of<bf16>(p.k.data(), p.k.size()),
                                 View::Of<bf16>(p.k_n.data(), p.k_n.size()));
      });
}
BENCHMARK(BM_GdnChunkStage1L2Norm)->Apply(tgk::perf::ThreadArgs);

void BM_GdnChunkStage2Cumsum(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const tgk::GdnCumsumShape s{p.s.B, p.s.T, p.s.H};
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kCopy, tgk::GdnCumsumBytes(s), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetChunkCumsum(q, s, ConstView::Of<float>(p.g.data(), p.g.size()),
                                      p.Part<float>(p.l.g_cumsum, p.rows()));
      });
}
BENCHMARK(BM_GdnChunkStage2Cumsum)->Apply(tgk::perf::ThreadArgs);

void BM_GdnChunkStage3Kkt(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const tgk::KktShape s{p.s.B, p.s.T, p.s.Hg, p.s.H, p.s.K};
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::KktFlops(s), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetKkt(q, s, ConstView::Of<bf16>(p.k.data(), p.k.size()),
                              ConstView::Of<float>(p.beta.data(), p.beta.size()),
                              p.Part<float>(p.l.g_cumsum, p.rows()),
                              p.Part<float>(p.l.A, p.rows() * 64));
      });
}
BENCHMARK(BM_GdnChunkStage3Kkt)->Apply(tgk::perf::ThreadArgs);

void BM_GdnChunkStage4Solve(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const tgk::GdnSolveShape s{p.s.B, p.s.T, p.s.H};
  tgk::perf::TimeAgainstCeiling(state, queue, tgk::perf::Roof::kFma, tgk::GdnSolveFlops(s),
                                [&](tgk::Queue& q) {
                                  tgk::GatedDeltaNetSolve(q, s, p.Part<float>(p.l.A, p.rows() * 64),
                                                          p.Part<float>(p.l.A_inv, p.rows() * 64));
                                });
}
BENCHMARK(BM_GdnChunkStage4Solve)->Apply(tgk::perf::ThreadArgs);

void BM_GdnChunkStage5Wu(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const tgk::GdnWuShape s{p.s.B, p.s.T, p.s.Hg, p.s.H, p.s.K, p.s.V};
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::GdnWuFlops(s), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetRecomputeWu(
            q, s, ConstView::Of<bf16>(p.k.data(), p.k.size()),
            ConstView::Of<bf16>(p.v.data(), p.v.size()),
            ConstView::Of<float>(p.beta.data(), p.beta.size()),
            p.Part<float>(p.l.g_cumsum, p.rows()), p.Part<float>(p.l.A_inv, p.rows() * 64),
            p.Part<bf16>(p.l.w, p.rows() * s.K), p.Part<bf16>(p.l.u, p.rows() * s.V));
      });
}
BENCHMARK(BM_GdnChunkStage5Wu)->Apply(tgk::perf::ThreadArgs);

void BM_GdnChunkStage6State(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const tgk::GdnStateShape s{p.s.B, p.s.T, p.s.Hg, p.s.H, p.s.K, p.s.V};
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::GdnStateFlops(s), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetChunkState(
            q, s, ConstView::Of<bf16>(p.k.data(), p.k.size()), p.Part<bf16>(p.l.w, p.rows() * s.K),
            p.Part<bf16>(p.l.u, p.rows() * s.V), p.Part<float>(p.l.g_cumsum, p.rows()),
            ConstView::Of<float>(p.h0.data(), p.h0.size()),
            p.Part<bf16>(p.l.h, p.state() * (s.T / 64)), p.Part<bf16>(p.l.v_new, p.rows() * s.V),
            View::Of<float>(p.final_state.data(), p.final_state.size()));
      });
}
BENCHMARK(BM_GdnChunkStage6State)->Apply(tgk::perf::ThreadArgs);

void BM_GdnChunkStage7Output(benchmark::State& state) {
  Problem& p = Shared();
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const tgk::GdnOutputShape s{p.s.B, p.s.T, p.s.Hg, p.s.H, p.s.K, p.s.V};
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kFma, tgk::GdnOutputFlops(s), [&](tgk::Queue& q) {
        tgk::GatedDeltaNetChunkOutput(
            q, s, ConstView::Of<bf16>(p.q.data(), p.q.size()),
            ConstView::Of<bf16>(p.k.data(), p.k.size()), p.Part<bf16>(p.l.v_new, p.rows() * s.V),
            p.Part<bf16>(p.l.h, p.state() * (s.T / 64)), p.Part<float>(p.l.g_cumsum, p.rows()),
            1.0f / std::sqrt(float(s.K)), View::Of<bf16>(p.o.data(), p.o.size()));
      });
}
BENCHMARK(BM_GdnChunkStage7Output)->Apply(tgk::perf::ThreadArgs);

}  // namespace
