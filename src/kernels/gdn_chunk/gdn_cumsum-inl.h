// The stage-2 functor, chunk_local_cumsum_g_f32 (spec/gated_delta_net_chunk.md section 5):
// G[t0 + i] = chain_{m = 0..i}(g[t0 + m]) from +0, one serial f32 sum per (batch, head,
// chunk), over the chunk's rows only. One source for the scalar oracle and every target.
//
// One group per (64 heads, chunk, batch); lane h runs head h's chain (Metal: one group of 64
// lanes per head and chunk, lane 0 working). Heads are adjacent in memory, so a pack reads
// and writes contiguous runs.

#if defined(TGK_KERNELS_GDN_CHUNK_GDN_CUMSUM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_CHUNK_GDN_CUMSUM_INL_H_
#undef TGK_KERNELS_GDN_CHUNK_GDN_CUMSUM_INL_H_
#else
#define TGK_KERNELS_GDN_CHUNK_GDN_CUMSUM_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/gdn_chunk/gdn_cumsum_args.h"
#include "kernels/gdn_chunk/gdn_tiles-inl.h"
#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnCumsumKernel {
  static constexpr uint32_t kBT = 64;
  static constexpr uint32_t kHeads = 64;  // per group at most

  GdnCumsumArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();  // (head tile, chunk, batch)
    const uint32_t h0 = id.x * kHeads;
    const uint32_t width = std::min(kHeads, a.H - h0);
    const uint32_t t0 = id.y * kBT;
    const uint32_t rows = std::min(kBT, a.T - t0);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t inside = gdn::Inside(lane, width);
      if (inside == 0) return;
      const size_t base = (size_t{id.z} * a.T + t0) * a.H + h0 + lane.first();
      auto acc = lane.zero();
      for (uint32_t i = 0; i < rows; ++i) {
        const size_t at = base + size_t{i} * a.H;
        acc = acc + gdn::LoadPrefix(lane, a.g + at, inside);
        gdn::StorePrefix(lane, a.g_cumsum + at, acc, inside);
      }
    });
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_CHUNK_GDN_CUMSUM_INL_H_
