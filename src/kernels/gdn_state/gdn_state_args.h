// The stage-6 kernel's arguments and launch facts (group size, arena layout), as the host
// entry point (gdn_state.cc) hands them to the functor (gdn_state-inl.h): defined once, here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tgk/dtype.h"
#include "tgk/geometry.h"

namespace tgk {

inline constexpr uint32_t kGdnStateChunk = 64;  // BT
inline constexpr uint32_t kGdnStateTile = 128;  // state rows per group
// Lanes per group: lane l owns rows 64·(l / 16) + l % 16 + 16q of the tile (register tiles,
// gdn_tiles-inl.h).
inline constexpr uint32_t kGdnStateLanes = kGdnStateTile / 4;

// Row stride of the staged w and k rows, and the state columns the transposes move: K rounded
// up to whole 16 × 16 blocks.
inline size_t GdnStateStride(uint32_t K) { return (size_t{K} + 15) / 16 * 16; }

// The group's arenas, in index order (gdn_state-inl.h says how each phase uses them).
enum GdnStateArena : uint32_t {
  kGdnStateArenaSt,     // f32 [stride][64]: the state tile transposed, ST[c][x]
  kGdnStateArenaW,      // f32 [64][stride]: the chunk's w rows
  kGdnStateArenaK,      // f32 [64][stride]: the chunk's k rows
  kGdnStateArenaVb,     // f32 [64][64]: vb[i][x]
  kGdnStateArenaGates,  // f32 [64]: exp(G_{L−1} − G_i)
};

inline ArenaSizes GdnStateArenaSizes(uint32_t K) {
  const size_t rows_bytes = size_t{kGdnStateChunk} * GdnStateStride(K) * sizeof(float);
  return ArenaSizes{GdnStateStride(K) * kGdnStateTile * sizeof(float), rows_bytes, rows_bytes,
                    size_t{kGdnStateChunk} * kGdnStateTile * sizeof(float),
                    kGdnStateChunk * sizeof(float)};
}

struct GdnStateArgs {
  const bf16* k;
  const bf16* w;
  const bf16* u;
  const float* g;
  const float* h0;
  bf16* h;
  bf16* v_new;
  float* final_state;
  uint32_t B, T, Hg, H, K, V;
};

}  // namespace tgk
