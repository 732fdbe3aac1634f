// flash_attn_vec's launch facts (group sizes, arena layout), shared by the host entry points
// (flash_attn_vec.cc) and the functors (flash_attn_vec-inl.h): defined once, here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/flash_attn_vec/flash_attn_vec.h"
#include "tgk/dtype.h"
#include "tgk/geometry.h"

namespace tgk {

// The vector kernel: one simdgroup per group. The reduce: 32 simdgroups, lane w of each
// holding workgroup w of the split.
inline constexpr uint32_t kFlashAttnVecGroupSize = kSimdWidth;
inline constexpr uint32_t kFlashAttnVecReduceGroupSize = kFlashAttnVecNwg * kSimdWidth;

// f32 lanes of the widest Highway vector: the SIMD path's per-position partials take
// kFlashAttnVecMaxLanes² floats per head.
inline constexpr uint32_t kFlashAttnVecMaxLanes = 16;

// The vector kernel's arenas, in index order, for a group of `heads` query heads and `wpg`
// workgroups of the split (the reduce has none).
enum FlashAttnVecArena : uint32_t {
  kFlashAttnVecArenaQ16,     // f16 [heads][head_dim]: q̃ = f16(Q)
  kFlashAttnVecArenaO,       // f32 [wpg][heads][head_dim]: each workgroup's O
  kFlashAttnVecArenaScores,  // f32 [heads][32]: a block's scores, then its weights
  kFlashAttnVecArenaQ,       // f32 [heads][head_dim] q̃ widened, then the SIMD path's partials
};

inline ArenaSizes FlashAttnVecArenaSizes(uint32_t heads, uint32_t head_dim, uint32_t wpg) {
  const size_t row = size_t{heads} * head_dim;
  return ArenaSizes{
      row * sizeof(f16), wpg * row * sizeof(float),
      size_t{heads} * kFlashAttnVecBlock * sizeof(float),
      (row + size_t{heads} * kFlashAttnVecMaxLanes * kFlashAttnVecMaxLanes) * sizeof(float)};
}

}  // namespace tgk
