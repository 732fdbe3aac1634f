// The tq_kv kernels' arguments and launch facts (group sizes, arena layout), as the host entry
// points (tq_kv.cc) hand them to the functors (tq_kv-inl.h): defined once, here. Offsets into
// the caller's buffers are formed in 64 bits inside the kernels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tgk/geometry.h"

namespace tgk {

// Group sizes. The fast and higher-bit encoders and the rotation for D = 256, 512: one
// simdgroup, each lane holding D / 32 elements. The fallback encoder and rotation (other D):
// one lane per element. The dequantisers: one lane per element up to kMaxGroupSize, lane t
// then also handling t + kMaxGroupSize, ...
inline constexpr uint32_t kTqFastGroupSize = kSimdWidth;
inline uint32_t TqFallbackGroupSize(uint32_t head_dim) { return head_dim; }
inline uint32_t TqDequantizeGroupSize(uint32_t head_dim) {
  return std::min(head_dim, kMaxGroupSize);
}

// The fallback encoder and rotation groups' one arena (the 32-lane kernels and the dequantisers
// have none), f32 [2][D], whose halves one butterfly stage reads and writes in turn (then the
// encoder's indices).
enum TqArena : uint32_t { kTqArenaExchange };

inline ArenaSizes TqFallbackArenaSizes(uint32_t head_dim) {
  return ArenaSizes{2 * size_t{head_dim} * sizeof(float)};
}

// hadamard_quantize_kv{_fast,_hb}: group (h, t) encodes head h of token t, read from
// src + (t·num_kv_heads + h)·head_dim, into cache position first_pos + t, which is row
// (first_pos + t) mod cache_capacity when sliding.
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
};

// The inverse rotation: group r maps row r of `in` to row r of `out` (head_dim floats each).
struct TqInverseRotateArgs {
  const float* in;
  float* out;
  uint32_t head_dim;
  float r_d;
};

}  // namespace tgk
