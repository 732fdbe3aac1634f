// The tq_kv kernels' arguments, as the host entry points hand them to the functors. Offsets
// into the caller's buffers are formed in 64 bits inside the kernels.
#pragma once

#include <cstdint>

namespace tgk {

// hadamard_quantize_kv{_fast,_hb}: group (h, t) encodes head h of token t, read from
// src + (t·num_kv_heads + h)·head_dim, into cache position first_pos + t, which is row
// (first_pos + t) mod cache_capacity when sliding.
struct TqEncodeArgs {
  const float* src;
  uint8_t* packed;
  float* norms;
  const float* boundaries;  // T_b
  uint32_t levels;          // 2^b
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
