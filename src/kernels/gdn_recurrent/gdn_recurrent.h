// The token-by-token gated delta net (docs/spec/gdn_recurrent.md): mlx-native's
// `gated_delta_net_f32` and `gated_delta_net_decode_f32_<NSG>`, and the recurrent path of the
// layer, GatedDeltaRuleRecurrent.
//
// Per sequence s and value head h, with the state S (Dv rows x, Dk columns c) loaded from
// state_in, for each token t in order (all binary32, no rounding to bf16 anywhere):
//
//   α     = exp(−g[s,t,h])                 decay first
//   S     = α·S
//   sk[x] = Σ_c S[x][c]·k[c]               prediction with the decayed state
//   δ[x]  = β[s,t,h]·(v[s,t,h,x] − sk[x])
//   S[x][c] += δ[x]·k[c]
//   y[s,t,h,x] = Σ_c S[x][c]·q[c]          read out with the updated state
//
// and state_out = S after the last token.
//
// Gate convention: g is a decay RATE, α = exp(−g) (g ≥ 0 in use). It is the negative of
// FLA's and the chunked pipeline's log-decay: pass g = −g_log_decay (binary32 negation is
// exact, so the exp arguments are bit-identical). Nothing checks the sign.
//
// GQA mapping: TILED. Value head h reads key head kh = h % Hk (llama.cpp's ggml_repeat
// layout), not the block map h / (Hv / Hk) of FLA and the chunked pipeline. The two agree
// when Hk = Hv or Hk = 1; to run block-layout q/k through these kernels, expand them to Hv
// heads (k_exp[h] = k[h / (Hv / Hk)]) and pass Hk = Hv.
//
// q is not scaled here: the caller multiplies it by the attention scale (GatedDeltaNet,
// GatedDeltaNetDecode), or GatedDeltaRuleRecurrent does, as f32(q·scale), the same bits.
// No L2 norm is applied to q or k.
//
// Reduction orders (the only difference between the two kernels):
//   GatedDeltaNet        both sums are serial chains over c = 0..Dk−1 from +0, each product
//                        rounded to f32 before its add (unfused).
//   GatedDeltaNetDecode  NSG = Dk/32 cells per simdgroup lane: lane l sums its cells
//                        c = l·NSG .. l·NSG+NSG−1 serially from +0 (unfused), then the 32 lane
//                        sums are added in the canonical halving tree (offsets 16, 8, 4, 2, 1).
//
// Limits tgk lifts (Metal's come from its private-row size and simdgroup shapes); for every
// shape mlx-native accepts the results are those of its semantics:
//   - GatedDeltaNet: any Dk, Dv ≥ 1 up to kGdnMaxDk / any Dv (Metal: Dk, Dv ≤ 128).
//   - GatedDeltaNetDecode: any Dk that is a multiple of 32 (any NSG ≥ 1, NSG = 3 included),
//     up to kGdnMaxDk, and any Dv (Metal: Dk ∈ {32, 64, 128}, Dv a multiple of NSG).
//   - Offsets are 64-bit (Metal: 32-bit); element counts are checked for 64-bit overflow.
//   - Variable-length batches: GatedDeltaRuleRecurrentVarlen takes FLA's cu_seqlens, each
//     sequence with its own state in and out.
// Zero sizes are rejected, as upstream.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnRecurrentShape {
  uint32_t Sn = 1;  // sequences (n_seqs)
  uint32_t T = 1;   // tokens per sequence (n_tokens); decode is T = 1
  uint32_t Hk = 0;  // key heads (n_k_heads)
  uint32_t Hv = 0;  // value heads (n_v_heads), a multiple of Hk
  uint32_t Dk = 0;  // key dimension: state columns
  uint32_t Dv = 0;  // value dimension: state rows
};

// The largest Dk (state columns): a group keeps its rows' state, Dk × 32 f32, in a
// threadgroup arena, which tgk caps at 64 MiB.
inline constexpr uint32_t kGdnMaxDk = 65536;

// Tensors, row-major (last index fastest), every one f32:
//   q, k [Sn, T, Hk, Dk]   v, output [Sn, T, Hv, Dv]   g, beta [Sn, T, Hv]
//   state_in, state_out [Sn, Hv, Dv, Dk]  (row x, column c; the chunked pipeline's h0 layout)
// state_in and state_out may be the same buffer (each group reads its cells before writing
// them). Every rule of the spec is checked, in its order and with its message (tgk::Error,
// kind kInvalidArgument; nothing is recorded then); then the dispatch is recorded on `queue`.
void GatedDeltaNet(Queue& queue, const GdnRecurrentShape& shape, ConstView q, ConstView k,
                   ConstView v, ConstView g, ConstView beta, ConstView state_in, View output,
                   View state_out);

// The decode variant: the same recurrence with the lane-sum-then-tree reductions above;
// Dk must be a multiple of 32.
void GatedDeltaNetDecode(Queue& queue, const GdnRecurrentShape& shape, ConstView q, ConstView k,
                         ConstView v, ConstView g, ConstView beta, ConstView state_in, View output,
                         View state_out);

enum class GdnRecurrentKernel {
  kSerial,  // gated_delta_net_f32's reductions
  kDecode,  // gated_delta_net_decode's reductions (Dk a multiple of 32)
};

// The recurrent path of the layer, whole: q is scaled in the kernel (f32(q·scale), exactly
// what a caller's pre-scaling gives), then the kernel chosen runs over all tokens with h0 as
// the initial state and final_state as the state after the last token. Same tensors, layouts,
// conventions (tiled GQA, g a decay rate) and rules as GatedDeltaNet, under the prefix
// "gated_delta_rule_recurrent", plus: scale must be finite. Records one dispatch and allocates
// nothing.
void GatedDeltaRuleRecurrent(Queue& queue, const GdnRecurrentShape& shape, ConstView q, ConstView k,
                             ConstView v, ConstView g, ConstView beta, float scale, ConstView h0,
                             View o, View final_state,
                             GdnRecurrentKernel kernel = GdnRecurrentKernel::kSerial);

// Variable-length sequences (FLA's cu_seqlens): Sn sequences packed along one run of T tokens,
// sequence s holding tokens cu_seqlens[s] .. cu_seqlens[s+1]−1, each with its own state.
//   cu_seqlens: i32 [Sn + 1], cu_seqlens[0] = 0, strictly increasing (no empty sequence),
//               cu_seqlens[Sn] = T
//   q, k [1, T, Hk, Dk]   v, o [1, T, Hv, Dv]   g, beta [1, T, Hv]   h0, final_state as above
// The same rules as GatedDeltaRuleRecurrent, with the cu_seqlens checks after the scale's:
// "…: cu_seqlens element count {n} != expected {Sn+1}", "…: cu_seqlens must be i32 (got …)",
// a null pointer, "…: cu_seqlens[0] must be 0 (got {v})", "…: cu_seqlens must increase
// strictly (cu_seqlens[{i}] = {a}, cu_seqlens[{i+1}] = {b})", "…: cu_seqlens[{Sn}] ({v}) !=
// n_tokens ({T})". Each sequence's bits are those of a call on it alone.
void GatedDeltaRuleRecurrentVarlen(Queue& queue, const GdnRecurrentShape& shape,
                                   ConstView cu_seqlens, ConstView q, ConstView k, ConstView v,
                                   ConstView g, ConstView beta, float scale, ConstView h0, View o,
                                   View final_state,
                                   GdnRecurrentKernel kernel = GdnRecurrentKernel::kSerial);

// The state bytes a call reads and writes once (8·Dk·Dv per sequence and head): the work
// unit of the memory-bound decode.
double GdnRecurrentStateBytes(const GdnRecurrentShape& shape);

// The nominal flops, 7·Dk·Dv per token and head (spec section 12), for Sn sequences of T.
double GdnRecurrentFlops(const GdnRecurrentShape& shape);

}  // namespace tgk
