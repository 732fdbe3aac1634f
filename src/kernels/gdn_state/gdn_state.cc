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
#include <string>

#include "kernels/gdn_chunk/gdn_common.h"
#include "tgk/kernels/gdn_state.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnStateKernel, "gated_delta_net_chunk_inter_state_bf16")

void GatedDeltaNetChunkState(Queue& queue, const GdnStateShape& s, ConstView k, ConstView w,
                             ConstView u, ConstView g_cumsum, ConstView h0, View h, View v_new,
                             View final_state) {
  static const std::string p =
      "gated_delta_net_chunk";  // built once: a valid call allocates nothing
  if (s.B == 0 || s.T == 0 || s.Hg == 0 || s.H == 0 || s.K == 0 || s.V == 0 || s.BT == 0) {
    ThrowInvalidArgument(p + ": all dims must be > 0");
  }
  if (s.H % s.Hg != 0) {
    ThrowInvalidArgument(p + ": h (" + std::to_string(s.H) + ") must be a multiple of hg (" +
                         std::to_string(s.Hg) + ")");
  }
  if (s.K > gdn::kMaxDim || s.V > gdn::kMaxDim) {
    ThrowInvalidArgument(p + ": K (" + std::to_string(s.K) + ") and V (" + std::to_string(s.V) +
                         ") must be at most " + std::to_string(gdn::kMaxDim) +
                         " (tgk lifts the Metal kernel's K = 128, V <= 256)");
  }
  if (s.BT != gdn::kChunk) {
    ThrowInvalidArgument(p + " (iter 1): bt must be 64 (got " + std::to_string(s.BT) + ")");
  }
  const uint64_t rows = gdn::Count(p, {s.B, s.T, s.H}, "g");
  const uint64_t state = gdn::Count(p, {s.B, s.H, s.V, s.K}, "h0");
  const struct {
    const char* name;
    ConstView view;
    uint64_t count;
  } bf16s[] = {{"k", k, gdn::Count(p, {s.B, s.T, s.Hg, s.K}, "k")},
               {"w", w, gdn::Count(p, {rows, s.K}, "w")},
               {"u", u, gdn::Count(p, {rows, s.V}, "u")},
               {"v_new", v_new, gdn::Count(p, {rows, s.V}, "v_new")}};
  for (const auto& buffer : bf16s) {
    gdn::CheckCount(p, buffer.name, buffer.view, buffer.count);
    gdn::CheckDType(p, buffer.name, buffer.view, DType::kBF16);
  }
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
