// The stage-6 functor, gated_delta_net_chunk_inter_state_bf16 (spec/gated_delta_net_chunk.md
// section 5), in the spec's race-free order; one source for the scalar oracle and every
// Highway target.
//
// One group per (tile of 64 or 128 state rows, value head, batch), a lane per 4 rows: lane l
// owns state rows x0 + 64·(l / 16) + l % 16 + 16q, q = 0..3, as register tiles
// (gdn_tiles-inl.h; Metal: 32 rows per group, its cells spread over simdgroup fragments;
// GdnStateTile picks the tile). The state lives transposed in arena ST[c][x], so that every
// chain of the spec runs down a lane:
//   (b) d[i][x] = fma-chain_c(w[i][c] · S[x][c]) from +0   — w[i][c] a splat, ST row c a load
//   (d) S[x][c] = fma-chain_i(vb[i][x] · k[i][c]) from the gated S, i ascending
// (b) runs in tiles of rows × 2 vectors, so that the half of ST a pass reads stays in L1; (d) in
// tiles of columns × 4 vectors, starting from ST · exp(G_{L−1}).
// Per chunk: one phase stages w and k and the row gates, and stores the bf16 snapshot h; after
// a barrier, one phase where each lane computes v_new, gates and updates its own rows (vb[i][x]
// in its arena); a barrier ends the chunk. The second phase asks for the next chunk's rows a
// share per register tile: its w, k, u rows lie 8 KiB apart (another page each), which the
// hardware prefetchers do not follow. h0 and the final state move between their row layout and
// ST by kWidth × kWidth transposes.

#if defined(TGK_KERNELS_GDN_STATE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_STATE_INL_H_
#undef TGK_KERNELS_GDN_STATE_INL_H_
#else
#define TGK_KERNELS_GDN_STATE_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/gdn_chunk/gdn_tiles-inl.h"
#include "kernels/gdn_state/gdn_state_args.h"
#include "tgk/group-inl.h"
#include "tgk/prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnStateKernel {
  static constexpr uint32_t kBT = kGdnStateChunk;

  GdnStateArgs a;

  size_t Stride() const { return GdnStateStride(a.K); }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();  // (state tile, head, batch)
    const uint32_t tile = Tile(g), lanes = g.size();
    const uint32_t x0 = id.x * tile;
    const uint32_t width = std::min(tile, a.V - x0);
    const uint32_t hv = id.y, b = id.z;
    const uint32_t chunks = (a.T + kBT - 1) / kBT;
    const size_t state = size_t{a.V} * a.K;
    const size_t state0 = (size_t{b} * a.H + hv) * state + size_t{x0} * a.K;  // row x0 of S
    auto st = g.template arena<float>(kGdnStateArenaSt);
    auto w = g.template arena<float>(kGdnStateArenaW);
    auto keys = g.template arena<float>(kGdnStateArenaK);
    auto gates = g.template arena<float>(kGdnStateArenaGates);

    g.for_each_lane([&](auto lane) HWY_ATTR {
      gdn::StageTransposed(lane, a.h0 + state0, a.K, width, a.K, st, tile);
    });

    for (uint32_t n = 0; n < chunks; ++n) {
      const uint32_t t0 = n * kBT;
      const uint32_t rows = std::min(kBT, a.T - t0);
      const size_t row0 = (size_t{b} * a.T + t0) * a.H + hv;  // (b, t0, hv) of [B, T, H]
      const float g_last = a.g[row0 + size_t{rows - 1} * a.H];
      g.barrier();

      g.for_each_lane([&](auto lane) HWY_ATTR {
        const auto same = [](auto v, uint32_t) HWY_ATTR { return v; };
        gdn::StageRows(lane, lanes, a.w + row0 * a.K, size_t{a.H} * a.K, rows, a.K, w, Stride(),
                       same);
        gdn::StageRows(lane, lanes, Keys(b, t0, hv), size_t{a.Hg} * a.K, rows, a.K, keys, Stride(),
                       same);
        for (uint32_t i0 = lane.first(); i0 < rows; i0 += lanes) {
          const auto g_i = lane.load_strided(a.g + row0 + size_t{i0} * a.H, a.H, rows - i0);
          lane.store(gates, i0, Exp(lane.splat(g_last) - g_i));
        }
        bf16* snapshot = a.h + ((size_t{b} * chunks + n) * a.H + hv) * state + size_t{x0} * a.K;
        gdn::StoreTransposed(lane, st, tile, width, a.K, snapshot, a.K);
      });
      g.barrier();

      g.for_each_lane([&](auto lane) HWY_ATTR {
        using L = decltype(lane);
        constexpr uint32_t kRowsB = gdn::kHalfTileRows<L>, kRowsD = gdn::kTileRows<L>;
        const uint32_t vectors = gdn::TileVectors(lane, width);
        if (vectors == 0) return;
        // The next chunk's rows are fetched a share per register-tile block.
        const bool ahead = lane.first() == 0 && n + 1 < chunks;
        const uint32_t blocks = gdn::BlockCount<kRowsB>(rows) + gdn::BlockCount<kRowsD>(a.K);
        uint32_t block = 0;
        const auto prefetch = [&]() HWY_ATTR {
          if (ahead) Prefetch(b, t0 + kBT, hv, x0, width, block, blocks);
          ++block;
        };
        gdn::ForBlocks<kRowsB>(rows, [&](auto r, uint32_t i0) HWY_ATTR {
          prefetch();
          gdn::ForVectors<2>(vectors, [&](auto nv, uint32_t q0) HWY_ATTR {
            VNew<r(), nv()>(g, lane, q0, i0, row0, x0, width);
          });
        });
        const auto decay = Exp(lane.splat(g_last));
        gdn::ForBlocks<kRowsD>(a.K, [&](auto r, uint32_t c0) HWY_ATTR {
          prefetch();
          gdn::ForVectors<gdn::kTileVectors>(vectors, [&](auto nv, uint32_t q0) HWY_ATTR {
            Update<r(), nv()>(g, lane, q0, c0, rows, decay);
          });
        });
      });
    }

    g.for_each_lane([&](auto lane) HWY_ATTR {
      gdn::StoreTransposed(lane, st, tile, width, a.K, a.final_state + state0, a.K);
    });
  }

  // State rows per group: 4 per lane (GdnStateTile chose 64 or 128 at dispatch).
  template <class Group>
  static uint32_t Tile(const Group& g) {
    return g.size() * gdn::kTileVectors;
  }

  const bf16* Keys(uint32_t b, uint32_t t0, uint32_t hv) const {
    return a.k + ((size_t{b} * a.T + t0) * a.Hg + hv / (a.H / a.Hg)) * a.K;
  }

  // Share `part` of `parts` of the chunk starting at t1 (within T): its w, k, g and u rows, and
  // the tile's v_new rows and snapshot for writing.
  HWY_INLINE void Prefetch(uint32_t b, uint32_t t1, uint32_t hv, uint32_t x0, uint32_t width,
                           uint32_t part, uint32_t parts) const {
    const uint32_t rows = std::min(kBT, a.T - t1);
    const size_t row0 = (size_t{b} * a.T + t1) * a.H + hv;
    const uint32_t chunks = (a.T + kBT - 1) / kBT;
    const bf16* snapshot = a.h + ((size_t{b} * chunks + t1 / kBT) * a.H + hv) * a.V * a.K;
    const RowRun runs[] = {
        RowRunOf(a.w + row0 * a.K, size_t{a.H} * a.K, rows, a.K),
        RowRunOf(Keys(b, t1, hv), size_t{a.Hg} * a.K, rows, a.K),
        RowRunOf(a.g + row0, a.H, rows, 1),
        RowRunOf(a.u + row0 * a.V + x0, size_t{a.H} * a.V, rows, width),
        RowRunOf(a.v_new + row0 * a.V + x0, size_t{a.H} * a.V, rows, width, true),
        RowRunOf(snapshot + size_t{x0} * a.K, a.K, width, a.K, true)};
    PrefetchRows(runs, part, parts);
  }

  // (b) and (c) for rows i0 .. i0 + R − 1 of the chunk and the pack's vectors q0 .. q0 + NV − 1:
  // v_new, and vb = bf16(vn · gate_i).
  template <uint32_t R, uint32_t NV, class Group, class Lane>
  HWY_INLINE void VNew(Group& g, const Lane& lane, uint32_t q0, uint32_t i0, size_t row0,
                       uint32_t x0, uint32_t width) const {
    auto st = g.template arena<float>(kGdnStateArenaSt);
    auto w = g.template arena<float>(kGdnStateArenaW);
    auto vb = g.template arena<float>(kGdnStateArenaVb);
    auto gates = g.template arena<float>(kGdnStateArenaGates);
    const uint32_t x = gdn::TileColumn(lane) + q0 * gdn::kTileLanes;
    decltype(lane.zero()) d[R][NV];
    for (auto& row : d) {
      for (auto& e : row) e = lane.zero();
    }
    const uint32_t tile = Tile(g);
    gdn::AccumulateTile(lane, d, w, size_t{i0} * Stride(), Stride(), 1, st, x, tile, a.K,
                        [](auto s, auto v, auto acc) HWY_ATTR { return Fma(s, v, acc); });
    for (uint32_t r = 0; r < R; ++r) {
      const uint32_t i = i0 + r;
      const size_t row = (row0 + size_t{i} * a.H) * a.V + x0;
      const auto gate = lane.splat(float(gates[i]));
      for (uint32_t q = 0; q < NV; ++q) {
        const uint32_t col = x + q * gdn::kTileLanes;
        const uint32_t inside = gdn::InsideAt(lane, width, (q0 + q) * gdn::kTileLanes);
        const auto vn = gdn::LoadPrefix(lane, a.u + row + col, inside) - d[r][q];
        gdn::StorePrefix(lane, a.v_new + row + col, vn, inside);
        lane.store(vb, size_t{i} * tile + col, RoundBF16(vn * gate));
      }
    }
  }

  // (d) for state columns c0 .. c0 + R − 1 and the pack's vectors q0 .. q0 + NV − 1: one chain
  // over the chunk's rows from the gated S.
  template <uint32_t R, uint32_t NV, class Group, class Lane, class V>
  HWY_INLINE void Update(Group& g, const Lane& lane, uint32_t q0, uint32_t c0, uint32_t rows,
                         V decay) const {
    auto st = g.template arena<float>(kGdnStateArenaSt);
    auto keys = g.template arena<float>(kGdnStateArenaK);
    auto vb = g.template arena<float>(kGdnStateArenaVb);
    const uint32_t x = gdn::TileColumn(lane) + q0 * gdn::kTileLanes;
    const uint32_t tile = Tile(g);
    V acc[R][NV];
    for (uint32_t r = 0; r < R; ++r) {
      for (uint32_t q = 0; q < NV; ++q) {
        acc[r][q] = lane.load(st, size_t{c0 + r} * tile + x + q * gdn::kTileLanes) * decay;
      }
    }
    gdn::AccumulateTile(lane, acc, keys, c0, 1, Stride(), vb, x, tile, rows,
                        [](auto s, auto v, auto acc) HWY_ATTR { return Fma(s, v, acc); });
    for (uint32_t r = 0; r < R; ++r) {
      for (uint32_t q = 0; q < NV; ++q) {
        lane.store(st, size_t{c0 + r} * tile + x + q * gdn::kTileLanes, acc[r][q]);
      }
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_STATE_INL_H_
