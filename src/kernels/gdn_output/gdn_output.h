// gated_delta_net_chunk_o_bf16: stage 7 of the chunked Gated DeltaNet forward
// (spec/gated_delta_net_chunk.md section 5). Per batch b, chunk n and value head h, with hb =
// h[b, n, h] (stage 6's bf16 snapshot) and G the chunk-local cumulative gate:
//
//   bo[i][x] = fma-chain_c(q[i][c] · hb[x][c]) from +0, then · exp(G_i)
//   Ab[i][j] = bf16(i ≥ j ? fma-chain_c(q[i][c] · k[j][c]) · exp(G_i − G_j) : +0)
//   o[i][x]  = bf16( fma-chain_j(Ab[i][j] · v_new[j][x]) from bo[i][x], then · scale )
//
// chains ascending; q and k from key head h / (H / Hg). The mask is a select, so masked
// infinities or NaNs never reach o.
//
// Limits tgk lifts:
//   - any K ≥ 1 and V ≥ 1 (Metal: K = 128, V a multiple of 32 up to 256), up to 16384 each;
//   - T need not be a multiple of 64: a partial last chunk of L rows uses its L rows only;
//   - element counts and offsets are 64-bit.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnOutputShape {
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
//   q, k: bf16 [B, T, Hg, K]  v_new: bf16 [B, T, H, V]  h: bf16 [B, NT, H, V, K]
//   g_cumsum: f32 [B, T, H]  →  o: bf16 [B, T, H, V]
void GatedDeltaNetChunkOutput(Queue& queue, const GdnOutputShape& shape, ConstView q, ConstView k,
                              ConstView v_new, ConstView h, ConstView g_cumsum, float scale,
                              View o);

// Nominal work per (batch, head, chunk), section 12: 2·64·K·V + 2·64²·K + 2·64²·V (a partial
// chunk of L rows: 2·L·K·V + 2·L²·K + 2·L²·V).
double GdnOutputFlops(const GdnOutputShape& shape);

}  // namespace tgk
