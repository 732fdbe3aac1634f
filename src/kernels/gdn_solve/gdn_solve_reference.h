// Plain sequential reference of stage 4 (chunk_tri_solve_invert_f32), for the tests.
#pragma once

#include "tgk/kernels/gdn_solve.h"

namespace tgk {

// A_strict, A_inv: f32 [B, T, H, 64]; rows of A_inv past T do not exist.
void GdnSolveReference(const GdnSolveShape& s, const float* a_strict, float* a_inv);

}  // namespace tgk
