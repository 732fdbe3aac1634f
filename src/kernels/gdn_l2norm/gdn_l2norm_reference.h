// The plain reference of the L2 norm (docs/spec/gdn_l2norm.md): the
// spec's loops, one row at a time, compiled once. Its bits are the kernel's by construction.
// Tests hold the scalar instantiation and every Highway target to it. Not part of the
// installed API.
#pragma once

#include "tgk/dtype.h"
#include "tgk/kernels/gdn_l2norm.h"

namespace tgk {

// input, output: [rows, dim] of one dtype, sizes already valid.
void GdnL2NormReference(const GdnL2NormShape& shape, const bf16* input, bf16* output);
void GdnL2NormReference(const GdnL2NormShape& shape, const float* input, float* output);
void GdnL2NormReference(const GdnL2NormShape& shape, const f16* input, f16* output);

}  // namespace tgk
