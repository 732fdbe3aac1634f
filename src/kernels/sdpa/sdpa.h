// sdpa / sdpa_bf16: naive fused scaled-dot-product attention with a causal mask aligned to
// the end of the key sequence and grouped-query heads (docs/spec/sdpa.md). For every batch b,
// query head h and query row q, with key head kh = h / (n_heads / n_kv_heads), absolute
// position a = kv_seq_len − seq_len + q and n_q = min(a + 1, kv_seq_len) visible keys:
//
//   O[b, h, q, :] = Σ_{p < n_q} softmax_p(scale · Q[b, h, q, :] · K[b, kh, p, :]) · V[b, kh, p, :]
//
// computed exactly as the spec's section 3 orders it: one pass over the keys in ascending
// order with an online softmax (M from −∞, L from 0, corr = exp(M_old − M), every multiply-add
// unfused), then O = acc · (1 / L). All arithmetic is f32 with tgk's Exp; sdpa_bf16 widens its
// inputs exactly and rounds to bf16 (nearest even) only at the final store. The scalar oracle,
// every Highway target and every thread count give the same output bits; only the sign and
// payload of a NaN output are unspecified (x86 arithmetic propagates whichever of two NaN
// operands the compiler placed first).
//
// Layouts (row-major, element offsets):
//   Q, out: [batch, n_heads, seq_len, head_dim]
//   K, V:   [batch, n_kv_heads, kv_capacity, head_dim], the first kv_seq_len positions valid
//
// Where tgk differs from the spec's host code (section 4), all of it stricter:
//   - The kernel is chosen by Q's dtype as in the spec (bf16: sdpa_bf16, f32: sdpa), but Q must
//     be f32 or bf16, and K, V and out must have Q's dtype (the spec checks none of them).
//   - seq_len > kv_seq_len is rejected (the spec's u32 wrap-around gives full-attention rows
//     and one NaN row), as are head_dim > 512 (the Metal kernel's private accumulator would
//     overflow), a non-zero kv_capacity below kv_seq_len (K/V reads would run into the next
//     head or past the buffer) and sizes whose byte count overflows 64 bits. Offsets are
//     64-bit (the Metal kernel's are 32-bit and wrap).
//   - Every buffer the dispatch needs must be non-null.
// The order of the checks: the spec's rules 1–6, then the tgk shape rules (seq_len, head_dim,
// kv_capacity), then the dtypes (Q, K, V, out), then the spec's rule 7 (buffer sizes in the
// order Q, K, V, output, each preceded by its overflow check), then null buffers. batch == 0
// passes validation and dispatches nothing.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct SdpaParams {
  uint32_t batch = 1;
  uint32_t n_heads = 0;      // query heads, a multiple of n_kv_heads
  uint32_t n_kv_heads = 0;   // key/value heads
  uint32_t head_dim = 0;     // at most kSdpaMaxHeadDim
  uint32_t seq_len = 0;      // query rows, at most kv_seq_len
  uint32_t kv_seq_len = 0;   // valid key/value positions
  float scale = 1.0f;        // applied to each dot product (e.g. 1/sqrt(head_dim))
  uint32_t kv_capacity = 0;  // positions allocated per K/V head; 0 means kv_seq_len
};

inline constexpr uint32_t kSdpaMaxHeadDim = 512;
// Query rows per threadgroup (the Metal kernel's TILE_Q); one lane per row.
inline constexpr uint32_t kSdpaTileQ = 32;

// Checks every rule (tgk::Error, kind kInvalidArgument; nothing is recorded then), then records
// the dispatch of sdpa (f32 Q) or sdpa_bf16 (bf16 Q) on `queue`; commit_and_wait() runs it.
void Sdpa(Queue& queue, const SdpaParams& params, ConstView Q, ConstView K, ConstView V, View out);

// The nominal work: 4·head_dim flops (the dot product's multiply and add, the weighted value's
// multiply and add) per (query row, visible key) pair, over every batch and query head. The
// rescaling multiply acc·corr is not counted. Meaningful for the shapes Sdpa accepts.
double SdpaFlops(const SdpaParams& params);

}  // namespace tgk
