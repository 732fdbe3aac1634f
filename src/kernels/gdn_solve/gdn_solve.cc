// chunk_tri_solve_invert_f32: per-target instantiation of the functor and the validating host
// entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_solve/gdn_solve.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_solve/gdn_solve-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnSolveKernel, GdnSolveArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <string_view>

#include "kernels/gdn_chunk/gdn_common.h"
#include "tgk/kernels/gdn_solve.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnSolveKernel, "chunk_tri_solve_invert_f32")

void GatedDeltaNetSolve(Queue& queue, const GdnSolveShape& s, ConstView A_strict, View A_inv) {
  constexpr std::string_view p = "chunk_tri_solve_invert";
  gdn::CheckDims(p, {s.B, s.T, s.H, s.BT});
  gdn::CheckChunkSize(p, " (iter 4)", s.BT);
  const uint64_t n = gdn::Count(p, {s.B, s.T, s.H, s.BT}, "A_strict");
  gdn::CheckBuffer(p, "A_strict", A_strict, n, DType::kF32);
  gdn::CheckBuffer(p, "A_inv", A_inv, n, DType::kF32);

  const GdnSolveArgs args{A_strict.as<float>(), A_inv.as<float>(), s.B, s.T, s.H};
  constexpr size_t kTileBytes = gdn::kChunk * gdn::kChunk * sizeof(float);
  queue.dispatch(GdnSolveKernelEntry(), Dim3{s.H, gdn::Chunks(s.T), s.B}, gdn::kChunk,
                 ArenaSizes{kTileBytes, kTileBytes, gdn::kChunk * sizeof(float)}, args);
}

double GdnSolveFlops(const GdnSolveShape& s) {
  const double full = s.T / gdn::kChunk, tail = s.T % gdn::kChunk;
  const double bt = gdn::kChunk;
  return double(s.B) * s.H * (full * bt * bt * (bt - 1) + bt * tail * std::max(tail - 1, 0.0));
}

}  // namespace tgk
#endif  // HWY_ONCE
