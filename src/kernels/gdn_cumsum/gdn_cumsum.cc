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
#include <string>

#include "kernels/gdn_cumsum/gdn_cumsum.h"
#include "tgk/detail/checked_math.h"
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnCumsumKernel, "chunk_local_cumsum_g_f32")

void GatedDeltaNetChunkCumsum(Queue& queue, const GdnCumsumShape& s, ConstView g, View g_cumsum) {
  static const std::string p =
      "chunk_local_cumsum_g: ";  // built once: a valid call allocates nothing
  if (s.B == 0 || s.T == 0 || s.H == 0 || s.BT == 0)
    ThrowInvalidArgument(p + "all dims must be > 0");
  if (s.BT != kGdnCumsumChunk) {
    ThrowInvalidArgument(p + "bt must be 64 (got " + std::to_string(s.BT) + ")");
  }
  const auto n = detail::CheckedProduct({s.B, s.T, s.H});
  if (!n) ThrowInvalidArgument(p + "element count of g overflows 64 bits");
  const auto check = [&](const char* name, ConstView view) {
    if (view.count() != *n) {
      ThrowInvalidArgument(p + name + " element count " + std::to_string(view.count()) +
                           " != expected " + std::to_string(*n));
    }
    if (view.dtype() != DType::kF32) {
      ThrowInvalidArgument(p + name + " must be f32 (got " + std::string(Name(view.dtype())) + ")");
    }
    if (view.data() == nullptr) {
      ThrowInvalidArgument(p + name + " has " + std::to_string(*n) +
                           " elements but a null data pointer");
    }
  };
  check("g", g);
  check("g_cumsum", g_cumsum);

  const uint32_t heads = std::min(s.H, kGdnCumsumHeadsPerGroup);
  const GdnCumsumArgs args{g.as<float>(), g_cumsum.as<float>(), s.B, s.T, s.H, heads};
  const Dim3 grid{(s.H + heads - 1) / heads, (s.T + kGdnCumsumChunk - 1) / kGdnCumsumChunk, s.B};
  queue.dispatch(GdnCumsumKernelEntry(), grid, heads, ArenaSizes{heads * sizeof(float)}, args);
}

double GdnCumsumBytes(const GdnCumsumShape& s) { return 8.0 * s.B * s.T * s.H; }

}  // namespace tgk
#endif  // HWY_ONCE
