// gated_delta_net_recompute_wu_bf16: per-target instantiation of the functor and the
// validating host entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_wu/gdn_wu.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_wu/gdn_wu-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnWuKernel, GdnWuArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <string_view>

#include "kernels/gdn_chunk/gdn_common.h"
#include "tgk/kernels/gdn_wu.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnWuKernel, "gated_delta_net_recompute_wu_bf16")

void GatedDeltaNetRecomputeWu(Queue& queue, const GdnWuShape& s, ConstView k, ConstView v,
                              ConstView beta, ConstView g_cumsum, ConstView A_inv, View w, View u) {
  constexpr std::string_view p = "gated_delta_net_recompute_wu";
  gdn::CheckDims(p, {s.B, s.T, s.Hg, s.H, s.K, s.V, s.BT});
  gdn::CheckHeads(p, s.H, s.Hg);
  gdn::CheckChunkSize(p, " (iter 2)", s.BT);
  const uint64_t rows = gdn::Count(p, {s.B, s.T, s.H}, "beta");
  gdn::CheckTyped(p, "k", k, DType::kBF16, gdn::Count(p, {s.B, s.T, s.Hg, s.K}, "k"));
  gdn::CheckTyped(p, "v", v, DType::kBF16, gdn::Count(p, {rows, s.V}, "v"));
  gdn::CheckTyped(p, "beta", beta, DType::kF32, rows);
  gdn::CheckTyped(p, "g", g_cumsum, DType::kF32, rows);
  gdn::CheckTyped(p, "A", A_inv, DType::kF32, gdn::Count(p, {rows, s.BT}, "A"));
  gdn::CheckTyped(p, "w", w, DType::kBF16, gdn::Count(p, {rows, s.K}, "w"));
  gdn::CheckTyped(p, "u", u, DType::kBF16, gdn::Count(p, {rows, s.V}, "u"));

  const GdnWuArgs args{k.as<bf16>(),
                       v.as<bf16>(),
                       beta.as<float>(),
                       g_cumsum.as<float>(),
                       A_inv.as<float>(),
                       w.as<bf16>(),
                       u.as<bf16>(),
                       s.B,
                       s.T,
                       s.Hg,
                       s.H,
                       s.K,
                       s.V};
  constexpr size_t kTileBytes = gdn::kChunk * gdn::kChunk * sizeof(float);
  queue.dispatch(GdnWuKernelEntry(), Dim3{s.H, gdn::Chunks(s.T), s.B}, gdn::kChunk,
                 ArenaSizes{kTileBytes, kTileBytes, 2 * gdn::kChunk * sizeof(float),
                            2 * gdn::kChunk * sizeof(float)},
                 args);
}

double GdnWuFlops(const GdnWuShape& s) {
  const double full = s.T / gdn::kChunk, tail = s.T % gdn::kChunk;
  return 2.0 * (double(s.K) + s.V) * s.B * s.H * (full * gdn::kChunk * gdn::kChunk + tail * tail);
}

}  // namespace tgk
#endif  // HWY_ONCE
