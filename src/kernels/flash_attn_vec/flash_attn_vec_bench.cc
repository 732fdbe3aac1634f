// flash_attn_vec at the speed-goal shape: head_dim 256, 16 query heads over 8 kv heads,
// kv_seq_len = kv_capacity = 32768 (2 × 134 MB of f16 K and V), NWG = 1 and NWG = 32, for
// threads 1..nproc on the best target. GB/s counts K and V once plus Q and out
// (FlashAttnVecBytes); read_fraction is that over the STREAM-read ceiling of the same thread
// count, measured in this process just before each call (bench_support.h).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/flash_attn_vec.h"

namespace {

struct Problem {
  tgk::FlashAttnVecParams params;
  tgk::test::AlignedVector<float> q, out, tmp;
  tgk::test::AlignedVector<tgk::f16> k, v;

  Problem() {
    params.num_heads = 16;
    params.num_kv_heads = 8;
    params.head_dim = 256;
    params.kv_seq_len = params.kv_capacity = 32768;
    params.scale = 1.0f / 16.0f;
    const size_t kv = size_t{params.num_kv_heads} * params.kv_capacity * params.head_dim;
    q.resize(size_t{params.num_heads} * params.head_dim);
    out.resize(q.size());
    tmp.resize(tgk::FlashAttnVecNwg32TmpBytes(params.num_heads, params.head_dim) / sizeof(float));
    k.resize(kv);
    v.resize(kv);
    tgk::test::Random random(1);
    random.Fill(std::span<float>(q), tgk::test::Uniform(-1.0f, 1.0f));
    random.Fill(std::span<tgk::f16>(k), tgk::test::Uniform(-1.0f, 1.0f));
    random.Fill(std::span<tgk::f16>(v), tgk::test::Uniform(-1.0f, 1.0f));
  }
};

void RunFlashAttnVec(benchmark::State& state, bool nwg32) {
  static Problem problem;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  const auto q = tgk::ConstView::Of<float>(problem.q.data(), problem.q.size());
  const auto k = tgk::ConstView::Of<tgk::f16>(problem.k.data(), problem.k.size());
  const auto v = tgk::ConstView::Of<tgk::f16>(problem.v.data(), problem.v.size());
  const auto out = tgk::View::Of<float>(problem.out.data(), problem.out.size());
  const auto tmp = tgk::View::Of<float>(problem.tmp.data(), problem.tmp.size());
  const auto record = [&](tgk::Queue& into) {
    if (nwg32) {
      tgk::FlashAttnVecF16Nwg32(into, problem.params, q, k, v, tmp, out);
    } else {
      tgk::FlashAttnVecF16(into, problem.params, q, k, v, out);
    }
  };
  record(queue);  // warm-up: thread team, scratch memory, page tables
  queue.commit_and_wait();
  tgk::perf::TimeAgainstCeiling(state, queue, tgk::perf::Roof::kRead,
                                double(tgk::FlashAttnVecBytes(problem.params)), record);
}

void BM_FlashAttnVecNwg1(benchmark::State& state) { RunFlashAttnVec(state, false); }
BENCHMARK(BM_FlashAttnVecNwg1)->Apply(tgk::perf::ThreadArgs);

void BM_FlashAttnVecNwg32(benchmark::State& state) { RunFlashAttnVec(state, true); }
BENCHMARK(BM_FlashAttnVecNwg32)->Apply(tgk::perf::ThreadArgs);

}  // namespace
