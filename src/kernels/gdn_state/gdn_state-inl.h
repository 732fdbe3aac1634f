// The stage-6 functor, gated_delta_net_chunk_inter_state_bf16 (spec/gated_delta_net_chunk.md
// section 5), in the spec's race-free order; one source for the scalar oracle and every
// Highway target.
//
// One group of 64 lanes per (64-row tile of the state, value head, batch); lane x owns state
// row x0 + x (Metal: 32 rows per group, its cells spread over simdgroup fragments). The state
// lives transposed in arena 0, ST[c][x], so that every chain of the spec runs down a lane:
//   (b) d[i][x] = fma-chain_c(w[i][c] · S[x][c]) from +0   — w[i][c] a splat, ST row c a load
//   (d) S[x][c] = fma-chain_i(vb[i][x] · k[i][c]) from the gated S, i ascending
// Per chunk: one phase stages w, k (arenas 1, 2), the u tile (3) and the row gates (5), and
// stores the bf16 snapshot h; after a barrier, one phase where each lane computes v_new, gates
// and updates its own rows (arena 4 holds vb[i][x]); a barrier ends the chunk. h0 and the
// final state move between their row layout and ST by kWidth × kWidth transposes.

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

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnStateKernel {
  static constexpr uint32_t kLanes = 64;
  static constexpr uint32_t kBT = 64;
  static constexpr uint32_t kBlock = 8;  // rows (b) or columns (d) per register block

  GdnStateArgs a;

  // Row stride of the staged w and k rows: whole packs of the last columns stay in their row.
  size_t Stride() const { return (size_t{a.K} + 15) / 16 * 16; }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();  // (state tile, head, batch)
    const uint32_t x0 = id.x * kLanes;
    const uint32_t width = std::min(kLanes, a.V - x0);
    const uint32_t hv = id.y, b = id.z;
    const uint32_t chunks = (a.T + kBT - 1) / kBT;
    const size_t state = size_t{a.V} * a.K;
    const size_t state0 = (size_t{b} * a.H + hv) * state + size_t{x0} * a.K;  // row x0 of S
    auto st = g.template arena<float>(0);
    auto w = g.template arena<float>(1);
    auto keys = g.template arena<float>(2);
    auto u = g.template arena<float>(3);
    auto gates = g.template arena<float>(5);

    g.for_each_lane([&](auto lane) HWY_ATTR { LoadState(lane, st, a.h0 + state0, width); });

    for (uint32_t n = 0; n < chunks; ++n) {
      const uint32_t t0 = n * kBT;
      const uint32_t rows = std::min(kBT, a.T - t0);
      const size_t row0 = (size_t{b} * a.T + t0) * a.H + hv;  // (b, t0, hv) of [B, T, H]
      const bf16* key_rows = a.k + ((size_t{b} * a.T + t0) * a.Hg + hv / (a.H / a.Hg)) * a.K;
      const float g_last = a.g[row0 + size_t{rows - 1} * a.H];
      g.barrier();

      g.for_each_lane([&](auto lane) HWY_ATTR {
        const auto same = [](auto v, uint32_t) HWY_ATTR { return v; };
        gdn::StageRows(lane, kLanes, a.w + row0 * a.K, size_t{a.H} * a.K, rows, a.K, w, Stride(),
                       same);
        gdn::StageRows(lane, kLanes, key_rows, size_t{a.Hg} * a.K, rows, a.K, keys, Stride(), same);
        gdn::StageRows(lane, kLanes, a.u + row0 * a.V + x0, size_t{a.H} * a.V, rows, width, u,
                       kLanes, same);
        const uint32_t inside = gdn::Inside(lane, rows);
        if (inside > 0) {
          const auto g_i = lane.load_strided(a.g + row0 + size_t{lane.first()} * a.H, a.H, inside);
          lane.store(gates, lane.first(), Exp(lane.splat(g_last) - g_i));
        }
        bf16* snapshot = a.h + ((size_t{b} * chunks + n) * a.H + hv) * state + size_t{x0} * a.K;
        StoreState(lane, st, snapshot, width);
      });
      g.barrier();

      g.for_each_lane([&](auto lane) HWY_ATTR {
        const uint32_t inside = gdn::Inside(lane, width);
        if (inside == 0) return;
        bf16* v_new = a.v_new + row0 * a.V + x0;
        uint32_t i0 = 0;
        for (; i0 + kBlock <= rows; i0 += kBlock) VNew<kBlock>(g, lane, i0, v_new, inside);
        for (; i0 < rows; ++i0) VNew<1>(g, lane, i0, v_new, inside);
        const auto decay = Exp(lane.splat(g_last));
        for (size_t c = 0; c < a.K; ++c) {
          lane.store(st, c * kLanes + lane.first(),
                     lane.load(st, c * kLanes + lane.first()) * decay);
        }
        uint32_t c0 = 0;
        for (; c0 + kBlock <= a.K; c0 += kBlock) Update<kBlock>(g, lane, c0, rows);
        for (; c0 < a.K; ++c0) Update<1>(g, lane, c0, rows);
      });
    }

    g.for_each_lane([&](auto lane)
                        HWY_ATTR { StoreState(lane, st, a.final_state + state0, width); });
  }

  // (b) and (c) for rows i0 .. i0 + N − 1 of the chunk: v_new, and vb = bf16(vn · gate_i).
  template <uint32_t N, class Group, class Lane>
  HWY_INLINE void VNew(Group& g, const Lane& lane, uint32_t i0, bf16* v_new,
                       uint32_t inside) const {
    auto st = g.template arena<float>(0);
    auto w = g.template arena<float>(1);
    auto u = g.template arena<float>(3);
    auto vb = g.template arena<float>(4);
    auto gates = g.template arena<float>(5);
    const uint32_t x = lane.first();
    decltype(lane.zero()) d[N];
    for (uint32_t r = 0; r < N; ++r) d[r] = lane.zero();
    const size_t w_row = size_t{i0} * Stride();
    for (size_t c = 0; c < a.K; ++c) {
      const auto s = lane.load(st, c * kLanes + x);
      for (size_t r = 0; r < N; ++r) {
        d[r] = Fma(lane.splat(float(w[w_row + r * Stride() + c])), s, d[r]);
      }
    }
    for (uint32_t r = 0; r < N; ++r) {
      const uint32_t i = i0 + r;
      const auto vn = lane.load(u, i * kLanes + x) - d[r];
      gdn::StorePrefix(lane, v_new + size_t{i} * a.H * a.V + x, vn, inside);
      lane.store(vb, i * kLanes + x, RoundBF16(vn * lane.splat(float(gates[i]))));
    }
  }

  // (d) for state columns c0 .. c0 + N − 1: one chain over the chunk's rows from the gated S.
  template <uint32_t N, class Group, class Lane>
  HWY_INLINE void Update(Group& g, const Lane& lane, uint32_t c0, uint32_t rows) const {
    auto st = g.template arena<float>(0);
    auto keys = g.template arena<float>(2);
    auto vb = g.template arena<float>(4);
    const uint32_t x = lane.first();
    decltype(lane.zero()) acc[N];
    for (uint32_t r = 0; r < N; ++r) acc[r] = lane.load(st, size_t{c0 + r} * kLanes + x);
    for (size_t i = 0; i < rows; ++i) {
      const auto v = lane.load(vb, i * kLanes + x);
      for (size_t r = 0; r < N; ++r)
        acc[r] = Fma(lane.splat(float(keys[i * Stride() + c0 + r])), v, acc[r]);
    }
    for (uint32_t r = 0; r < N; ++r) lane.store(st, size_t{c0 + r} * kLanes + x, acc[r]);
  }

  // ST[c][x] = src[x][c] for the lane's rows x inside the tile (rows past it read as 0).
  template <class Lane, class Arena>
  HWY_INLINE void LoadState(const Lane& lane, const Arena& st, const float* src,
                            uint32_t width) const {
    using L = Lane;
    const uint32_t x = lane.first();
    if (gdn::Inside(lane, width) == 0) return;
    for (uint32_t cb = 0; cb < a.K; cb += L::kWidth) {
      typename L::VF block[L::kWidth];
      for (uint32_t k = 0; k < L::kWidth; ++k) {
        block[k] = x + k < width ? gdn::LoadPrefix(lane, src + size_t{x + k} * a.K + cb, a.K - cb)
                                 : lane.zero();
      }
      lane.transpose(block);
      for (uint32_t k = 0; k < L::kWidth; ++k)
        lane.store(st, size_t{cb + k} * kLanes + x, block[k]);
    }
  }

  // dst[x][c] = ST[c][x] (rounded to dst's type) for the lane's rows x inside the tile.
  template <class Lane, class Arena, class T>
  HWY_INLINE void StoreState(const Lane& lane, const Arena& st, T* dst, uint32_t width) const {
    using L = Lane;
    const uint32_t x = lane.first();
    const uint32_t inside = gdn::Inside(lane, width);
    for (uint32_t cb = 0; cb < a.K && inside > 0; cb += L::kWidth) {
      typename L::VF block[L::kWidth];
      for (uint32_t k = 0; k < L::kWidth; ++k)
        block[k] = lane.load(st, size_t{cb + k} * kLanes + x);
      lane.transpose(block);
      for (uint32_t k = 0; k < L::kWidth && k < inside; ++k) {
        gdn::StorePrefix(lane, dst + size_t{x + k} * a.K + cb, block[k], a.K - cb);
      }
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_STATE_INL_H_
