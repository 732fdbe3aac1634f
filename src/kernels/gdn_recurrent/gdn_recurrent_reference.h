// The plain reference of the recurrent gated delta net kernels: the spec's loops
// (docs/spec/gdn_recurrent.md section 3), one sequence, head and row at a time,
// compiled once (not per target). Its bits are the kernels' by construction: the same f32
// operations in the same order, tgk's Exp. Tests hold the scalar instantiation and every
// Highway target to it. Not part of the installed API.
#pragma once

#include <cstdint>

#include "tgk/kernels/gdn_recurrent.h"

namespace tgk {

// Tensors as in gdn_recurrent.h, all f32, sizes already valid; q is used as f32(q·scale).
// cu_seqlens: null for Sn sequences of T tokens, else the packed sequences' offsets.
void GdnRecurrentReference(GdnRecurrentKernel kernel, const GdnRecurrentShape& shape,
                           const float* q, const float* k, const float* v, const float* g,
                           const float* beta, float scale, const float* state_in, float* output,
                           float* state_out, const int32_t* cu_seqlens = nullptr);

}  // namespace tgk
