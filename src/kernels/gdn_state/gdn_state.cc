// gated_delta_net_chunk_inter_state_bf16: per-target instantiation of the functor and the
// validating host entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_state/gdn_state.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_state/gdn_state-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnStateKernel, GdnStateArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <string_view>

#include "kernels/gdn_chunk/gdn_common.h"
#include "tgk/kernels/gdn_state.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnStateKernel, "gated_delta_net_chunk_inter_state_bf16")

void GatedDeltaNetChunkState(Queue& queue, const GdnStateShape& s, ConstView k, ConstView w,
                             ConstView u, ConstView g_cumsum, ConstView h0, View h, View v_new,
                             View final_state) {
  constexpr std::string_view p = "gated_delta_net_chunk";
  gdn::CheckDims(p, {s.B, s.T, s.Hg, s.H, s.K, s.V, s.BT});
  gdn::CheckHeads(p, s.H, s.Hg);
  gdn::CheckStateDims(p, s.K, s.V);
  gdn::CheckChunkSize(p, " (iter 1)", s.BT);
  const uint64_t rows = gdn::Count(p, {s.B, s.T, s.H}, "g");
  const uint64_t state = gdn::Count(p, {s.B, s.H, s.V, s.K}, "h0");
  // The spec's order: each bf16 input's count and dtype, then the other counts, then dtypes.
  gdn::CheckBuffer(p, "k", k, gdn::Count(p, {s.B, s.T, s.Hg, s.K}, "k"), DType::kBF16);
  gdn::CheckBuffer(p, "w", w, gdn::Count(p, {rows, s.K}, "w"), DType::kBF16);
  gdn::CheckBuffer(p, "u", u, gdn::Count(p, {rows, s.V}, "u"), DType::kBF16);
  gdn::CheckBuffer(p, "v_new", v_new, gdn::Count(p, {rows, s.V}, "v_new"), DType::kBF16);
  gdn::CheckCount(p, "g", g_cumsum, rows);
  gdn::CheckCount(p, "h0", h0, state);
  gdn::CheckCount(p, "final_state", final_state, state);
  gdn::CheckCount(p, "h_out_check", h, gdn::Count(p, {state, gdn::Chunks(s.T)}, "h_out"));
  gdn::CheckDType(p, "h_out", h, DType::kBF16);
  gdn::CheckDType(p, "g", g_cumsum, DType::kF32);
  gdn::CheckDType(p, "h0", h0, DType::kF32);
  gdn::CheckDType(p, "final_state", final_state, DType::kF32);

  const GdnStateArgs args{k.as<bf16>(),
                          w.as<bf16>(),
                          u.as<bf16>(),
                          g_cumsum.as<float>(),
                          h0.as<float>(),
                          h.as<bf16>(),
                          v_new.as<bf16>(),
                          final_state.as<float>(),
                          s.B,
                          s.T,
                          s.Hg,
                          s.H,
                          s.K,
                          s.V};
  const uint32_t tile = GdnStateTile(s.B, s.H, s.V, queue.threads());
  queue.dispatch(GdnStateKernelEntry(), Dim3{(s.V + tile - 1) / tile, s.H, s.B}, tile / 4,
                 GdnStateArenaSizes(s.K, tile), args);
}

double GdnStateFlops(const GdnStateShape& s) { return 4.0 * s.T * s.B * s.H * double(s.K) * s.V; }

}  // namespace tgk
#endif  // HWY_ONCE
