// sdpa and sdpa_bf16 at the speed-goal shape (batch 1, 16 query heads over 8 KV heads,
// head_dim 128, causal prefill seq_len = kv_seq_len = 512: 1.08 GFLOP a call at 4·head_dim flops
// per visible (query, key) pair), for threads 1..nproc, on the best target and the oracle.
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/sdpa.h"

namespace {

constexpr tgk::SdpaParams kShape{1, 16, 8, 128, 512, 512, 0.08838834764831845f, 0};

template <class T>
struct Problem {
  tgk::test::AlignedVector<T> q, k, v, out;

  Problem() {
    tgk::test::Random random(1);
    const auto fill = [&](tgk::test::AlignedVector<T>& x, size_t n) {
      x = tgk::test::Aligned(random.Vector<T>(n, tgk::test::Normal()));
    };
    const size_t q_count = size_t{kShape.batch} * kShape.n_heads * kShape.seq_len * kShape.head_dim;
    const size_t kv_count =
        size_t{kShape.batch} * kShape.n_kv_heads * kShape.kv_seq_len * kShape.head_dim;
    fill(q, q_count);
    fill(k, kv_count);
    fill(v, kv_count);
    out.resize(q_count);
  }
};

template <class T>
void RunSdpa(benchmark::State& state, tgk::Target target) {
  static Problem<T> problem;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  const auto view = [](const tgk::test::AlignedVector<T>& x) {
    return tgk::ConstView::Of<T>(x.data(), x.size());
  };
  tgk::perf::TimeAgainstCeiling(
      state, queue, tgk::perf::Roof::kMulAdd, tgk::SdpaFlops(kShape), [&](tgk::Queue& q) {
        tgk::Sdpa(q, kShape, view(problem.q), view(problem.k), view(problem.v),
                  tgk::View::Of<T>(problem.out.data(), problem.out.size()));
      });
}

void BM_SdpaF32Best(benchmark::State& state) { RunSdpa<float>(state, tgk::BestTarget()); }
BENCHMARK(BM_SdpaF32Best)->Apply(tgk::perf::ThreadArgs);

void BM_SdpaBF16Best(benchmark::State& state) { RunSdpa<tgk::bf16>(state, tgk::BestTarget()); }
BENCHMARK(BM_SdpaBF16Best)->Apply(tgk::perf::ThreadArgs);

void BM_SdpaF32ScalarOracle(benchmark::State& state) {
  RunSdpa<float>(state, tgk::Target::Scalar());
}
BENCHMARK(BM_SdpaF32ScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
