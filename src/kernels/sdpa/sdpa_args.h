// The sdpa kernels' arguments, as the host entry point hands them to the functor.
#pragma once

#include <cstdint>

#include "tgk/dtype.h"

namespace tgk {

// T is float (sdpa) or bf16 (sdpa_bf16); kv_capacity is the resolved one (never 0).
template <class T>
struct SdpaArgs {
  const T* q;
  const T* k;
  const T* v;
  T* out;
  uint32_t n_heads, n_kv_heads, head_dim, seq_len, kv_seq_len, kv_capacity;
  float scale;
};

}  // namespace tgk
