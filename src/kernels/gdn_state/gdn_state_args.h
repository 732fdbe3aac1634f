// The stage-6 kernel's arguments and launch facts (group size, arena layout), as the host
// entry point (gdn_state.cc) hands them to the functor (gdn_state-inl.h): defined once, here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tgk/dtype.h"
#include "tgk/geometry.h"

namespace tgk {

inline constexpr uint32_t kGdnStateChunk = 64;  // BT

// State rows per group, 64 or 128; lane l owns rows 64·(l / 16) + l % 16 + 16q, q < 4 (register
// tiles, gdn_tiles-inl.h), so a group has tile / 4 lanes. A group walks every chunk of its
// head, and a 128-row tile halves the staging of w and k and the pages touched per flop; but
// the stage has only B·H·⌈V/128⌉ such groups, so where that leaves fewer than 4 a thread, the
// groups take 64 rows and there are twice as many to balance a team over. The bits are the
// same either way (every chain runs down one lane in the spec's order).
inline uint32_t GdnStateTile(uint32_t B, uint32_t H, uint32_t V, int threads) {
  const uint64_t groups = uint64_t{B} * H * ((V + 127) / 128);
  return groups >= 4 * uint64_t(threads) ? 128 : 64;
}

// Row stride of the staged w and k rows, and the state columns the transposes move: K rounded
// up to whole 16 × 16 blocks.
inline size_t GdnStateStride(uint32_t K) { return (size_t{K} + 15) / 16 * 16; }

// The group's arenas, in index order (gdn_state-inl.h says how each phase uses them).
enum GdnStateArena : uint32_t {
  kGdnStateArenaSt,     // f32 [stride][tile]: the state tile transposed, ST[c][x]
  kGdnStateArenaW,      // f32 [64][stride]: the chunk's w rows
  kGdnStateArenaK,      // f32 [64][stride]: the chunk's k rows
  kGdnStateArenaVb,     // f32 [64][tile]: vb[i][x]
  kGdnStateArenaGates,  // f32 [64]: exp(G_{L−1} − G_i)
};

inline ArenaSizes GdnStateArenaSizes(uint32_t K, uint32_t tile) {
  const size_t rows_bytes = size_t{kGdnStateChunk} * GdnStateStride(K) * sizeof(float);
  return ArenaSizes{GdnStateStride(K) * tile * sizeof(float), rows_bytes, rows_bytes,
                    size_t{kGdnStateChunk} * tile * sizeof(float), kGdnStateChunk * sizeof(float)};
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
