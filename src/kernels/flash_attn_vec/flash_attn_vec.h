// flash_attn_vec: single-query (decode) flash attention over an f16 K/V cache, the mlx-native
// peer port of llama.cpp's Metal vector kernel (docs/spec/flash_attn_vec.md). For every query
// head h, with kv head kvh = h / (num_heads / num_kv_heads):
//
//   q̃        = f16_rne(Q[h, :])                       (Q rounded to f16 once)
//   s_p       = fma(Σ_d q̃[d]·K[kvh, p, d], scale, m_p)  (m_p = 0 visible, −65504 masked)
//   out[h, :] = Σ_p softmax(s)_p · V[kvh, p, :]          (online softmax, blocks of 32)
//
// over the physical positions p ∈ [0, kv_seq_len), with the spec's accumulation orders
// (canonical dot4 per lane, simdgroup halving tree, M starting at −FLT_MAX/2, blocks whose 32
// positions are all masked skipped) and rounding points (every product and sum rounded, the
// score fma fused). Visibility (spec 2.1): mask_type 0 and 1 see every cached position, 2 only
// the newest `sliding_window`; the logical index of slot p is (p − ring_start + kv_capacity) mod
// kv_capacity in u32 arithmetic. Two dispatchers:
//   FlashAttnVecF16       NWG = 1: one pass over the KV range per head, normalised output.
//   FlashAttnVecF16Nwg32  NWG = 32: the range split 32 ways (block b to workgroup b mod 32),
//                         unnormalised partials and (S, M) into `tmp` in the spec's layout,
//                         then a memory barrier and the reduce kernel writing `out`.
// The results are bit-identical across tgk's scalar oracle, every Highway target and every
// thread count.
//
// Where tgk differs from the port:
//   - head_dim may be 128, 256 or 512 (port: 256 only; the message names the three). Lane l of
//     the 32-lane simdgroup owns the head dims {128·j + 4·l + e : j < head_dim/128, e < 4},
//     i.e. head_dim/32 dims in 4-wide chunks at stride 128 (for 256 the spec's {4l..4l+3} ∪
//     {128+4l..128+4l+3}). Its Q·K partial is ((0 + dot4_0) + dot4_1) + ... over the chunks j
//     in ascending order. The tmp layout keeps the spec's formulas with 256 replaced by
//     head_dim (head_dim/4 float4 chunks per row); the reduce's simdgroup s combines the
//     chunks s, s + 32, ...
//   - No read outside the caller's buffers. The port reads K and V rows up to the end of the
//     last 32-position block, past kv_seq_len (into the next kv head, or past the buffer). tgk
//     never reads a row at or past kv_seq_len: such a tail position of the last block is
//     masked, its Q·K is taken as +0 (score fma(+0, scale, −65504)), which counts in the
//     block's maximum and, through its weight exp(s − M), in S; it adds nothing to O. This
//     gives the port's bits whenever the rows the port over-reads are finite and every score
//     |qk·scale| stays below 32000: then the tail weights of both underflow to exactly +0,
//     neither sets M, and a zero weight times a finite V adds nothing (the per-block sum
//     starts at +0 and is never −0).
//   - Offsets are 64-bit: no u32 overflow of kvh·kv_capacity·head_dim, no 16-bit head limit.
//   - Host checks the port lacks, after its own: dtypes and sizes of every buffer (Q and out
//     at least num_heads·head_dim elements, K and V at least num_kv_heads·kv_capacity·head_dim,
//     tmp F32), 64-bit overflow of those sizes, null data pointers.
//   - Execution, invisible in the results (each head's and each workgroup's arithmetic is the
//     spec's): one group computes every query head of one kv head (up to
//     kFlashAttnVecHeadsPerGroup of them), so that K and V are read once. For NWG = 32 a group
//     also runs several consecutive workgroups of the split, interleaving their blocks, so that
//     it reads runs of consecutive blocks; the host gives it fewer workgroups (more groups)
//     only when the queue's threads would otherwise lack groups to run.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

// The port's parameter block (spec section 1), field for field.
struct FlashAttnVecParams {
  uint32_t num_heads = 0;
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;     // 128, 256 or 512
  uint32_t kv_seq_len = 0;   // positions [0, kv_seq_len) are attended to
  uint32_t kv_capacity = 0;  // rows per kv head in K and V, >= kv_seq_len
  float scale = 0.0f;        // applied as given (1/sqrt(head_dim), or 1 with QK norms)
  uint32_t mask_type = 0;    // 0 none, 1 causal (same as 0 for one query), 2 sliding window
  uint32_t sliding_window = 0;
  uint32_t ring_start = 0;  // physical slot of logical position 0
};

inline constexpr uint32_t kFlashAttnVecBlock = 32;  // positions per block (C)
inline constexpr uint32_t kFlashAttnVecNwg = 32;    // workgroups per head of the split path
inline constexpr uint32_t kFlashAttnVecHeadsPerGroup = 16;

// Validates (tgk::Error, kind kInvalidArgument, message prefixed
// "flash_attn_vec_peer_port_f16: "; nothing is recorded on error), then records the NWG = 1
// dispatch on `queue`; commit_and_wait() runs it.
//   q: F32 [num_heads, head_dim]   k, v: F16 [num_kv_heads, kv_capacity, head_dim]
//   out: F32 [num_heads, head_dim]
// Checks in order (the port's first): head_dim in {128, 256, 512}; K dtype; V dtype; heads
// > 0; num_heads % num_kv_heads == 0; kv_seq_len > 0; kv_capacity >= kv_seq_len; then Q, K,
// V, out sizes and dtypes. mask_type, sliding_window and ring_start are not validated (as in
// the port).
void FlashAttnVecF16(Queue& queue, const FlashAttnVecParams& params, ConstView q, ConstView k,
                     ConstView v, View out);

// The NWG = 32 path: records the vector kernel (writing `tmp`), a memory barrier and the reduce
// kernel (writing `out`). Prefix "flash_attn_vec_peer_port_f16_nwg32: "; the port's checks
// plus `tmp` at least FlashAttnVecNwg32TmpBytes bytes (checked as the port does, on the byte
// length), then tgk's own checks, `tmp` F32 among them.
//   tmp: F32, partials [num_heads][head_dim/4][32][4] then (S, M) pairs [num_heads][32][2]
void FlashAttnVecF16Nwg32(Queue& queue, const FlashAttnVecParams& params, ConstView q, ConstView k,
                          ConstView v, View tmp, View out);

// Bytes of `tmp` the NWG = 32 path needs: num_heads · 32 · (head_dim + 2) · 4.
uint64_t FlashAttnVecNwg32TmpBytes(uint32_t num_heads, uint32_t head_dim);

// The bytes a dispatch must move, for GB/s figures: the K and V rows it reads (each once: the
// rows below kv_seq_len of every block that has a visible position), Q and out. The NWG = 32
// round trip through `tmp` is not counted. Expects valid params.
uint64_t FlashAttnVecBytes(const FlashAttnVecParams& params);

}  // namespace tgk
