// gated_delta_net_chunk_inter_state_bf16: stage 6 of the chunked Gated DeltaNet forward
// (spec/gated_delta_net_chunk.md section 5), in the race-free order the spec fixes. Per batch
// b and value head h, the f32 state S (V rows × K columns, h0 initially) walks the chunks in
// order; for chunk n with L rows (64 but for a partial last chunk) and G its cumulative gate:
//
//   h[n] = bf16(S)                                         (the state entering the chunk)
//   vn[i][x] = f32(u[i][x]) − fma-chain_c(w[i][c] · S[x][c]) from +0     (c ascending)
//   v_new[i][x] = bf16(vn[i][x])
//   S = S · exp(G_{L−1});  then  S[x][c] = fma-chain_{i<L}(vb[i][x] · k[i][c]) from S
//       with vb[i][x] = bf16(vn[i][x] · exp(G_{L−1} − G_i))
//   final_state = S after the last chunk (f32, not rounded)
//
// k from key head h / (H / Hg). Chunks depend only on their rows and the state entering them,
// so a sequence split at a multiple of 64 (final_state carried as h0) gives the same bits.
//
// Limits tgk lifts:
//   - any K ≥ 1 and V ≥ 1 (Metal: K = 128, V a multiple of 32 up to 256), up to 16384 each;
//   - T need not be a multiple of 64: the last chunk has L < 64 rows, its gate is G_{L−1} and
//     its sums run over its L rows (FLA semantics); NT = ceil(T / 64);
//   - element counts and offsets are 64-bit.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnStateShape {
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
//   k: bf16 [B, T, Hg, K]  w: bf16 [B, T, H, K]  u: bf16 [B, T, H, V]  g_cumsum: f32 [B, T, H]
//   h0: f32 [B, H, V, K]  →  h: bf16 [B, NT, H, V, K]  v_new: bf16 [B, T, H, V]
//   final_state: f32 [B, H, V, K]
void GatedDeltaNetChunkState(Queue& queue, const GdnStateShape& shape, ConstView k, ConstView w,
                             ConstView u, ConstView g_cumsum, ConstView h0, View h, View v_new,
                             View final_state);

// Nominal work: 4·64·K·V flops per (batch, head, chunk) (4·L·K·V for a partial chunk).
double GdnStateFlops(const GdnStateShape& shape);

}  // namespace tgk
