// chunk_tri_solve_invert_f32: stage 4 of the chunked Gated DeltaNet forward
// (spec/gated_delta_net_chunk.md section 5). For every batch b, value head h and chunk of 64
// steps, the block A_inv = (I + A_strict)⁻¹ of the block A_strict (kkt's output), by
// column-wise forward substitution in binary32:
//
//   X[i][j] = [i == j] − Σ_{m < i} f32(A[i][m] · X[m][j])     (m ascending, products rounded
//                                                               before each subtraction)
//
// Every cell of each stored row is written (+0 above the diagonal, 1 on it, for finite A).
//
// Limits tgk lifts:
//   - T need not be a multiple of 64: the last chunk has L = T − 64·(NT−1) rows; only its L
//     rows exist, are read and written (FLA semantics, equal to zero padding).
//   - Element counts and offsets are 64-bit.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

struct GdnSolveShape {
  uint32_t B = 1;    // batch
  uint32_t T = 0;    // time steps
  uint32_t H = 0;    // value heads
  uint32_t BT = 64;  // chunk size; must be 64
};

// Checks every rule (tgk::Error, kind kInvalidArgument, nothing recorded then), then records
// the dispatch on `queue`.   A_strict, A_inv: f32 [B, T, H, 64]
void GatedDeltaNetSolve(Queue& queue, const GdnSolveShape& shape, ConstView A_strict, View A_inv);

// Nominal work, as the spec's section 12 counts it: 64²·63 multiply-subtracts per block (a
// partial block of L rows: 64·L·(L−1)).
double GdnSolveFlops(const GdnSolveShape& shape);

}  // namespace tgk
