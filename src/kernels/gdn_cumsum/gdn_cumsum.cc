// chunk_local_cumsum_g_f32: per-target instantiation of the functor and the validating host
// entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_cumsum/gdn_cumsum.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_cumsum/gdn_cumsum-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnCumsumKernel, GdnCumsumArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <string_view>

#include "kernels/gdn_chunk/gdn_common.h"
#include "kernels/gdn_cumsum/gdn_cumsum.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnCumsumKernel, "chunk_local_cumsum_g_f32")

void GatedDeltaNetChunkCumsum(Queue& queue, const GdnCumsumShape& s, ConstView g, View g_cumsum) {
  constexpr std::string_view p = "chunk_local_cumsum_g";
  gdn::CheckDims(p, {s.B, s.T, s.H, s.BT});
  gdn::CheckChunkSize(p, "", s.BT);
  const uint64_t n = gdn::Count(p, {s.B, s.T, s.H}, "g");
  gdn::CheckBuffer(p, "g", g, n, DType::kF32);
  gdn::CheckBuffer(p, "g_cumsum", g_cumsum, n, DType::kF32);

  const uint32_t heads = std::min(s.H, kGdnCumsumHeadsPerGroup);
  const GdnCumsumArgs args{g.as<float>(), g_cumsum.as<float>(), s.B, s.T, s.H, heads};
  const Dim3 grid{(s.H + heads - 1) / heads, (s.T + kGdnCumsumChunk - 1) / kGdnCumsumChunk, s.B};
  queue.dispatch(GdnCumsumKernelEntry(), grid, heads, ArenaSizes{heads * sizeof(float)}, args);
}

double GdnCumsumBytes(const GdnCumsumShape& s) { return 8.0 * s.B * s.T * s.H; }

}  // namespace tgk
#endif  // HWY_ONCE
