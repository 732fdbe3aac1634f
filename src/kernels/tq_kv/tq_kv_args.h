// The tq_kv kernels' arguments and launch facts (group sizes, arena layout), as the host entry
// points (tq_kv.cc) hand them to the functors (tq_kv-inl.h): defined once, here. Offsets into
// the caller's buffers are formed in 64 bits inside the kernels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tgk/geometry.h"
#include "tgk/table.h"

namespace tgk {

// Group sizes. The rotation for D = 256, 512: one simdgroup, each lane holding D / 32
// elements; the fast and higher-bit encoders: TqEncodeHeadsPerGroup such simdgroups, one head
// each. The fallback encoder and rotation (other D): one lane per element. The dequantisers:
// one lane per element up to kMaxGroupSize, lane t then also handling t + kMaxGroupSize, ...
inline constexpr uint32_t kTqFastGroupSize = kSimdWidth;
// The most heads of one token that a fast or higher-bit encoder group takes: the heads' norm
// computations (dependent chains of a sum, a tree, a square root and a division) then overlap,
// and the group's fixed costs are shared (Zen 4, 4-bit: 1 head 171 ns a head, 4 heads 129, 8
// heads 123).
inline constexpr uint32_t kTqEncodeMaxHeads = 8;
// The largest power of two up to kTqEncodeMaxHeads that divides num_kv_heads (> 0), so that no
// group has a simdgroup without a head.
inline uint32_t TqEncodeHeadsPerGroup(uint32_t num_kv_heads) {
  uint32_t heads = kTqEncodeMaxHeads;
  while (num_kv_heads % heads != 0) heads /= 2;
  return heads;
}
inline uint32_t TqFallbackGroupSize(uint32_t head_dim) { return head_dim; }
inline uint32_t TqDequantizeGroupSize(uint32_t head_dim) {
  return std::min(head_dim, kMaxGroupSize);
}

// A dequantised dst of more than this many bytes is written past the caches (RowStore::kStream):
// the caches would not keep it for its reader, and each line written through them is first read
// from memory. Below it (one position, a short run) the reader may find dst in cache.
inline constexpr uint64_t kTqStreamDstBytes = uint64_t{32} << 20;
// The same for an encoder's codes, at a lower bound: their reader is a later decode step, not
// the next dispatch. 32768 tokens × 8 heads × D = 256 encode 5-6% faster so on Zen 4, 4096
// tokens 8-bit 7% and 4-bit the same (perf/RESULTS.md, seventeenth session).
inline constexpr uint64_t kTqStreamCodeBytes = uint64_t{16} << 20;

// The fallback encoder and rotation groups' one arena (the 32-lane kernels and the dequantisers
// have none), f32 [2][D], whose halves one butterfly stage reads and writes in turn (then the
// encoder's indices).
enum TqArena : uint32_t { kTqArenaExchange };

inline ArenaSizes TqFallbackArenaSizes(uint32_t head_dim) {
  return ArenaSizes{2 * size_t{head_dim} * sizeof(float)};
}

// hadamard_quantize_kv{_fast,_hb}: head h of token t is read from
// src + (t·num_kv_heads + h)·head_dim and encoded into cache position first_pos + t, which is
// row (first_pos + t) mod cache_capacity when sliding; group (i, t) encodes heads
// i·H .. i·H + H − 1 of token t, H = group size / 32 (TqEncodeHeadsPerGroup) for D = 256 and
// 512, 1 otherwise.
struct TqEncodeArgs {
  const float* src;
  uint8_t* packed;
  float* norms;
  uint32_t num_kv_heads;
  uint32_t head_dim;
  uint32_t cache_capacity;
  uint64_t first_pos;
  bool is_sliding;
  float r_d;  // binary32 nearest 1/√head_dim
  float scale_factor_d512;
  RowStore packed_store;  // kStream for codes too many to stay in the caches (tq_kv.cc)
};

// tq_dequantize_kv / tq_dequantize_hb_kv_seq: group (τ, h) decodes head h at cache row
// start_pos + τ into dst + (h·n_tokens + τ)·head_dim.
struct TqDequantizeArgs {
  const uint8_t* packed;
  const float* norms;
  float* dst;
  const float* codebook;  // C_b (the kernel's bit width selects m_b)
  uint32_t head_dim;
  uint32_t cache_capacity;
  uint32_t start_pos;
  uint32_t n_tokens;
  uint32_t norms_per_pos;
  float r_d;  // binary32 nearest 1/√head_dim
  float scale_factor_d512;
  RowStore dst_store;  // kStream for a dst too large to stay in the caches (tq_kv.cc)
};

// The inverse rotation: group r maps row r of `in` to row r of `out` (head_dim floats each).
struct TqInverseRotateArgs {
  const float* in;
  float* out;
  uint32_t head_dim;
  float r_d;
};

}  // namespace tgk
