// The stage-7 functor, gated_delta_net_chunk_o_bf16 (spec/gated_delta_net_chunk.md section 5),
// one source for the scalar oracle and every Highway target.
//
// One group of 16 lanes per (head, chunk, batch); lane l owns columns l + 16q, q = 0..3, of each
// 64-column tile as a register tile (gdn_tiles-inl.h; Metal spreads the cells over simdgroup
// fragments). Phases: stage the chunk's q rows and its k rows transposed to KT[c][j] (register
// transposes on the way), and G, e^G; lane j computes column j of the masked, gated,
// bf16-rounded scores Ab, only where some cell of a register tile is on or below the diagonal
// (the others are +0, as the select makes them: the mask is a select, so a skipped chain could
// not have reached o). Then per 64-wide tile of V: stage the snapshot rows h[x][·] transposed to
// HT[c][x] and the v_new columns, and lane x computes column x of o: the chain over c of q·h
// from +0, times e^{G_i}, continued by the chain over j of Ab·v_new, times scale, rounded. Every
// chain runs down one lane in the spec's order; the products are of bf16 values, so fused and
// unfused agree. Past a block's last row Ab is +0, and fma(+0, v, s) = s for a finite v and a
// sum s that is not −0: where the tile's v_new is finite (flags the staging phase sets) the
// chains over j stop there unless a sum is −0, with the same bits. The tiles ask for the next
// group's rows meanwhile (the next head: the rows beside these).

#if defined(TGK_KERNELS_GDN_OUTPUT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_OUTPUT_INL_H_
#undef TGK_KERNELS_GDN_OUTPUT_INL_H_
#else
#define TGK_KERNELS_GDN_OUTPUT_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/gdn_chunk/gdn_tiles-inl.h"
#include "kernels/gdn_output/gdn_output_args.h"
#include "tgk/group-inl.h"
#include "tgk/prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnOutputKernel {
  static constexpr uint32_t kLanes = kGdnOutputLanes;
  static constexpr uint32_t kBT = kGdnOutputChunk;

  GdnOutputArgs a;

  size_t Stride() const { return GdnOutputStride(a.K); }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();  // (head, chunk, batch)
    const uint32_t hv = id.x, n = id.y, b = id.z;
    const uint32_t rows = std::min(kBT, a.T - n * kBT);
    const size_t row0 = Row0(id);
    const size_t key_stride = size_t{a.Hg} * a.K;
    auto qs = g.template arena<float>(kGdnOutputArenaQ);
    auto kt = g.template arena<float>(kGdnOutputArenaKt);
    auto ht = g.template arena<float>(kGdnOutputArenaHt);
    auto vn = g.template arena<float>(kGdnOutputArenaV);
    auto chunk = g.template arena<float>(kGdnOutputArenaChunk);
    auto flags = g.template arena<float>(kGdnOutputArenaFlags);

    // The next group's rows, a share per register-tile block of this one (of the first pack).
    Dim3 next;
    const bool ahead = NextGroup(g, next);
    const uint32_t tiles = (a.V + kBT - 1) / kBT;
    uint32_t block = 0;
    const auto prefetch = [&](auto lane, uint32_t blocks) HWY_ATTR {
      if (lane.first() != 0) return;
      if (ahead) Prefetch(next, block, blocks);
      ++block;
    };

    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto same = [](auto v, uint32_t) HWY_ATTR { return v; };
      gdn::StageRows(lane, kLanes, a.q + Key0(id), key_stride, rows, a.K, qs, Stride(), same);
      gdn::StageTransposed(lane, a.k + Key0(id), key_stride, rows, a.K, kt, kBT);
      for (uint32_t i0 = lane.first(); i0 < kBT; i0 += kLanes) {
        const auto g_i = lane.load_strided(a.g + row0 + size_t{i0} * a.H, a.H, Inside(i0, rows));
        lane.store(chunk, i0, g_i);
        lane.store(chunk, kBT + i0, Exp(g_i));
      }
    });
    g.barrier();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      using L = decltype(lane);
      constexpr uint32_t kR = gdn::kTileRows<L>;
      const uint32_t blocks =
          gdn::BlockCount<kR>(rows) + tiles * gdn::BlockCount<gdn::kHalfTileRows<L>>(rows);
      gdn::ForBlocks<kR>(rows, [&](auto r, uint32_t i0) HWY_ATTR {
        prefetch(lane, blocks);
        // Vectors whose first column is past the block's last row are all above the diagonal.
        uint32_t below = 0;
        while (below < gdn::kTileVectors &&
               gdn::TileColumn(lane) + below * gdn::kTileLanes <= i0 + r() - 1) {
          ++below;
        }
        gdn::WithVectors(below, [&](auto nv) HWY_ATTR { Scores<r(), nv()>(g, lane, i0); });
      });
    });

    const bf16* snapshot = a.h + ((size_t{b} * Chunks() + n) * a.H + hv) * a.V * a.K;
    for (uint32_t x0 = 0; x0 < a.V; x0 += kBT) {
      const uint32_t width = std::min(kBT, a.V - x0);
      g.barrier();
      g.for_each_lane([&](auto lane) HWY_ATTR {
        gdn::StageTransposed(lane, snapshot + size_t{x0} * a.K, a.K, width, a.K, ht, kBT);
        auto finite = lane.zero() == lane.zero();
        gdn::StageRows(lane, kLanes, a.v_new + row0 * a.V + x0, size_t{a.H} * a.V, rows, width, vn,
                       kBT, [&](auto v, uint32_t) HWY_ATTR {
                         finite = AndMask(finite, v - v == lane.zero());
                         return v;
                       });
        lane.store(flags, lane.first(), Select(finite, lane.splat(1.0f), lane.zero()));
      });
      g.barrier();
      bool finite_v = true;
      for (uint32_t l = 0; l < kLanes; ++l) finite_v = finite_v && float(flags[l]) == 1.0f;
      g.for_each_lane([&](auto lane) HWY_ATTR {
        using L = decltype(lane);
        constexpr uint32_t kR = gdn::kHalfTileRows<L>;
        const uint32_t vectors = gdn::TileVectors(lane, width);
        const uint32_t blocks =
            gdn::BlockCount<gdn::kTileRows<L>>(rows) + tiles * gdn::BlockCount<kR>(rows);
        gdn::ForBlocks<kR>(rows, [&](auto r, uint32_t i0) HWY_ATTR {
          prefetch(lane, blocks);
          gdn::ForVectors<2>(vectors, [&](auto nv, uint32_t q0) HWY_ATTR {
            Output<r(), nv()>(g, lane, q0, i0, rows, x0, width, finite_v);
          });
        });
      });
    }
  }

  uint32_t Chunks() const { return (a.T + kBT - 1) / kBT; }
  static uint32_t Inside(uint32_t first, uint32_t n) { return n > first ? n - first : 0; }
  // (b, t0, hv) of [B, T, H], and the chunk's first key row.
  size_t Row0(const Dim3& id) const { return (size_t{id.z} * a.T + id.y * kBT) * a.H + id.x; }
  size_t Key0(const Dim3& id) const {
    return ((size_t{id.z} * a.T + id.y * kBT) * a.Hg + id.x / (a.H / a.Hg)) * a.K;
  }

  // Share `part` of `parts` of group `id`'s rows: q, k, g, v_new, the snapshot, and o for
  // writing.
  HWY_INLINE void Prefetch(const Dim3& id, uint32_t part, uint32_t parts) const {
    const uint32_t rows = std::min(kBT, a.T - id.y * kBT);
    const size_t row0 = Row0(id), key_stride = size_t{a.Hg} * a.K;
    const bf16* snapshot = a.h + ((size_t{id.z} * Chunks() + id.y) * a.H + id.x) * a.V * a.K;
    const RowRun runs[] = {RowRunOf(a.q + Key0(id), key_stride, rows, a.K),
                           RowRunOf(a.k + Key0(id), key_stride, rows, a.K),
                           RowRunOf(a.g + row0, a.H, rows, 1),
                           RowRunOf(a.v_new + row0 * a.V, size_t{a.H} * a.V, rows, a.V),
                           RowRunOf(snapshot, a.K, a.V, a.K),
                           RowRunOf(a.o + row0 * a.V, size_t{a.H} * a.V, rows, a.V, true)};
    PrefetchRows(runs, part, parts);
  }

  // Whether any active lane of the sums is −0.
  template <uint32_t R, uint32_t NV, class Lane, class V>
  HWY_INLINE static bool AnyNegativeZero(const Lane& lane, const V (&acc)[R][NV]) {
    auto negative_zero = lane.zero() != lane.zero();
    for (uint32_t r = 0; r < R; ++r) {
      for (uint32_t q = 0; q < NV; ++q) {
        negative_zero = OrMask(negative_zero, Select(BitsOf(acc[r][q]) == lane.splat(0x80000000u),
                                                     lane.splat(1.0f), lane.zero()) != lane.zero());
      }
    }
    return lane.any(negative_zero);
  }

  // Ab[i][j] for rows i0 .. i0 + R − 1 and the pack's columns j: the chains for its first NV
  // vectors, +0 for the others (every cell above the diagonal).
  template <uint32_t R, uint32_t NV, class Group, class Lane>
  HWY_INLINE void Scores(Group& g, const Lane& lane, uint32_t i0) const {
    auto qs = g.template arena<float>(kGdnOutputArenaQ);
    auto kt = g.template arena<float>(kGdnOutputArenaKt);
    auto ab = g.template arena<float>(kGdnOutputArenaAb);
    auto chunk = g.template arena<float>(kGdnOutputArenaChunk);
    const uint32_t j0 = gdn::TileColumn(lane);
    const auto store = [&](uint32_t q, uint32_t r, auto v) HWY_ATTR {
      lane.store(ab, size_t{i0 + r} * kBT + j0 + q * gdn::kTileLanes, v);
    };
    if constexpr (NV > 0) {
      decltype(lane.zero()) acc[R][NV];
      for (auto& row : acc) {
        for (auto& e : row) e = lane.zero();
      }
      gdn::AccumulateTile(lane, acc, qs, size_t{i0} * Stride(), Stride(), 1, kt, j0, kBT, a.K,
                          [](auto s, auto v, auto sum) HWY_ATTR { return Fma(s, v, sum); });
      for (uint32_t q = 0; q < NV; ++q) {
        const uint32_t j = j0 + q * gdn::kTileLanes;
        const auto g_j = lane.load(chunk, j);
        const auto column = lane.id() - lane.splat(lane.first()) + lane.splat(j);
        for (uint32_t r = 0; r < R; ++r) {
          const uint32_t i = i0 + r;
          const auto gated = acc[r][q] * Exp(lane.splat(float(chunk[i])) - g_j);
          store(q, r, RoundBF16(Select(column < lane.splat(i + 1), gated, lane.zero())));
        }
      }
    }
    for (uint32_t q = NV; q < gdn::kTileVectors; ++q) {
      for (uint32_t r = 0; r < R; ++r) store(q, r, lane.zero());
    }
  }

  // o[i][x0 + x] for rows i0 .. i0 + R − 1 and the pack's vectors q0 .. q0 + NV − 1 of the tile.
  // Ab[i][j] is +0 past the block's last row, and fma(+0, v, s) = s for a finite v and a sum s
  // that is not −0: with the tile's v_new finite (finite_v), the chains stop after the block's
  // last row unless one of its sums is −0 there.
  template <uint32_t R, uint32_t NV, class Group, class Lane>
  HWY_INLINE void Output(Group& g, const Lane& lane, uint32_t q0, uint32_t i0, uint32_t rows,
                         uint32_t x0, uint32_t width, bool finite_v) const {
    auto qs = g.template arena<float>(kGdnOutputArenaQ);
    auto ab = g.template arena<float>(kGdnOutputArenaAb);
    auto ht = g.template arena<float>(kGdnOutputArenaHt);
    auto vn = g.template arena<float>(kGdnOutputArenaV);
    auto chunk = g.template arena<float>(kGdnOutputArenaChunk);
    const uint32_t x = gdn::TileColumn(lane) + q0 * gdn::kTileLanes;
    const auto fma = [](auto s, auto v, auto sum) HWY_ATTR { return Fma(s, v, sum); };
    decltype(lane.zero()) acc[R][NV];
    for (auto& row : acc) {
      for (auto& e : row) e = lane.zero();
    }
    gdn::AccumulateTile(lane, acc, qs, size_t{i0} * Stride(), Stride(), 1, ht, x, kBT, a.K, fma);
    for (uint32_t r = 0; r < R; ++r) {
      const auto gate = lane.splat(float(chunk[kBT + i0 + r]));
      for (uint32_t q = 0; q < NV; ++q) acc[r][q] = acc[r][q] * gate;
    }
    const uint32_t end = finite_v ? std::min(rows, i0 + R) : rows;
    gdn::AccumulateTile(lane, acc, ab, size_t{i0} * kBT, kBT, 1, vn, x, kBT, end, fma);
    if (end < rows && AnyNegativeZero(lane, acc)) {
      gdn::AccumulateTile(lane, acc, ab, size_t{i0} * kBT + end, kBT, 1, vn, x + end * kBT, kBT,
                          rows - end, fma);
    }
    const size_t row0 = Row0(g.group_id());
    for (uint32_t r = 0; r < R; ++r) {
      bf16* out = a.o + (row0 + size_t{i0 + r} * a.H) * a.V + x0 + x;
      for (uint32_t q = 0; q < NV; ++q) {
        const uint32_t inside = gdn::InsideAt(lane, width, (q0 + q) * gdn::kTileLanes);
        gdn::StorePrefix(lane, out + q * gdn::kTileLanes, acc[r][q] * lane.splat(a.scale), inside);
      }
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_OUTPUT_INL_H_
