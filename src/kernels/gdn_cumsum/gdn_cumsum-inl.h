// The chunk-local cumsum functor (docs/spec/gdn_cumsum.md), one source for the
// scalar oracle and every Highway target.
//
// Mapping from Metal: the GPU runs one group of 64 lanes per (head, chunk), of which lane 0
// sums the chunk's rows. tgk gives each head one lane instead, since g[b, t, h] is contiguous
// over h: grid (ceil(H / heads), chunks, B), and a lane pack sums consecutive heads at once,
// each lane its own serial chain from +0 over the chunk's valid rows, as the spec orders it.
// A pack whose last lanes fall past H reads and writes element by element (its sums go out
// through kGdnCumsumStagingArena). One phase, no barriers; each element of g is read before
// the same lane writes that element of g_cumsum, so the two may alias.

#if defined(TGK_KERNELS_GDN_CUMSUM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_CUMSUM_INL_H_
#undef TGK_KERNELS_GDN_CUMSUM_INL_H_
#else
#define TGK_KERNELS_GDN_CUMSUM_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/gdn_cumsum/gdn_cumsum_args.h"
#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnCumsumKernel {
  static constexpr uint32_t kChunk = 64;

  GdnCumsumArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();
    const uint32_t t0 = id.y * kChunk;
    const uint32_t valid = std::min(kChunk, a.T - t0);  // rows of this chunk inside T
    const uint32_t h_group = id.x * a.heads;
    const size_t row0 = size_t{id.z} * a.T + t0;
    auto staging = g.template arena<float>(kGdnCumsumStagingArena);

    g.for_each_lane([&](auto lane) HWY_ATTR {
      using L = decltype(lane);
      using VF = typename L::VF;
      const uint32_t local = lane.first();
      const uint32_t h0 = h_group + local;
      if (h0 >= a.H) return;
      const uint32_t heads = std::min(lane.count(), a.H - h0);
      const bool whole = heads == L::kWidth;
      const uint32_t stride = a.H;
      VF sum = lane.zero();
      for (uint32_t i = 0; i < valid; ++i) {
        const size_t at = (row0 + i) * stride + h0;
        sum = sum + (whole ? lane.load(a.g + at) : lane.load_strided(a.g + at, 1, heads));
        if (whole) {
          lane.store(a.g_cumsum + at, sum);
        } else {
          lane.store(staging, local, sum);
          for (uint32_t k = 0; k < heads; ++k) a.g_cumsum[at + k] = staging[local + k];
        }
      }
    });
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_CUMSUM_INL_H_
