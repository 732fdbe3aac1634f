// gated_delta_net_kkt_bf16: the chunk-scaled K·Kᵀ of the Gated DeltaNet chunk pipeline
// (docs/spec/kkt.md). For every batch b, value head h and chunk of 64 steps:
//
//   A[b, t0+i, h, j] = [i > j] · exp(g_i − g_j) · Σ_c bf16(β_i · k_i[c]) · k_j[c]
//
// with k from key head h / (H / Hg), the bf16 rounding of k·β before the dot, each 64-wide
// tile of c summed in order from +0 and the tiles added in order, the gate after the
// reduction, and the diagonal and upper triangle exactly +0.
//
// Limits tgk lifts (the Metal ones came from a 32 KB threadgroup budget and untiled tails):
//   - K may be any multiple of 64 up to 512 (Metal: 64, 128, 192).
//   - T need not be a multiple of 64: the last chunk is partial, with FLA semantics (rows and
//     columns at or past T are neither read nor written; they count as masked).
// Every other rule of the spec's section 5 holds, in its order and with its message.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct KktShape {
  uint32_t B = 1;    // batch
  uint32_t T = 0;    // time steps
  uint32_t Hg = 0;   // key heads
  uint32_t H = 0;    // value heads, a multiple of Hg
  uint32_t K = 0;    // key dimension, a multiple of 64, at most 512
  uint32_t BT = 64;  // chunk size; must be 64
};

inline constexpr uint32_t kKktChunk = 64;
inline constexpr uint32_t kKktTile = 64;  // BK
inline constexpr uint32_t kKktMaxK = 512;

// Checks every rule (tgk::Error, kind kInvalidArgument, with the spec's message; nothing is
// recorded then), then records the dispatch on `queue`; commit_and_wait() runs it.
//   k: bf16 [B, T, Hg, K]   beta, g: f32 [B, T, H]   A: f32 [B, T, H, 64]
void GatedDeltaNetKkt(Queue& queue, const KktShape& shape, ConstView k, ConstView beta, ConstView g,
                      View A);

// The kernel's nominal work, 2·64·64·K flops per (batch, head, chunk) block, as the GPU
// kernel performs it (a partial last chunk of v rows counts 2·v·v·K). tgk skips the sub-tiles
// the mask zeroes; the count does not change.
double KktFlops(const KktShape& shape);

}  // namespace tgk
