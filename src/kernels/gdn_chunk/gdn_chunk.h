// The chunked Gated DeltaNet forward, mlx-native's dispatch_chunk_gated_delta_rule_fwd
// (spec/gated_delta_net_chunk.md): for each batch b and value head h, over time t,
//
//   S_t = e^{g_t}·S_{t−1} + β_t·(v_t − e^{g_t}·S_{t−1}·k_t)·k_tᵀ,   S_{−1} = h0[b, h]
//   o_t = scale · S_t·q_t,                                            final_state = S_{T−1}
//
// with q_t, k_t from key head h / (H / Hg) (consecutive value heads share a key head, FLA's
// repeat_interleave), g the raw per-token log-decay (natural log), the state S of V rows by K
// columns. It is evaluated chunkwise, 64 steps a chunk, as the spec's stages with their
// rounding points: with use_qk_l2norm, the L2 norm of q and k rows (stage 1,
// GatedDeltaNetL2Norm), then the cumsum of g (stage 2, GatedDeltaNetChunkCumsum), kkt (3,
// GatedDeltaNetKkt), (I + A)⁻¹ (4, GatedDeltaNetSolve), w/u (5, GatedDeltaNetRecomputeWu), the
// inter-chunk state (6, GatedDeltaNetChunkState), the output (7, GatedDeltaNetChunkOutput). Every
// output bit is the same on every target and thread count.
//
// Chunk-boundary consistency: every chunk depends only on its rows and on the f32 state
// entering it, so splitting a sequence at a multiple of 64 into two calls, the first call's
// final_state as the second's initial_state, gives the same bits as one call.
//
// Limits tgk lifts (results of the shapes mlx-native accepts are unchanged):
//   - K: any multiple of 64 up to 512 (the kkt stage's limit; Metal: K = 128 only); the
//     stages 4–7 alone take any K;
//   - V: any value from 1 to 16384 (Metal: 64, 128, 192 or 256);
//   - T need not be a multiple of 64: the last chunk is partial (FLA semantics: its sums run
//     over its rows, its gate is its last row's; equal to zero padding);
//   - element counts and offsets are 64-bit (Metal: 32-bit);
//   - batches of variable-length sequences (cu_seqlens), each with its own initial and final
//     state: GatedDeltaRuleChunkForwardVarlen.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnChunkShape {
  uint32_t B = 1;    // batch
  uint32_t T = 0;    // time steps
  uint32_t Hg = 0;   // key heads
  uint32_t H = 0;    // value heads, a multiple of Hg
  uint32_t K = 0;    // key dimension, a multiple of 64, at most 512
  uint32_t V = 0;    // value dimension, at most 16384
  uint32_t BT = 64;  // chunk size; must be 64
};

// Where the stages' intermediate tensors lie in the scratch buffer (byte offsets, each
// 64-byte aligned), and its size: g_cumsum f32 [B, T, H], A and A_inv f32 [B, T, H, 64],
// w bf16 [B, T, H, K], u and v_new bf16 [B, T, H, V], h bf16 [B, ceil(T/64), H, V, K], and
// with use_qk_l2norm the normalised q_n and k_n, bf16 [B, T, Hg, K] (empty without).
struct GdnChunkScratchLayout {
  size_t g_cumsum, A, A_inv, w, u, h, v_new, q_n, k_n;
  size_t bytes;
};
GdnChunkScratchLayout GdnChunkScratch(const GdnChunkShape& shape, bool use_qk_l2norm = false);

// Checks every rule of the spec's section 3 as tgk keeps or lifts it (tgk::Error, kind
// kInvalidArgument, in the spec's order and words; nothing is recorded then), then records the
// stages on `queue` with a memory barrier after each; commit_and_wait() runs them.
//   q, k: bf16 [B, T, Hg, K]   v: bf16 [B, T, H, V]   g, beta: f32 [B, T, H]
//   initial_state: f32 [B, H, V, K]   →   o: bf16 [B, T, H, V]   final_state: f32 [B, H, V, K]
//   scratch: u8, at least GdnChunkScratch(shape, use_qk_l2norm).bytes; it must live until the
//   queue has run. use_qk_l2norm: every row of K elements of q and k is L2-normalised first
//   (stage 1) and the later stages read the normalised copies.
// Every stage fully overwrites its part of the scratch; nothing is allocated per call.
void GatedDeltaRuleChunkForward(Queue& queue, const GdnChunkShape& shape, ConstView q, ConstView k,
                                ConstView v, ConstView g, ConstView beta, float scale,
                                ConstView initial_state, View o, View final_state, View scratch,
                                bool use_qk_l2norm = false);

// A batch of variable-length sequences (FLA's cu_seqlens): shape.B = 1 and the sequences lie
// along T, sequence i on rows cu_seqlens[i] .. cu_seqlens[i+1] − 1 (cu_seqlens runs from 0 to T,
// strictly increasing), each with its own initial_state[i] and final_state[i] ([N, H, V, K],
// N = cu_seqlens.size() − 1). Every sequence's outputs are the bits GatedDeltaRuleChunkForward
// gives it alone; its chunks start at its first row. Scratch: GdnChunkVarlenScratchBytes.
// Same checks as above (h0 and final_state counted with N), then B == 1 and cu_seqlens.
void GatedDeltaRuleChunkForwardVarlen(Queue& queue, const GdnChunkShape& shape,
                                      std::span<const uint64_t> cu_seqlens, ConstView q,
                                      ConstView k, ConstView v, ConstView g, ConstView beta,
                                      float scale, ConstView initial_state, View o,
                                      View final_state, View scratch, bool use_qk_l2norm = false);
size_t GdnChunkVarlenScratchBytes(const GdnChunkShape& shape, std::span<const uint64_t> cu_seqlens,
                                  bool use_qk_l2norm = false);

// Nominal work of stages 3–7 (spec section 12): 6·64²·K + 4·64²·V + 6·64·K·V + 64²·63 flops
// per (batch, head, chunk) at T a multiple of 64.
double GdnChunkFlops(const GdnChunkShape& shape);

}  // namespace tgk
