// The tq_kv family in GB/s (bytes read + bytes written, tq_kv.h's *Bytes functions) and as a
// fraction of the STREAM-copy ceiling measured in the same process just before each call
// (bench_support.h), for threads 1..nproc on the best target:
//   - tq_dequantize_hb_kv_seq, 8-bit, 8 KV heads × 32768 tokens × D = 256 (a speed goal's shape,
//     `tgk bench`), and 5-bit at the same shape, and both on the first 64 tokens (in cache);
//   - tq_dequantize_kv (4-bit) at a decode step, 8 heads × D = 256, one position;
//   - the encoders: the 4-bit and 8-bit sequence encoders on 4096 tokens × 8 heads × D = 256
//     and on 64 tokens (in cache: their arithmetic alone), the 8-bit encoder on 4096 heads ×
//     D = 256 (one token), the 4-bit fallback at D = 128;
//   - the inverse rotation of 32768 rows × D = 256.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/tq_kv.h"

namespace {

tgk::test::AlignedVector<float> Normals(size_t n) {
  return tgk::test::Aligned(tgk::test::Random(1).Vector<float>(n, tgk::test::Normal()));
}

tgk::test::AlignedVector<uint8_t> RandomBytes(size_t n) {
  return tgk::test::Aligned(tgk::test::Random(2).Bytes(n));
}

// `record` against the copy ceiling, for `bytes` per call.
void Run(benchmark::State& state, uint64_t bytes, const std::function<void(tgk::Queue&)>& record) {
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0))});
  tgk::perf::TimeAgainstCeiling(state, queue, tgk::perf::Roof::kCopy, double(bytes), record);
}

// ---- tq_dequantize_hb_kv_seq: 8 heads × 32768 tokens × 256 ---------------------------------

struct SeqCache {
  static constexpr uint32_t kHeads = 8, kTokens = 32768, kDim = 256;
  tgk::test::AlignedVector<uint8_t> packed = RandomBytes(size_t{kHeads} * kTokens * kDim);
  tgk::test::AlignedVector<float> norms = Normals(size_t{kHeads} * kTokens);
  tgk::test::AlignedVector<float> dst =
      tgk::test::AlignedVector<float>(size_t{kHeads} * kTokens * kDim);
};

void DequantizeSeq(benchmark::State& state, uint32_t bits, uint32_t n_tokens) {
  static SeqCache cache;
  const tgk::TqDequantizeHbKvSeqParams params{.num_kv_heads = SeqCache::kHeads,
                                              .head_dim = SeqCache::kDim,
                                              .cache_capacity = SeqCache::kTokens,
                                              .start_pos = 0,
                                              .n_tokens = n_tokens,
                                              .codebook_bits = bits};
  Run(state, tgk::TqDequantizeHbKvSeqBytes(params), [&](tgk::Queue& queue) {
    tgk::TqDequantizeHbKvSeq(
        queue, params, tgk::ConstView::Of<uint8_t>(cache.packed.data(), cache.packed.size()),
        tgk::ConstView::Of<float>(cache.norms.data(), cache.norms.size()),
        tgk::View::Of<float>(cache.dst.data(),
                             tgk::TqDequantizeHbKvSeqRequiredElements(params).dst));
  });
}

void BM_TqDequantizeHbKvSeq8Bit(benchmark::State& state) {
  DequantizeSeq(state, 8, SeqCache::kTokens);
}
BENCHMARK(BM_TqDequantizeHbKvSeq8Bit)->Apply(tgk::perf::ThreadArgs);

void BM_TqDequantizeHbKvSeq5Bit(benchmark::State& state) {
  DequantizeSeq(state, 5, SeqCache::kTokens);
}
BENCHMARK(BM_TqDequantizeHbKvSeq5Bit)->Apply(tgk::perf::ThreadArgs);

// The first 64 tokens of each head: 8 × 64 × 256 codes and values stay in L2, so that the
// decoding, not DRAM, sets the time (the same A/B at the full shape is bandwidth-bound).
void BM_TqDequantizeHbKvSeq8BitInCache(benchmark::State& state) { DequantizeSeq(state, 8, 64); }
BENCHMARK(BM_TqDequantizeHbKvSeq8BitInCache)->Apply(tgk::perf::ThreadArgs);

void BM_TqDequantizeHbKvSeq5BitInCache(benchmark::State& state) { DequantizeSeq(state, 5, 64); }
BENCHMARK(BM_TqDequantizeHbKvSeq5BitInCache)->Apply(tgk::perf::ThreadArgs);

// ---- tq_dequantize_kv: one decode step, 8 heads × 256 --------------------------------------

void BM_TqDequantizeKvDecodeStep(benchmark::State& state) {
  constexpr uint32_t kHeads = 8, kDim = 256, kCap = 4096;
  static const tgk::test::AlignedVector<uint8_t> packed =
      RandomBytes(size_t{kHeads} * kCap * kDim / 2);
  static const tgk::test::AlignedVector<float> norms = Normals(size_t{kHeads} * kCap);
  static tgk::test::AlignedVector<float> dst(size_t{kHeads} * kDim);
  const tgk::TqDequantizeKvParams params{
      .num_kv_heads = kHeads, .head_dim = kDim, .cache_capacity = kCap, .read_pos = 1234};
  Run(state, tgk::TqDequantizeKvBytes(params), [&](tgk::Queue& queue) {
    tgk::TqDequantizeKv(queue, params, tgk::ConstView::Of<uint8_t>(packed.data(), packed.size()),
                        tgk::ConstView::Of<float>(norms.data(), norms.size()),
                        tgk::View::Of<float>(dst.data(), dst.size()));
  });
}
BENCHMARK(BM_TqDequantizeKvDecodeStep)->Apply(tgk::perf::ThreadArgs);

// ---- encoders --------------------------------------------------------------------------------

// The sequence encoders' rows: at most 4096 tokens × 8 heads × D = 256.
constexpr uint32_t kEncodeMaxTokens = 4096, kEncodeHeads = 8, kEncodeDim = 256;

// The first `elements` of the encoders' src, drawn once for every row: a row of n_tokens tokens
// reads its prefix (src is [token][head][D]), so that each call of a row's function allocates
// only its outputs. A row of more than kEncodeMaxTokens tokens throws (the program aborts).
tgk::ConstView EncoderSrc(size_t elements) {
  static const tgk::test::AlignedVector<float> src =
      Normals(size_t{kEncodeMaxTokens} * kEncodeHeads * kEncodeDim);
  if (elements > src.size()) throw std::length_error("tq_kv_bench: more encoder src than drawn");
  return tgk::ConstView::Of<float>(src.data(), elements);
}

// The 4-bit sequence encoder on n_tokens tokens × 8 heads × D = 256.
void EncodeSeq4(benchmark::State& state, uint32_t n_tokens) {
  const tgk::HadamardQuantizeKvSeqParams params{.num_kv_heads = kEncodeHeads,
                                                .head_dim = kEncodeDim,
                                                .cache_capacity = n_tokens,
                                                .write_pos_start = 0,
                                                .n_tokens = n_tokens};
  const tgk::TqEncodeElements sizes = tgk::HadamardQuantizeKvSeqRequiredElements(params);
  const tgk::ConstView src = EncoderSrc(sizes.src);
  tgk::test::AlignedVector<uint8_t> packed(sizes.packed);
  tgk::test::AlignedVector<float> norms(sizes.norms);
  Run(state, tgk::HadamardQuantizeKvSeqBytes(params), [&](tgk::Queue& queue) {
    tgk::HadamardQuantizeKvSeq(queue, params, src,
                               tgk::View::Of<uint8_t>(packed.data(), packed.size()),
                               tgk::View::Of<float>(norms.data(), norms.size()));
  });
}

void BM_HadamardQuantizeKvSeqPrefill(benchmark::State& state) {
  EncodeSeq4(state, kEncodeMaxTokens);
}
BENCHMARK(BM_HadamardQuantizeKvSeqPrefill)->Apply(tgk::perf::ThreadArgs);

// The 8-bit sequence encoder on n_tokens tokens × 8 heads × D = 256.
void EncodeHbSeq8(benchmark::State& state, uint32_t n_tokens) {
  const tgk::HadamardQuantizeKvHbSeqParams params{.num_kv_heads = kEncodeHeads,
                                                  .head_dim = kEncodeDim,
                                                  .cache_capacity = n_tokens,
                                                  .write_pos_start = 0,
                                                  .n_tokens = n_tokens,
                                                  .codebook_bits = 8};
  const tgk::TqEncodeElements sizes = tgk::HadamardQuantizeKvHbSeqRequiredElements(params);
  const tgk::ConstView src = EncoderSrc(sizes.src);
  tgk::test::AlignedVector<uint8_t> packed(sizes.packed);
  tgk::test::AlignedVector<float> norms(sizes.norms);
  Run(state, tgk::HadamardQuantizeKvHbSeqBytes(params), [&](tgk::Queue& queue) {
    tgk::HadamardQuantizeKvHbSeq(queue, params, src,
                                 tgk::View::Of<uint8_t>(packed.data(), packed.size()),
                                 tgk::View::Of<float>(norms.data(), norms.size()));
  });
}

void BM_HadamardQuantizeKvHbSeq8BitPrefill(benchmark::State& state) {
  EncodeHbSeq8(state, kEncodeMaxTokens);
}
BENCHMARK(BM_HadamardQuantizeKvHbSeq8BitPrefill)->Apply(tgk::perf::ThreadArgs);

// 64 tokens (512 KiB of src): the encoders' arithmetic alone, from the caches.
void BM_HadamardQuantizeKvSeqInCache(benchmark::State& state) { EncodeSeq4(state, 64); }
BENCHMARK(BM_HadamardQuantizeKvSeqInCache)->Apply(tgk::perf::ThreadArgs);

void BM_HadamardQuantizeKvHbSeq8BitInCache(benchmark::State& state) { EncodeHbSeq8(state, 64); }
BENCHMARK(BM_HadamardQuantizeKvHbSeq8BitInCache)->Apply(tgk::perf::ThreadArgs);

void BM_HadamardQuantizeKvHb8Bit(benchmark::State& state) {
  constexpr uint32_t kHeads = 4096, kDim = 256;
  static const tgk::test::AlignedVector<float> src = Normals(size_t{kHeads} * kDim);
  static tgk::test::AlignedVector<uint8_t> packed(size_t{kHeads} * kDim);
  static tgk::test::AlignedVector<float> norms(kHeads);
  const tgk::HadamardQuantizeKvHbParams params{
      .num_kv_heads = kHeads, .head_dim = kDim, .cache_capacity = 1, .codebook_bits = 8};
  Run(state, tgk::HadamardQuantizeKvHbBytes(params), [&](tgk::Queue& queue) {
    tgk::HadamardQuantizeKvHb(queue, params, tgk::ConstView::Of<float>(src.data(), src.size()),
                              tgk::View::Of<uint8_t>(packed.data(), packed.size()),
                              tgk::View::Of<float>(norms.data(), norms.size()));
  });
}
BENCHMARK(BM_HadamardQuantizeKvHb8Bit)->Apply(tgk::perf::ThreadArgs);

void BM_HadamardQuantizeKvFallbackD128(benchmark::State& state) {
  constexpr uint32_t kHeads = 4096, kDim = 128;
  static const tgk::test::AlignedVector<float> src = Normals(size_t{kHeads} * kDim);
  static tgk::test::AlignedVector<uint8_t> packed(size_t{kHeads} * kDim / 2);
  static tgk::test::AlignedVector<float> norms(kHeads);
  const tgk::HadamardQuantizeKvParams params{
      .num_kv_heads = kHeads, .head_dim = kDim, .cache_capacity = 1};
  Run(state, tgk::HadamardQuantizeKvBytes(params), [&](tgk::Queue& queue) {
    tgk::HadamardQuantizeKv(queue, params, tgk::ConstView::Of<float>(src.data(), src.size()),
                            tgk::View::Of<uint8_t>(packed.data(), packed.size()),
                            tgk::View::Of<float>(norms.data(), norms.size()));
  });
}
BENCHMARK(BM_HadamardQuantizeKvFallbackD128)->Apply(tgk::perf::ThreadArgs);

// ---- the inverse rotation ----------------------------------------------------------------------

void BM_TqInverseRotateD256(benchmark::State& state) {
  constexpr uint32_t kRows = 32768, kDim = 256;
  static const tgk::test::AlignedVector<float> in = Normals(size_t{kRows} * kDim);
  static tgk::test::AlignedVector<float> out(size_t{kRows} * kDim);
  const tgk::TqInverseRotateParams params{.rows = kRows, .head_dim = kDim};
  Run(state, tgk::TqInverseRotateBytes(params), [&](tgk::Queue& queue) {
    tgk::TqInverseRotate(queue, params, tgk::ConstView::Of<float>(in.data(), in.size()),
                         tgk::View::Of<float>(out.data(), out.size()));
  });
}
BENCHMARK(BM_TqInverseRotateD256)->Apply(tgk::perf::ThreadArgs);

}  // namespace
