// The recurrent gated delta net kernels' arguments and launch facts, shared by the host entry
// points and the functor.
#pragma once

#include <cstdint>

namespace tgk {

// State rows per group (one lane per row); fewer when Dv is smaller.
inline constexpr uint32_t kGdnRowsPerGroup = 32;
// The widest lane pack any target has: the staging arena is sized for it.
inline constexpr uint32_t kGdnMaxPackWidth = 16;
// Lanes of a Metal simdgroup: the decode kernel's reduction tree width.
inline constexpr uint32_t kGdnSimdWidth = 32;

enum GdnRecurrentArena : uint32_t {
  kGdnStateArena = 0,    // f32 [Dk][rows]: the group's state, transposed (column c, row x)
  kGdnStagingArena = 1,  // f32 [kWidth][rows]: a partial block's columns on their way out
};

struct GdnRecurrentArgs {
  const float* q;
  const float* k;
  const float* v;
  const float* g;
  const float* beta;
  const float* state_in;
  float* output;
  float* state_out;
  // Null: Sn sequences of T tokens. Else sequence s holds tokens cu_seqlens[s] ..
  // cu_seqlens[s+1]−1 of one packed run of T.
  const int32_t* cu_seqlens;
  float scale;  // q is used as f32(q·scale); 1 for the spec's kernels
  uint32_t Sn, T, Hk, Hv, Dk, Dv;
  uint32_t rows;  // state rows per group (the group size)
};

}  // namespace tgk
