// The stage-5 functor, gated_delta_net_recompute_wu_bf16 (spec/gated_delta_net_chunk.md
// section 5), one source for the scalar oracle and every Highway target.
//
// One group of 64 lanes per (head, chunk, batch) block. Phases: stage the block's A_inv rows
// (arena 0) and β, e^G of its rows (arena 2); then for each 64-wide column tile of v, then of
// k: stage the β-scaled, bf16-rounded rows (arena 1), barrier, and each lane computes its
// column of the tile for every row: one chain over the chunk's rows m from +0, each term the
// f32 product Ai[i][m]·stage[m][x] rounded before the add (never fused), rounded to bf16 at
// the store. Metal splits the cells of a tile over 256 lanes; here a lane holds a column and
// eight rows at a time in registers. The order of every chain is the spec's.
//
// The terms above the diagonal: A_inv = (I + A)⁻¹ is lower triangular, its upper entries ±0
// for finite inputs, and a chain from +0 is never −0 (a sum is −0 only when both addends
// are), so a term ±0·s with s finite leaves the chain's bits as they are. The staging phases
// record, per lane, whether its column of A_inv is ±0 above the diagonal and its column of the
// staged tile finite (arena 3); when every lane's is, a block of rows stops its chains after
// its last row's diagonal term, with the same bits. Otherwise (an infinite v, a NaN in A_inv)
// the chains run over every row, as the spec writes them, and 0·inf makes its NaNs.
#if defined(TGK_KERNELS_GDN_WU_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_WU_INL_H_
#undef TGK_KERNELS_GDN_WU_INL_H_
#else
#define TGK_KERNELS_GDN_WU_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/gdn_chunk/gdn_tiles-inl.h"
#include "kernels/gdn_wu/gdn_wu_args.h"
#include "tgk/group-inl.h"
#include "tgk/prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnWuKernel {
  static constexpr uint32_t kLanes = 64;
  static constexpr uint32_t kBT = 64;
  static constexpr uint32_t kBlock = 8;  // rows per register block

  GdnWuArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();  // (head, chunk, batch)
    const uint32_t h = id.x;
    const uint32_t t0 = id.y * kBT;
    const uint32_t rows = std::min(kBT, a.T - t0);
    const size_t row0 = (size_t{id.z} * a.T + t0) * a.H + h;  // (b, t0, h) of [B, T, H]
    const bf16* keys = a.k + ((size_t{id.z} * a.T + t0) * a.Hg + h / (a.H / a.Hg)) * a.K;
    auto ai = g.template arena<float>(0);
    auto stage = g.template arena<float>(1);
    auto chunk = g.template arena<float>(2);  // [0, 64): β, [64, 128): e^G
    // [0, 64): 1 where lane m's column of A_inv is ±0 above the diagonal; [64, 128): 1 where
    // lane x's column of the staged tile is finite.
    auto flags = g.template arena<float>(3);
    // The next group's rows, a share per register block of this one's tiles.
    Dim3 next;
    const bool ahead = NextGroup(g, next);
    const uint32_t blocks =
        ((a.V + kBT - 1) / kBT + (a.K + kBT - 1) / kBT) * ((rows + kBlock - 1) / kBlock);
    uint32_t block = 0;
    const auto prefetch = [&]() HWY_ATTR {
      if (ahead) Prefetch(next, block, blocks);
      ++block;
    };

    g.for_each_lane([&](auto lane) HWY_ATTR {
      // Rows past T are zero: the register blocks read them, and discard what they give.
      auto upper_zero = lane.zero() == lane.zero();
      const auto column = lane.id();
      for (uint32_t i = 0; i < kBT; ++i) {
        const auto value = i < rows
                               ? lane.load(a.a_inv + (row0 + size_t{i} * a.H) * kBT + lane.first())
                               : lane.zero();
        lane.store(ai, i * kBT + lane.first(), value);
        const auto above = Select(column > lane.splat(i), value, lane.zero());
        upper_zero = AndMask(upper_zero, above == lane.zero());
      }
      lane.store(flags, lane.first(), Select(upper_zero, lane.splat(1.0f), lane.zero()));
      const uint32_t inside = gdn::Inside(lane, rows);
      if (inside == 0) return;
      const size_t at = row0 + size_t{lane.first()} * a.H;
      lane.store(chunk, lane.first(), lane.load_strided(a.beta + at, a.H, inside));
      lane.store(chunk, kBT + lane.first(), Exp(lane.load_strided(a.g + at, a.H, inside)));
    });
    g.barrier();
    const bool triangular = AllSet(flags, 0, kBT);

    // u from the v tiles, then w from the k tiles.
    for (uint32_t x0 = 0; x0 < a.V; x0 += kBT) {
      const uint32_t width = std::min(kBT, a.V - x0);
      const bf16* values = a.v + row0 * a.V + x0;
      g.for_each_lane([&](auto lane) HWY_ATTR {
        Stage(lane, stage, flags, values, size_t{a.H} * a.V, rows, width,
              [&](auto v, uint32_t m)
                  HWY_ATTR { return RoundBF16(v * lane.splat(float(chunk[m]))); });
      });
      g.barrier();
      Tile(g, rows, width, triangular && AllSet(flags, kBT, width), a.u + row0 * a.V + x0,
           size_t{a.H} * a.V, prefetch);
      g.barrier();
    }
    for (uint32_t c0 = 0; c0 < a.K; c0 += kBT) {
      const uint32_t width = std::min(kBT, a.K - c0);
      g.for_each_lane([&](auto lane) HWY_ATTR {
        Stage(lane, stage, flags, keys + c0, size_t{a.Hg} * a.K, rows, width,
              [&](auto k, uint32_t m) HWY_ATTR {
                const auto scaled = k * lane.splat(float(chunk[m]));
                return RoundBF16(scaled * lane.splat(float(chunk[kBT + m])));
              });
      });
      g.barrier();
      Tile(g, rows, width, triangular && AllSet(flags, kBT, width), a.w + row0 * a.K + c0,
           size_t{a.H} * a.K, prefetch);
      g.barrier();
    }
  }

  // Whether flags [first, first + n) are all 1 (group code, after the phase that set them).
  template <class Arena>
  static bool AllSet(const Arena& flags, uint32_t first, uint32_t n) {
    for (uint32_t l = first; l < first + n; ++l) {
      if (float(flags[l]) != 1.0f) return false;
    }
    return true;
  }

  // Stages rows [0, rows) of the tile through f (gdn::StageRows), and sets flag 64 + x to
  // whether the lane's column x of it is finite.
  template <class Lane, class Arena, class F>
  HWY_INLINE void Stage(const Lane& lane, const Arena& stage, const Arena& flags, const bf16* src,
                        size_t src_stride, uint32_t rows, uint32_t width, const F& f) const {
    auto finite = lane.zero() == lane.zero();
    gdn::StageRows(lane, kLanes, src, src_stride, rows, width, stage, kBT,
                   [&](auto v, uint32_t m) HWY_ATTR {
                     const auto staged = f(v, m);
                     finite = AndMask(finite, staged - staged == lane.zero());
                     return staged;
                   });
    lane.store(flags, kBT + lane.first(), Select(finite, lane.splat(1.0f), lane.zero()));
  }

  // Share `part` of `parts` of group `id`'s rows: A_inv, v, k, β, g, and w and u for writing.
  HWY_INLINE void Prefetch(const Dim3& id, uint32_t part, uint32_t parts) const {
    const uint32_t t0 = id.y * kBT, rows = std::min(kBT, a.T - t0);
    const size_t row0 = (size_t{id.z} * a.T + t0) * a.H + id.x;
    const bf16* keys = a.k + ((size_t{id.z} * a.T + t0) * a.Hg + id.x / (a.H / a.Hg)) * a.K;
    const RowRun runs[] = {RowRunOf(a.a_inv + row0 * kBT, size_t{a.H} * kBT, rows, kBT),
                           RowRunOf(a.v + row0 * a.V, size_t{a.H} * a.V, rows, a.V),
                           RowRunOf(keys, size_t{a.Hg} * a.K, rows, a.K),
                           RowRunOf(a.beta + row0, a.H, rows, 1),
                           RowRunOf(a.g + row0, a.H, rows, 1),
                           RowRunOf(a.u + row0 * a.V, size_t{a.H} * a.V, rows, a.V, true),
                           RowRunOf(a.w + row0 * a.K, size_t{a.H} * a.K, rows, a.K, true)};
    PrefetchRows(runs, part, parts);
  }

  // out[i][x] = bf16(Σ_m f32(Ai[i][m] · stage[m][x])) for the tile's rows and columns, the
  // chains of a block of rows stopped after its last row's diagonal term where `triangular`
  // (the terms past it then leave the bits as they are); the first pack calls prefetch() once
  // per block of rows.
  template <class Group, class Prefetcher>
  HWY_INLINE void Tile(Group& g, uint32_t rows, uint32_t width, bool triangular, bf16* out,
                       size_t out_stride, const Prefetcher& prefetch) const {
    auto ai = g.template arena<float>(0);
    auto stage = g.template arena<float>(1);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t inside = gdn::Inside(lane, width);
      if (inside == 0) return;
      const uint32_t x = lane.first();
      for (uint32_t i0 = 0; i0 < rows; i0 += kBlock) {
        if (lane.first() == 0) prefetch();
        decltype(lane.zero()) acc[kBlock];
        for (uint32_t r = 0; r < kBlock; ++r) acc[r] = lane.zero();
        const uint32_t terms = triangular ? std::min(rows, i0 + kBlock) : rows;
        for (size_t m = 0; m < terms; ++m) {
          const auto s = lane.load(stage, m * kBT + x);
          for (size_t r = 0; r < kBlock; ++r) {
            acc[r] = acc[r] + lane.splat(float(ai[(i0 + r) * kBT + m])) * s;
          }
        }
        for (uint32_t r = 0; r < kBlock && i0 + r < rows; ++r) {
          gdn::StorePrefix(lane, out + (i0 + r) * out_stride + x, acc[r], inside);
        }
      }
    });
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_WU_INL_H_
