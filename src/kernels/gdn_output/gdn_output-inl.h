// The stage-7 functor, gated_delta_net_chunk_o_bf16 (spec/gated_delta_net_chunk.md section 5),
// one source for the scalar oracle and every Highway target.
//
// One group of 64 lanes per (head, chunk, batch). Phases: stage the chunk's q and k rows
// (arenas 0, 1) and G, e^G (arena 7); transpose k to KT[c][j] (arena 2); lane j computes
// column j of the masked, gated, bf16-rounded scores Ab (arena 3). Then per 64-wide tile of
// V: stage the snapshot rows h[x][·] (arena 4) and v_new (arena 6), transpose the snapshot to
// HT[c][x] (arena 5), and lane x computes column x of o: the chain over c of q·h from +0,
// times e^{G_i}, continued by the chain over j of Ab·v_new, times scale, rounded. Every chain
// runs down one lane in the spec's order (Metal spreads them over simdgroup fragments); the
// products are of bf16 values, so fused and unfused agree.

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

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnOutputKernel {
  static constexpr uint32_t kLanes = 64;
  static constexpr uint32_t kBT = 64;
  static constexpr uint32_t kBlock = 8;  // rows per register block

  GdnOutputArgs a;

  // Row stride of the staged q, k and h rows: whole packs of the last columns stay in their row.
  size_t Stride() const { return (size_t{a.K} + 15) / 16 * 16; }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();  // (head, chunk, batch)
    const uint32_t hv = id.x, n = id.y, b = id.z;
    const uint32_t t0 = n * kBT;
    const uint32_t rows = std::min(kBT, a.T - t0);
    const uint32_t chunks = (a.T + kBT - 1) / kBT;
    const size_t row0 = (size_t{b} * a.T + t0) * a.H + hv;  // (b, t0, hv) of [B, T, H]
    const size_t key0 = ((size_t{b} * a.T + t0) * a.Hg + hv / (a.H / a.Hg)) * a.K;
    const size_t key_stride = size_t{a.Hg} * a.K;
    const size_t stride = Stride();
    auto qs = g.template arena<float>(0);
    auto kx = g.template arena<float>(1);
    auto kt = g.template arena<float>(2);
    auto hx = g.template arena<float>(4);
    auto ht = g.template arena<float>(5);
    auto vn = g.template arena<float>(6);
    auto chunk = g.template arena<float>(7);  // [0, 64): G, [64, 128): e^G; 0 past T

    const auto same = [](auto v, uint32_t) HWY_ATTR { return v; };
    g.for_each_lane([&](auto lane) HWY_ATTR {
      gdn::StageRows(lane, kLanes, a.q + key0, key_stride, rows, a.K, qs, stride, same);
      gdn::StageRows(lane, kLanes, a.k + key0, key_stride, rows, a.K, kx, stride, same);
      ZeroRows(lane, kx, stride, rows, kLanes);  // the transpose reads every row
      const uint32_t inside = gdn::Inside(lane, rows);
      auto g_i = lane.zero(), e_i = lane.zero();
      if (inside > 0) {
        g_i = lane.load_strided(a.g + row0 + size_t{lane.first()} * a.H, a.H, inside);
        e_i = Exp(g_i);
      }
      lane.store(chunk, lane.first(), g_i);
      lane.store(chunk, kBT + lane.first(), e_i);
    });
    g.barrier();
    g.for_each_lane([&](auto lane) HWY_ATTR { gdn::TransposeTile(lane, kx, stride, a.K, kt); });
    g.barrier();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      uint32_t i0 = 0;
      for (; i0 + kBlock <= rows; i0 += kBlock) Scores<kBlock>(g, lane, i0);
      for (; i0 < rows; ++i0) Scores<1>(g, lane, i0);
    });

    const bf16* snapshot = a.h + ((size_t{b} * chunks + n) * a.H + hv) * a.V * a.K;
    for (uint32_t x0 = 0; x0 < a.V; x0 += kLanes) {
      const uint32_t width = std::min(kLanes, a.V - x0);
      g.barrier();
      g.for_each_lane([&](auto lane) HWY_ATTR {
        gdn::StageRows(lane, kLanes, snapshot + size_t{x0} * a.K, a.K, width, a.K, hx, stride,
                       same);
        ZeroRows(lane, hx, stride, width, kLanes);
        gdn::StageRows(lane, kLanes, a.v_new + row0 * a.V + x0, size_t{a.H} * a.V, rows, width, vn,
                       kLanes, same);
      });
      g.barrier();
      g.for_each_lane([&](auto lane) HWY_ATTR { gdn::TransposeTile(lane, hx, stride, a.K, ht); });
      g.barrier();
      g.for_each_lane([&](auto lane) HWY_ATTR {
        const uint32_t inside = gdn::Inside(lane, width);
        if (inside == 0) return;
        bf16* out = a.o + row0 * a.V + x0;
        uint32_t i0 = 0;
        for (; i0 + kBlock <= rows; i0 += kBlock) Output<kBlock>(g, lane, i0, rows, out, inside);
        for (; i0 < rows; ++i0) Output<1>(g, lane, i0, rows, out, inside);
      });
    }
  }

  // Rows [from, to) of a staged tile become +0 in the lane's columns.
  template <class Lane, class Arena>
  HWY_INLINE void ZeroRows(const Lane& lane, const Arena& tile, size_t stride, uint32_t from,
                           uint32_t to) const {
    for (uint32_t c0 = lane.first(); c0 < stride; c0 += kLanes) {
      for (uint32_t r = from; r < to; ++r) lane.store(tile, r * stride + c0, lane.zero());
    }
  }

  // Ab[i][j] for rows i0 .. i0 + N − 1 and the lane's columns j.
  template <uint32_t N, class Group, class Lane>
  HWY_INLINE void Scores(Group& g, const Lane& lane, uint32_t i0) const {
    auto qs = g.template arena<float>(0);
    auto kt = g.template arena<float>(2);
    auto ab = g.template arena<float>(3);
    auto chunk = g.template arena<float>(7);
    const uint32_t j = lane.first();
    decltype(lane.zero()) acc[N];
    for (uint32_t r = 0; r < N; ++r) acc[r] = lane.zero();
    const size_t q_row = size_t{i0} * Stride();
    for (size_t c = 0; c < a.K; ++c) {
      const auto key = lane.load(kt, c * kLanes + j);
      for (size_t r = 0; r < N; ++r) {
        acc[r] = Fma(lane.splat(float(qs[q_row + r * Stride() + c])), key, acc[r]);
      }
    }
    const auto g_j = lane.load(chunk, j);
    for (uint32_t r = 0; r < N; ++r) {
      const uint32_t i = i0 + r;
      const auto gated = acc[r] * Exp(lane.splat(float(chunk[i])) - g_j);
      const auto masked = Select(lane.id() < lane.splat(i + 1), gated, lane.zero());
      lane.store(ab, i * kLanes + j, RoundBF16(masked));
    }
  }

  // o[i][x] for rows i0 .. i0 + N − 1 and the lane's columns x of the V tile.
  template <uint32_t N, class Group, class Lane>
  HWY_INLINE void Output(Group& g, const Lane& lane, uint32_t i0, uint32_t rows, bf16* out,
                         uint32_t inside) const {
    auto qs = g.template arena<float>(0);
    auto ab = g.template arena<float>(3);
    auto ht = g.template arena<float>(5);
    auto vn = g.template arena<float>(6);
    auto chunk = g.template arena<float>(7);
    const uint32_t x = lane.first();
    decltype(lane.zero()) acc[N];
    for (uint32_t r = 0; r < N; ++r) acc[r] = lane.zero();
    const size_t q_row = size_t{i0} * Stride();
    for (size_t c = 0; c < a.K; ++c) {
      const auto state = lane.load(ht, c * kLanes + x);
      for (size_t r = 0; r < N; ++r) {
        acc[r] = Fma(lane.splat(float(qs[q_row + r * Stride() + c])), state, acc[r]);
      }
    }
    for (uint32_t r = 0; r < N; ++r) acc[r] = acc[r] * lane.splat(float(chunk[kBT + i0 + r]));
    for (size_t j = 0; j < rows; ++j) {
      const auto value = lane.load(vn, j * kLanes + x);
      for (size_t r = 0; r < N; ++r) {
        acc[r] = Fma(lane.splat(float(ab[(i0 + r) * kLanes + j])), value, acc[r]);
      }
    }
    for (uint32_t r = 0; r < N; ++r) {
      gdn::StorePrefix(lane, out + size_t{i0 + r} * a.H * a.V + x, acc[r] * lane.splat(a.scale),
                       inside);
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_OUTPUT_INL_H_
