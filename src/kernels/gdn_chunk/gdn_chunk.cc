// The chunked Gated DeltaNet forward: the stage-2 functor's instantiation, and the validating
// entry point that records stages 2–7.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_chunk/gdn_chunk.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_chunk/gdn_cumsum-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnCumsumKernel, GdnCumsumArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/gdn_chunk/gdn_common.h"
#include "tgk/kernels/gdn_chunk.h"
#include "tgk/kernels/gdn_output.h"
#include "tgk/kernels/gdn_solve.h"
#include "tgk/kernels/gdn_state.h"
#include "tgk/kernels/gdn_wu.h"
#include "tgk/kernels/kkt.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnCumsumKernel, "chunk_local_cumsum_g_f32")

namespace {

constexpr uint32_t kMaxK = 512;  // the kkt stage's limit

size_t Align(size_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace

GdnChunkScratchLayout GdnChunkScratch(const GdnChunkShape& s) {
  const size_t rows = size_t{s.B} * s.T * s.H;
  GdnChunkScratchLayout l{};
  size_t at = 0;
  const auto take = [&](size_t bytes) {
    const size_t offset = at;
    at += Align(bytes);
    return offset;
  };
  l.g_cumsum = take(rows * sizeof(float));
  l.A = take(rows * gdn::kChunk * sizeof(float));
  l.A_inv = take(rows * gdn::kChunk * sizeof(float));
  l.w = take(rows * s.K * sizeof(bf16));
  l.u = take(rows * s.V * sizeof(bf16));
  l.h = take(size_t{s.B} * gdn::Chunks(s.T) * s.H * s.V * s.K * sizeof(bf16));
  l.v_new = take(rows * s.V * sizeof(bf16));
  l.bytes = at;
  return l;
}

void GatedDeltaRuleChunkForward(Queue& queue, const GdnChunkShape& s, ConstView q, ConstView k,
                                ConstView v, ConstView g, ConstView beta, float scale,
                                ConstView initial_state, View o, View final_state, View scratch,
                                bool use_qk_l2norm) {
  const std::string p = "chunk_gated_delta_rule_fwd";
  if (use_qk_l2norm) {  // first, as in the spec's arena variant
    ThrowInvalidArgument(p +
                         ": use_qk_l2norm=true needs stage 1 (l2norm), which tgk does not "
                         "have yet. Pre-apply l2-norm and pass use_qk_l2norm=false.");
  }
  if (s.B == 0 || s.T == 0 || s.Hg == 0 || s.H == 0 || s.K == 0 || s.V == 0 || s.BT == 0) {
    ThrowInvalidArgument(p + ": all dims must be > 0");
  }
  if (s.H % s.Hg != 0) {
    ThrowInvalidArgument(p + ": H (" + std::to_string(s.H) + ") must be a multiple of Hg (" +
                         std::to_string(s.Hg) + ")");
  }
  if (s.K % 64 != 0 || s.K > kMaxK) {
    ThrowInvalidArgument(p + ": K (" + std::to_string(s.K) +
                         ") must be a multiple of 64 and at most 512 (the kkt stage's limit; tgk "
                         "lifts the Metal pipeline's K = 128)");
  }
  if (s.V > gdn::kMaxDim) {
    ThrowInvalidArgument(p + ": V (" + std::to_string(s.V) +
                         ") exceeds chunk-pipeline cap (MAX_V = " + std::to_string(gdn::kMaxDim) +
                         ")");
  }
  if (s.BT != gdn::kChunk) {
    ThrowInvalidArgument(p + " (iter 4): bt must be 64 (got " + std::to_string(s.BT) + ")");
  }
  if (!std::isfinite(scale)) {
    ThrowInvalidArgument(p + ": scale must be finite (got " + gdn::FormatF32(scale) + ")");
  }
  const uint64_t keys = gdn::Count(p, {s.B, s.T, s.Hg, s.K}, "q");
  const uint64_t rows = gdn::Count(p, {s.B, s.T, s.H}, "g_log_decay");
  const uint64_t values = gdn::Count(p, {rows, s.V}, "v");
  const uint64_t state = gdn::Count(p, {s.B, s.H, s.V, s.K}, "h0");
  const struct {
    const char* name;
    ConstView view;
    uint64_t count;
    DType dtype;
  } buffers[] = {{"q", q, keys, DType::kBF16},
                 {"k", k, keys, DType::kBF16},
                 {"v", v, values, DType::kBF16},
                 {"o", o, values, DType::kBF16},
                 {"g_log_decay", g, rows, DType::kF32},
                 {"beta", beta, rows, DType::kF32},
                 {"h0", initial_state, state, DType::kF32},
                 {"final_state", final_state, state, DType::kF32}};
  for (const auto& b : buffers) {
    gdn::CheckCount(p, b.name, b.view, b.count);
    gdn::CheckDType(p, b.name, b.view, b.dtype);
  }
  const GdnChunkScratchLayout layout = GdnChunkScratch(s);
  if (scratch.dtype() != DType::kU8 || scratch.count() < layout.bytes) {
    ThrowInvalidArgument(p + ": scratch must be u8[>= " + std::to_string(layout.bytes) + "] (got " +
                         std::to_string(scratch.count()) + " " +
                         std::string(Name(scratch.dtype())) + ")");
  }
  gdn::CheckNotNull(p, "scratch", scratch);

  uint8_t* base = scratch.as<uint8_t>();
  const uint64_t chunks = gdn::Chunks(s.T);
  const View g_cumsum = View::Of<float>(reinterpret_cast<float*>(base + layout.g_cumsum), rows);
  const View a = View::Of<float>(reinterpret_cast<float*>(base + layout.A), rows * gdn::kChunk);
  const View a_inv =
      View::Of<float>(reinterpret_cast<float*>(base + layout.A_inv), rows * gdn::kChunk);
  const View w = View::Of<bf16>(reinterpret_cast<bf16*>(base + layout.w), rows * s.K);
  const View u = View::Of<bf16>(reinterpret_cast<bf16*>(base + layout.u), values);
  const View h = View::Of<bf16>(reinterpret_cast<bf16*>(base + layout.h), chunks * state);
  const View v_new = View::Of<bf16>(reinterpret_cast<bf16*>(base + layout.v_new), values);

  const GdnCumsumArgs cumsum{g.as<float>(), g_cumsum.as<float>(), s.B, s.T, s.H};
  queue.dispatch(GdnCumsumKernelEntry(), Dim3{(s.H + 63) / 64, gdn::Chunks(s.T), s.B},
                 std::min(s.H, 64u), ArenaSizes{}, cumsum);
  queue.memory_barrier();
  GatedDeltaNetKkt(queue, KktShape{s.B, s.T, s.Hg, s.H, s.K}, k, beta, g_cumsum, a);
  queue.memory_barrier();
  GatedDeltaNetSolve(queue, GdnSolveShape{s.B, s.T, s.H}, a, a_inv);
  queue.memory_barrier();
  GatedDeltaNetRecomputeWu(queue, GdnWuShape{s.B, s.T, s.Hg, s.H, s.K, s.V}, k, v, beta, g_cumsum,
                           a_inv, w, u);
  queue.memory_barrier();
  GatedDeltaNetChunkState(queue, GdnStateShape{s.B, s.T, s.Hg, s.H, s.K, s.V}, k, w, u, g_cumsum,
                          initial_state, h, v_new, final_state);
  queue.memory_barrier();
  GatedDeltaNetChunkOutput(queue, GdnOutputShape{s.B, s.T, s.Hg, s.H, s.K, s.V}, q, k, v_new, h,
                           g_cumsum, scale, o);
}

double GdnChunkFlops(const GdnChunkShape& s) {
  return KktFlops(KktShape{s.B, s.T, s.Hg, s.H, s.K}) + GdnSolveFlops({s.B, s.T, s.H}) +
         GdnWuFlops({s.B, s.T, s.Hg, s.H, s.K, s.V}) +
         GdnStateFlops({s.B, s.T, s.Hg, s.H, s.K, s.V}) +
         GdnOutputFlops({s.B, s.T, s.Hg, s.H, s.K, s.V});
}

}  // namespace tgk
#endif  // HWY_ONCE
