// gated_delta_net_chunk_o_bf16: per-target instantiation of the functor and the validating
// host entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_output/gdn_output.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_output/gdn_output-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnOutputKernel, GdnOutputArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <string_view>

#include "kernels/gdn_chunk/gdn_common.h"
#include "tgk/kernels/gdn_output.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnOutputKernel, "gated_delta_net_chunk_o_bf16")

void GatedDeltaNetChunkOutput(Queue& queue, const GdnOutputShape& s, ConstView q, ConstView k,
                              ConstView v_new, ConstView h, ConstView g_cumsum, float scale,
                              View o) {
  constexpr std::string_view p = "gated_delta_net_chunk_o";
  gdn::CheckDims(p, {s.B, s.T, s.Hg, s.H, s.K, s.V, s.BT});
  gdn::CheckHeads(p, s.H, s.Hg);
  gdn::CheckStateDims(p, s.K, s.V);
  gdn::CheckChunkSize(p, " (iter 3)", s.BT);
  gdn::CheckScale(p, scale);
  const uint64_t rows = gdn::Count(p, {s.B, s.T, s.H}, "g");
  const uint64_t keys = gdn::Count(p, {s.B, s.T, s.Hg, s.K}, "q");
  gdn::CheckTyped(p, "q", q, DType::kBF16, keys);
  gdn::CheckTyped(p, "k", k, DType::kBF16, keys);
  gdn::CheckTyped(p, "v", v_new, DType::kBF16, gdn::Count(p, {rows, s.V}, "v"));
  gdn::CheckTyped(p, "h", h, DType::kBF16,
                  gdn::Count(p, {s.B, gdn::Chunks(s.T), s.H, s.V, s.K}, "h"));
  gdn::CheckTyped(p, "g", g_cumsum, DType::kF32, rows);
  gdn::CheckTyped(p, "o", o, DType::kBF16, gdn::Count(p, {rows, s.V}, "o"));

  const GdnOutputArgs args{q.as<bf16>(),
                           k.as<bf16>(),
                           v_new.as<bf16>(),
                           h.as<bf16>(),
                           g_cumsum.as<float>(),
                           o.as<bf16>(),
                           scale,
                           s.B,
                           s.T,
                           s.Hg,
                           s.H,
                           s.K,
                           s.V};
  queue.dispatch(GdnOutputKernelEntry(), Dim3{s.H, gdn::Chunks(s.T), s.B}, kGdnOutputLanes,
                 GdnOutputArenaSizes(s.K), args);
}

double GdnOutputFlops(const GdnOutputShape& s) {
  const double full = s.T / gdn::kChunk, tail = s.T % gdn::kChunk, bt = gdn::kChunk;
  const double k = s.K, v = s.V;
  return 2.0 * s.B * s.H * (double(s.T) * k * v + (full * bt * bt + tail * tail) * (k + v));
}

}  // namespace tgk
#endif  // HWY_ONCE
