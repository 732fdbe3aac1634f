// gated_delta_net_recompute_wu_bf16: stage 5 of the chunked Gated DeltaNet forward
// (spec/gated_delta_net_chunk.md section 5). Per batch b, value head h and chunk of 64 steps,
// with Ai the chunk's block of A_inv, β and G (the chunk-local cumulative gate) of the rows:
//
//   u[i][x] = bf16( Σ_m f32(Ai[i][m] · bf16(v[m][x] · β_m)) )
//   w[i][c] = bf16( Σ_m f32(Ai[i][m] · bf16((k[m][c] · β_m) · exp(G_m))) )
//
// each sum one f32 chain over m ascending from +0, products rounded (unfused); k from key
// head h / (H / Hg). Terms above the diagonal are computed (they are +0 for finite inputs).
//
// Limits tgk lifts (the Metal ones came from its 32 KB threadgroup memory and 64-wide tiles):
//   - any K ≥ 1 and V ≥ 1 (Metal: K a multiple of 64 up to 192, V a multiple of 64 up to 256);
//   - T need not be a multiple of 64: a partial last chunk of L rows sums over its L rows;
//   - element counts and offsets are 64-bit.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnWuShape {
  uint32_t B = 1;    // batch
  uint32_t T = 0;    // time steps
  uint32_t Hg = 0;   // key heads
  uint32_t H = 0;    // value heads, a multiple of Hg
  uint32_t K = 0;    // key dimension
  uint32_t V = 0;    // value dimension
  uint32_t BT = 64;  // chunk size; must be 64
};

// Checks every rule (tgk::Error, kind kInvalidArgument, nothing recorded then), then records
// the dispatch on `queue`.
//   k: bf16 [B, T, Hg, K]  v: bf16 [B, T, H, V]  beta, g_cumsum: f32 [B, T, H]
//   A_inv: f32 [B, T, H, 64]  →  w: bf16 [B, T, H, K]  u: bf16 [B, T, H, V]
void GatedDeltaNetRecomputeWu(Queue& queue, const GdnWuShape& shape, ConstView k, ConstView v,
                              ConstView beta, ConstView g_cumsum, ConstView A_inv, View w, View u);

// Nominal work: 2·64²·(K + V) flops per block (2·L²·(K + V) for a partial one of L rows).
double GdnWuFlops(const GdnWuShape& shape);

}  // namespace tgk
