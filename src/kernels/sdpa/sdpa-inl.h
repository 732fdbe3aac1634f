// The sdpa functor (docs/spec/sdpa.md section 3), one source for the scalar oracle and every
// Highway target, for f32 (T = float) and bf16 (T = bf16) buffers.
//
// Structure, as on the GPU: one group of 32 lanes per (batch, query head, tile of 32 query
// rows), one query row per lane, lanes past seq_len idle; no cooperation between lanes. Each
// lane walks its visible keys in ascending order with the spec's online softmax:
//
//   dot = Σ_d Q[d]·K[p][d] (from +0, ascending d)   s = dot·scale
//   M_new = max(M, s)   corr = exp(M − M_new)   w = exp(s − M_new)   L = L·corr + w
//   acc[d] = acc[d]·corr + w·V[p][d]
//
// every product rounded, then the add (never fused), and finally O[d] = acc[d] · (1 / L).
//
// Lanes are blocked for registers (W = Lane::kWidth consecutive query rows, W = 1 for the scalar
// lane); each row still sees the same operations in the same order:
//   - Q is staged transposed in arena 0 ([d][lane]) so that a pack reads its rows' Q[d] as one
//     vector; acc lives in arena 1 ([d][lane]). Staging and the final store go through
//     StageColumns and StoreColumns (tgk/rows-inl.h: pure data movement).
//   - The dot products of a block of keys are computed at once, K[p][d] splatted (the same for
//     every row): they are independent of each other, and each still sums over d in ascending
//     order. Then the softmax updates of the block's keys, in key order. Then, for a chunk of d
//     held in registers, acc[d] updated by the block's keys in key order.
//   - Where the running max is unchanged and finite in every row of the pack (the common case
//     once a row has seen a few keys), M − M_new is +0 and corr = exp(+0) is exactly 1 in
//     tgk's Exp, so it is not evaluated, and acc·corr is skipped: x·1 = x bit for bit for every
//     x but NaN (finite, subnormal, ±0, ±inf), and a NaN stays a NaN (NaN payloads are not part
//     of the contract). The same skip applies wherever corr evaluates to exactly 1 in every row.
//   - bf16 K and V rows are widened (WidenRow: exact; a signalling NaN is quieted by the product
//     it enters, as the reference's widening would) into small local buffers, a chunk at a
//     time, so that the inner loops splat f32 values as for f32 inputs.
//   - The packs of a group take the keys a span (kSpan keys) at a time, each pack in turn, so
//     that a span's K and V rows come from memory once per group; M and L wait in lane state
//     between spans.
// Rows of a pack see different numbers of keys (causal rule). Keys every row sees run unmasked;
// keys only some rows see run masked: a row past its n_q keeps M, L and acc unchanged (Select,
// so that not even −0 + 0 or 0·inf can touch them).
//
// What differs from the Metal kernel, none of it visible in the output: arenas 0 (Q transposed)
// and 1 (acc) replace the lane's private Q reads and accumulator; groups map to (batch, head,
// tile) in a cache-friendly order (Rasterized); offsets are 64-bit.

#if defined(TGK_KERNELS_SDPA_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_SDPA_INL_H_
#undef TGK_KERNELS_SDPA_INL_H_
#else
#define TGK_KERNELS_SDPA_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/sdpa/sdpa_args.h"
#include "tgk/group-inl.h"
#include "tgk/rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace sdpa {

// The f32 values of src[0..n): f32 rows are read in place, bf16 rows widened (exactly) into buf.
template <class Lane>
HWY_INLINE const float* F32Row(const Lane& /*lane*/, const float* src, size_t /*n*/,
                               float* /*buf*/) {
  return src;
}
template <class Lane>
HWY_INLINE const float* F32Row(const Lane& lane, const bf16* src, size_t n, float* buf) {
  WidenRow(lane, src, n, buf);
  return buf;
}

}  // namespace sdpa

template <class T>
struct SdpaKernel {
  static constexpr uint32_t kTileQ = kSdpaGroupSize;

  SdpaArgs<T> a;

  // The group's view of its (batch, head): Q and out rows of the tile, K and V of the key head.
  struct Head {
    const T* q;  // row 0 of the tile
    T* out;
    const T* k;  // position 0
    const T* v;
  };

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = Rasterized(g.group_id(), g.grid_size());  // (batch, head, tile)
    const uint32_t kh = id.y / (a.n_heads / a.n_kv_heads);
    const uint32_t q_tile = id.z * kTileQ;
    const size_t hd = a.head_dim;
    const size_t q_row = (size_t{id.x} * a.n_heads + id.y) * a.seq_len + q_tile;
    const size_t kv_row = (size_t{id.x} * a.n_kv_heads + kh) * a.kv_capacity;
    const Head head{a.q + q_row * hd, a.out + q_row * hd, a.k + kv_row * hd, a.v + kv_row * hd};
    const auto qt = g.template arena<float>(kSdpaArenaQ);
    const auto acc = g.template arena<float>(kSdpaArenaAcc);
    const auto ml = g.template lane_state<float, 2>();  // each row's running M and L
    // A lane touches only its own row: its columns of the arenas and its lane state. So the
    // bodies below need no barriers, and the keys can be taken a span at a time by every pack
    // in turn, each span read from memory once per group and then from L1.
    g.for_each_lane([&](auto lane) HWY_ATTR { Begin(lane, head, q_tile, qt, acc, ml); });
    const uint32_t keys = std::min(a.kv_seq_len - a.seq_len + q_tile + kTileQ, a.kv_seq_len);
    for (uint32_t p0 = 0; p0 < keys; p0 += kSpan) {
      g.for_each_lane([&](auto lane) HWY_ATTR { Span(lane, head, q_tile, p0, qt, acc, ml); });
    }
    g.for_each_lane([&](auto lane) HWY_ATTR { End(lane, head, q_tile, acc, ml); });
  }

 private:
  // The (batch, head, tile) a group computes. The runtime runs a thread's groups in linear
  // order, batch fastest (detail/launch.h); taken as the grid says, consecutive groups would
  // read the keys and values of every KV head, more than a core's L2 holds. Instead,
  // consecutive groups walk the tiles of one (batch, head), last tile first: each finds the
  // previous one's keys and values in cache, and the costliest tiles (the causal rule gives
  // tile t keys up to 32·(t + 1)) start first. Only the order changes, never a result.
  static HWY_INLINE Dim3 Rasterized(Dim3 id, Dim3 grid) {
    const uint64_t linear = id.x + uint64_t{grid.x} * (id.y + uint64_t{grid.y} * id.z);
    const uint64_t batch_head = linear / grid.z;
    return Dim3{uint32_t(batch_head / grid.y), uint32_t(batch_head % grid.y),
                grid.z - 1 - uint32_t(linear % grid.z)};
  }

  // Register blocking: keys per block, d rows of acc per chunk. A span is a whole number of
  // blocks for every lane width.
  template <class Lane>
  static constexpr uint32_t kBlock = Lane::kWidth >= 16 ? 16 : 8;
  static constexpr uint32_t kSpan = 16;

  // The rows of a lane (a pack's rows below `rows`) and the keys they see: the causal rule
  // with the decode offset, row q sees keys p < n_q = min(a + 1, kv_seq_len),
  // a = kv_seq_len − seq_len + q (seq_len <= kv_seq_len, so no wrap-around). Keys below n_lo
  // are seen by every row of the lane, keys from n_lo to n_hi by some.
  template <class Lane>
  struct Visible {
    uint32_t rows;
    uint32_t n_lo, n_hi;
    typename Lane::VU n_q;
  };
  template <class Lane>
  HWY_INLINE Visible<Lane> RowsOf(const Lane& lane, uint32_t q_tile) const {
    const uint32_t lane0 = lane.first();
    const uint32_t rows = std::min(lane.count(), a.seq_len - q_tile - lane0);
    const uint32_t first_visible = a.kv_seq_len - a.seq_len + q_tile + 1;  // n_q of row 0
    return Visible<Lane>{rows, std::min(first_visible + lane0, a.kv_seq_len),
                         std::min(first_visible + lane0 + rows - 1, a.kv_seq_len),
                         Min(lane.id() + lane.splat(first_visible), lane.splat(a.kv_seq_len))};
  }

  // Rows past the sequence do nothing.
  template <class Lane>
  HWY_INLINE bool Idle(const Lane& lane, uint32_t q_tile) const {
    return q_tile + lane.first() >= a.seq_len;
  }

  template <class Lane, class Arena, class State>
  HWY_INLINE void Begin(const Lane& lane, const Head& head, uint32_t q_tile, const Arena& qt,
                        const Arena& acc, const State& ml) const {
    if (Idle(lane, q_tile)) return;
    const uint32_t lane0 = lane.first();
    const size_t hd = a.head_dim;
    StageColumns(lane, head.q + lane0 * hd, hd, hd, RowsOf(lane, q_tile).rows, qt, kTileQ);
    for (size_t d = 0; d < hd; ++d) lane.store(acc, d * kTileQ + lane0, lane.zero());
    lane.store(ml, 0, lane.splat(-std::numeric_limits<float>::infinity()));
    lane.store(ml, 1, lane.zero());
  }

  // Keys p0 .. p0 + kSpan − 1 (those the lane's rows see), a block at a time.
  template <class Lane, class Arena, class State>
  HWY_INLINE void Span(const Lane& lane, const Head& head, uint32_t q_tile, uint32_t p0,
                       const Arena& qt, const Arena& acc, const State& ml) const {
    constexpr uint32_t kKeys = kBlock<Lane>;
    if (Idle(lane, q_tile)) return;
    const Visible<Lane> v = RowsOf(lane, q_tile);
    if (p0 >= v.n_hi) return;
    auto m = lane.load(ml, 0);
    auto l = lane.load(ml, 1);
    for (uint32_t p = p0; p < std::min(p0 + kSpan, v.n_hi); p += kKeys) {
      if (p + kKeys <= v.n_lo) {
        Keys<false>(lane, head, p, kKeys, v.n_q, qt, acc, m, l);
      } else {
        Keys<true>(lane, head, p, std::min(kKeys, v.n_hi - p), v.n_q, qt, acc, m, l);
      }
    }
    lane.store(ml, 0, m);
    lane.store(ml, 1, l);
  }

  template <class Lane, class Arena, class State>
  HWY_INLINE void End(const Lane& lane, const Head& head, uint32_t q_tile, const Arena& acc,
                      const State& ml) const {
    if (Idle(lane, q_tile)) return;
    const uint32_t lane0 = lane.first();
    const size_t hd = a.head_dim;
    const auto inv = lane.splat(1.0f) / lane.load(ml, 1);
    for (size_t d = 0; d < hd; ++d) {
      lane.store(acc, d * kTileQ + lane0, lane.load(acc, d * kTileQ + lane0) * inv);
    }
    StoreColumns(lane, acc, kTileQ, hd, RowsOf(lane, q_tile).rows, head.out + lane0 * hd, hd);
  }

  // Keys p0 .. p0 + count − 1, count <= kBlock. kMasked: some rows of the pack do not see all
  // of them.
  template <bool kMasked, class Lane, class VU, class Arena>
  HWY_INLINE void Keys(const Lane& lane, const Head& head, uint32_t p0, uint32_t count, VU n_q,
                       const Arena& qt, const Arena& acc, typename Lane::VF& m,
                       typename Lane::VF& l) const {
    using VF = typename Lane::VF;
    using Mask = decltype(lane.splat(p0) < n_q);
    constexpr uint32_t kKeys = kBlock<Lane>;
    constexpr uint32_t kDotChunk = 64;
    const uint32_t lane0 = lane.first();
    const size_t hd = a.head_dim;

    // Dot products, each over d in ascending order from +0. Registers hold a full block; the
    // slots past `count` repeat the last key and are never used.
    const T* keys[kKeys];
    for (uint32_t j = 0; j < kKeys; ++j) keys[j] = head.k + (p0 + std::min(j, count - 1)) * hd;
    VF s[kKeys];
    for (uint32_t j = 0; j < kKeys; ++j) s[j] = lane.zero();
    HWY_ALIGN float widened[kKeys][kDotChunk];
    for (size_t d0 = 0; d0 < hd; d0 += kDotChunk) {
      const size_t n = std::min<size_t>(kDotChunk, hd - d0);
      const float* kf[kKeys];
      for (uint32_t j = 0; j < kKeys; ++j) kf[j] = sdpa::F32Row(lane, keys[j] + d0, n, widened[j]);
      for (size_t d = 0; d < n; ++d) {
        const VF q = lane.load(qt, (d0 + d) * kTileQ + lane0);
        for (uint32_t j = 0; j < kKeys; ++j) s[j] = s[j] + q * lane.splat(kf[j][d]);
      }
    }

    // Online softmax, key by key. `unit`: corr is exactly 1 in every row of the pack (see the
    // top of the file).
    VF corr[kKeys], w[kKeys];
    Mask visible[kKeys];
    bool unit[kKeys];
    for (uint32_t j = 0; j < count; ++j) {
      const VF score = s[j] * lane.splat(a.scale);
      const VF m_new = Max(m, score);
      const VF shift = m - m_new;
      unit[j] = !kMasked && lane.all(shift == lane.zero());
      corr[j] = unit[j] ? lane.splat(1.0f) : Exp(shift);
      unit[j] = unit[j] || (!kMasked && lane.all(corr[j] == lane.splat(1.0f)));
      w[j] = Exp(score - m_new);
      const VF l_new = l * corr[j] + w[j];
      if constexpr (kMasked) {
        visible[j] = lane.splat(p0 + j) < n_q;
        m = Select(visible[j], m_new, m);
        l = Select(visible[j], l_new, l);
      } else {
        m = m_new;
        l = l_new;
      }
    }

    // acc[d] = acc[d]·corr + w·V[p][d], keys in order, a chunk of d at a time.
    constexpr uint32_t kChunk = kBlock<Lane>;
    const T* values = head.v + p0 * hd;
    const auto update = [&](auto rows_tag, size_t d0) HWY_ATTR {
      constexpr uint32_t kRows = decltype(rows_tag)::value;
      // V[p0 + j][d0 + i] as f32 is vf[j·v_stride + i]: read in place, or widened.
      HWY_ALIGN float widened_v[kKeys][kRows];
      const float* vf = widened_v[0];
      size_t v_stride = kRows;
      if constexpr (std::is_same_v<T, float>) {
        vf = values + d0;
        v_stride = hd;
      } else {
        for (uint32_t j = 0; j < count; ++j)
          WidenRow(lane, values + j * hd + d0, kRows, widened_v[j]);
      }
      VF r[kRows];
      HWY_UNROLL(16)
      for (uint32_t i = 0; i < kRows; ++i) r[i] = lane.load(acc, (d0 + i) * kTileQ + lane0);
      for (uint32_t j = 0; j < count; ++j) {
        if (unit[j]) {
          HWY_UNROLL(16)
          for (uint32_t i = 0; i < kRows; ++i)
            r[i] = r[i] + w[j] * lane.splat(vf[j * v_stride + i]);
        } else {
          HWY_UNROLL(16)
          for (uint32_t i = 0; i < kRows; ++i) {
            const VF updated = r[i] * corr[j] + w[j] * lane.splat(vf[j * v_stride + i]);
            if constexpr (kMasked) {
              r[i] = Select(visible[j], updated, r[i]);
            } else {
              r[i] = updated;
            }
          }
        }
      }
      HWY_UNROLL(16)
      for (uint32_t i = 0; i < kRows; ++i) lane.store(acc, (d0 + i) * kTileQ + lane0, r[i]);
    };
    size_t d0 = 0;
    for (; d0 + kChunk <= hd; d0 += kChunk) update(std::integral_constant<uint32_t, kChunk>(), d0);
    for (; d0 < hd; ++d0) update(std::integral_constant<uint32_t, 1>(), d0);
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_SDPA_INL_H_
