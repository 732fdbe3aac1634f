// The stage-7 kernel's arguments and launch facts (group size, arena layout), as the host
// entry point (gdn_output.cc) hands them to the functor (gdn_output-inl.h): defined once, here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tgk/dtype.h"
#include "tgk/geometry.h"

namespace tgk {

inline constexpr uint32_t kGdnOutputChunk = 64;  // BT
// Lanes per group: lane l owns columns l + 16q of a 64-column tile (a register tile,
// gdn_tiles-inl.h).
inline constexpr uint32_t kGdnOutputLanes = 16;

// Row stride of the staged q rows, and rows of the transposed k and snapshot tiles: K rounded
// up to whole 16 × 16 blocks.
inline size_t GdnOutputStride(uint32_t K) { return (size_t{K} + 15) / 16 * 16; }

// The group's arenas, in index order (gdn_output-inl.h says how each phase uses them).
enum GdnOutputArena : uint32_t {
  kGdnOutputArenaQ,      // f32 [64][stride]: the chunk's q rows
  kGdnOutputArenaKt,     // f32 [stride][64]: its k rows transposed, KT[c][j]
  kGdnOutputArenaAb,     // f32 [64][64]: the masked, gated, rounded scores Ab[i][j]
  kGdnOutputArenaHt,     // f32 [stride][64]: a 64-row tile of the snapshot transposed, HT[c][x]
  kGdnOutputArenaV,      // f32 [64][64]: the tile's v_new columns
  kGdnOutputArenaChunk,  // f32 [2][64]: G, then e^G, of the chunk's rows (0 past T)
  kGdnOutputArenaFlags,  // f32 [16]: 1 where the lane's columns of the v_new tile are finite
};

inline ArenaSizes GdnOutputArenaSizes(uint32_t K) {
  const size_t rows_bytes = size_t{kGdnOutputChunk} * GdnOutputStride(K) * sizeof(float);
  constexpr size_t kTile = size_t{kGdnOutputChunk} * kGdnOutputChunk * sizeof(float);
  return ArenaSizes{rows_bytes,
                    rows_bytes,
                    kTile,
                    rows_bytes,
                    kTile,
                    2 * kGdnOutputChunk * sizeof(float),
                    kGdnOutputLanes * sizeof(float)};
}

struct GdnOutputArgs {
  const bf16* q;
  const bf16* k;
  const bf16* v_new;
  const bf16* h;
  const float* g;
  bf16* o;
  float scale;
  uint32_t B, T, Hg, H, K, V;
};

}  // namespace tgk
