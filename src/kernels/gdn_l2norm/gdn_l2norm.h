// Stage 1 of the chunked gated delta rule (docs/spec/gdn_l2norm.md):
// mlx-native's `l2_norm_bf16` (and its f32 / f16 twins), applied to q and then to k when
// use_qk_l2norm is set. For every row r of `rows` rows of `dim` elements x:
//
//   tg      = min(256, next_pow2(dim))
//   part[l] = (((+0 + x_l²) + x_{l+tg}²) + …)       for l < tg (0 when l ≥ dim)
//   s       = part[0], after the halving tree: for off = tg/2, …, 1: part[l] += part[l+off]
//   inv     = rsqrt(s + ε),   ε = 1e−6 as f32 (0x358637BD), s + ε one f32 addition
//   y_i     = round(x_i · inv)                       to the output dtype, nearest even
//
// Everything in binary32, each square rounded before its add. The GPU's rsqrt is a fast-math
// builtin whose bits are not reproducible; tgk's canonical one is 1/sqrt(s + ε) computed in
// binary64 and rounded once to binary32 (correctly rounded but for double rounding, and the
// same on every path), as the spec's numpy model computes it.
//
// Input and output have the same dtype, bf16 (the pipeline's), f32 or f16; they may be the
// same buffer. Limits tgk lifts: 64-bit offsets and element counts (Metal: u32). Any dim ≥ 1
// works upstream too (lanes loop over i = l, l + tg, …), as it does here.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnL2NormShape {
  uint64_t rows = 0;  // B·T·Hg for the pipeline's q and k
  uint32_t dim = 0;   // K
};

// Checks, in the spec's order (tgk::Error, kind kInvalidArgument; nothing is recorded then):
// "L2 norm rows and dim must be > 0"; "L2 norm input element count {count} != rows({rows}) *
// dim({dim})"; the same for output; "L2 norm input/output dtype mismatch: {in} vs {out}";
// "L2 norm unsupported dtype: {dtype}"; then tgk's: "L2 norm rows({rows}) * dim({dim})
// overflows 64 bits" and "L2 norm {input|output} has {n} elements but a null data pointer".
// Then records the dispatch on `queue`.
void GatedDeltaNetL2Norm(Queue& queue, const GdnL2NormShape& shape, ConstView input, View output);

// Bytes read and written once: the work unit of this memory-bound stage.
double GdnL2NormBytes(const GdnL2NormShape& shape, uint32_t element_bytes);

}  // namespace tgk
