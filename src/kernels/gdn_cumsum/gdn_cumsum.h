// Stage 2 of the chunked gated delta rule (docs/spec/gdn_cumsum.md):
// mlx-native's `chunk_local_cumsum_g_f32`. For every batch b, value head h and chunk of 64
// steps starting at t0:
//
//   G[b, t0+i, h] = (((+0 + g[b, t0, h]) + g[b, t0+1, h]) + …) + g[b, t0+i, h]
//
// one serial binary32 running sum per chunk, restarted at every chunk, starting from +0 (so a
// −0 at the start of a chunk becomes +0). g is the raw per-token log-decay.
//
// Limits tgk lifts, without changing any result of a shape mlx-native accepts:
//   - T need not be a multiple of 64: the last chunk is partial (FLA semantics: its sum runs
//     over its valid rows only; nothing past T is read or written).
//   - Offsets are 64-bit and element counts are checked for 64-bit overflow.
// g_cumsum may be the same buffer as g (each element is read before it is written, by the
// lane that writes it).
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnCumsumShape {
  uint32_t B = 1;    // batch
  uint32_t T = 0;    // time steps
  uint32_t H = 0;    // value heads
  uint32_t BT = 64;  // chunk size; must be 64
};

inline constexpr uint32_t kGdnCumsumChunk = 64;

// g, g_cumsum: f32 [B, T, H]. Checks, in order (tgk::Error, kind kInvalidArgument; nothing is
// recorded then): "chunk_local_cumsum_g: all dims must be > 0";
// "chunk_local_cumsum_g: bt must be 64 (got {bt})"; for g then g_cumsum, count then dtype:
// "chunk_local_cumsum_g: {name} element count {count} != expected {B·T·H}",
// "chunk_local_cumsum_g: {name} must be f32 (got {dtype})", and a null pointer. mlx-native's
// stage has no dispatcher of its own (its orchestrator checks these dims); the messages follow
// the pipeline's other stages. Then records the dispatch on `queue`.
void GatedDeltaNetChunkCumsum(Queue& queue, const GdnCumsumShape& shape, ConstView g,
                              View g_cumsum);

// Bytes read and written once (8 per element): the work unit of this memory-bound stage.
double GdnCumsumBytes(const GdnCumsumShape& shape);

}  // namespace tgk
