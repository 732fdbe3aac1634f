// The sdpa kernels' arguments and launch facts (group size, arena layout), as the host entry
// point (sdpa.cc) hands them to the functor (sdpa-inl.h): defined once, here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/sdpa/sdpa.h"
#include "tgk/dtype.h"
#include "tgk/geometry.h"

namespace tgk {

// Lanes per (batch, head, query tile) group: one lane per query row, the Metal kernel's TILE_Q.
inline constexpr uint32_t kSdpaGroupSize = kSdpaTileQ;

// The group's arenas, in index order; each f32 [head_dim][kSdpaGroupSize], a row's values in
// its lane's column.
enum SdpaArena : uint32_t {
  kSdpaArenaQ,    // the query tile, transposed
  kSdpaArenaAcc,  // the output accumulators
};

inline ArenaSizes SdpaArenaSizes(uint32_t head_dim) {
  const size_t tile_bytes = size_t{head_dim} * kSdpaGroupSize * sizeof(float);
  return ArenaSizes{tile_bytes, tile_bytes};
}

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
