// The kkt kernel's arguments and launch facts (group size, arena layout), as the host entry
// point (kkt.cc) hands them to the functor (kkt-inl.h): defined once, here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kkt/kkt.h"
#include "tgk/dtype.h"
#include "tgk/geometry.h"

namespace tgk {

// Lanes per (head, chunk, batch) group: the Metal kernel's 8 simdgroups of 32.
inline constexpr uint32_t kKktGroupSize = 256;

// The group's arenas, in index order (kkt-inl.h says how each phase uses them).
enum KktArena : uint32_t {
  kKktArenaKb,     // f32 [64][64]: the rounded k·β tile, widened (exactly)
  kKktArenaKt,     // f32 [64][64]: the k tile transposed, [c][j]
  kKktArenaChunk,  // f32 [2][64]: g, then β, of the chunk's rows
  kKktArenaAcc,    // f32 [64·64 / kKktGroupSize][kKktGroupSize]: each lane's accumulators
};

// The arenas' sizes; they do not depend on the shape (K is walked in tiles of kKktTile).
inline ArenaSizes KktArenaSizes() {
  constexpr size_t kTileBytes = size_t{kKktChunk} * kKktTile * sizeof(float);
  return ArenaSizes{kTileBytes, kTileBytes, 2 * kKktChunk * sizeof(float),
                    size_t{kKktChunk} * kKktChunk * sizeof(float)};
}

struct KktArgs {
  const bf16* k;
  const float* beta;
  const float* g;
  float* A;
  uint32_t B, T, Hg, H, K;
};

}  // namespace tgk
