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
// The scalar oracle does exactly that, one key and one d at a time. A lane pack (W consecutive
// query rows) computes the same operations in the same order per row, blocked for registers:
//   - Q is staged transposed in arena 0 ([d][lane]) so that a pack reads its rows' Q[d] as one
//     vector; acc lives in arena 1 ([d][lane]). Staging and the final store go through W × W
//     register transposes (pure data movement).
//   - The dot products of a block of keys are computed at once, K[p][d] splatted (the same for
//     every row): they are independent of each other, and each still sums over d in ascending
//     order. Then the softmax updates of the block's keys, in key order. Then, for a chunk of d
//     held in registers, acc[d] updated by the block's keys in key order.
//   - Where the running max is unchanged and finite in every row of the pack (the common case
//     once a row has seen a few keys), M − M_new is +0 and corr = exp(+0) is exactly 1 in
//     tgk's Exp, so it is not evaluated, and acc·corr is skipped: x·1 = x bit for bit for every
//     x but NaN (finite, subnormal, ±0, ±inf), and a NaN stays a NaN (NaN payloads are not part
//     of the contract). The same skip applies wherever corr evaluates to exactly 1 in every row.
//   - bf16 K and V rows are widened (exactly) into small local buffers, a chunk at a time, so
//     that the inner loops splat f32 values as for f32 inputs.
// Rows of a pack see different numbers of keys (causal rule). Keys every row sees run unmasked;
// keys only some rows see run masked: a row past its n_q keeps M, L and acc unchanged (Select,
// so that not even −0 + 0 or 0·inf can touch them).
//
// What differs from the Metal kernel, none of it visible in the output: arenas 0 (Q transposed)
// and 1 (acc) replace the lane's private Q reads and accumulator; offsets are 64-bit.

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

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace sdpa {

HWY_INLINE float Widen(float x) { return x; }
HWY_INLINE float Widen(bf16 x) { return F32FromBF16(x); }

// Q staging: dst[d·tile + lane] = the lane's row src[lane·hd + d], for the pack's rows below
// `valid` (0 for the others). A scalar lane is always a valid row.
template <class T, class Arena>
HWY_INLINE void StageTransposed(const ScalarLane& lane, const T* src, size_t hd, uint32_t /*valid*/,
                                const Arena& dst, uint32_t tile) {
  for (size_t d = 0; d < hd; ++d) lane.store(dst, d * tile + lane.first(), lane.load(src + d));
}
template <class DF, class T, class Arena>
HWY_INLINE void StageTransposed(const LanePack<DF>& lane, const T* src, size_t hd, uint32_t valid,
                                const Arena& dst, uint32_t tile) {
  constexpr uint32_t kWidth = LanePack<DF>::kWidth;
  hn::Vec<DF> rows[kWidth];
  for (size_t d0 = 0; d0 < hd; d0 += kWidth) {
    const uint32_t n = uint32_t(std::min<size_t>(kWidth, hd - d0));
    const LanePack<DF> part(lane.first(), n);
    for (uint32_t k = 0; k < kWidth; ++k) {
      rows[k] = k < valid ? part.load(src + k * hd + d0) : lane.zero();
    }
    lane.transpose(rows);
    for (uint32_t c = 0; c < n; ++c) lane.store(dst, (d0 + c) * tile + lane.first(), rows[c]);
  }
}

// Output: the lane's row dst[lane·hd + d] = src[d·tile + lane] · inv, for the pack's rows below
// `valid`.
template <class T, class Arena>
HWY_INLINE void StoreTransposed(const ScalarLane& lane, const Arena& src, uint32_t tile, float inv,
                                T* dst, size_t hd, uint32_t /*valid*/) {
  for (size_t d = 0; d < hd; ++d) {
    lane.store(dst + d, lane.load(src, d * tile + lane.first()) * inv);
  }
}
template <class DF, class Arena, class T>
HWY_INLINE void StoreTransposed(const LanePack<DF>& lane, const Arena& src, uint32_t tile,
                                hn::Vec<DF> inv, T* dst, size_t hd, uint32_t valid) {
  constexpr uint32_t kWidth = LanePack<DF>::kWidth;
  hn::Vec<DF> rows[kWidth];
  for (size_t d0 = 0; d0 < hd; d0 += kWidth) {
    const uint32_t n = uint32_t(std::min<size_t>(kWidth, hd - d0));
    for (uint32_t c = 0; c < kWidth; ++c) {
      rows[c] = c < n ? lane.load(src, (d0 + c) * tile + lane.first()) * inv : lane.zero();
    }
    lane.transpose(rows);
    const LanePack<DF> part(lane.first(), n);
    for (uint32_t k = 0; k < std::min(valid, kWidth); ++k) part.store(dst + k * hd + d0, rows[k]);
  }
}

// dst[0..n) = the f32 values of src[0..n), a pack at a time.
template <class DF>
HWY_INLINE void WidenRow(const LanePack<DF>& lane, const bf16* src, size_t n, float* dst) {
  constexpr uint32_t kWidth = LanePack<DF>::kWidth;
  for (size_t i = 0; i < n; i += kWidth) {
    const LanePack<DF> part(lane.first(), uint32_t(std::min<size_t>(kWidth, n - i)));
    part.store(dst + i, part.load(src + i));
  }
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
    const Dim3 id = g.group_id();  // (batch, head, tile)
    const uint32_t kh = id.y / (a.n_heads / a.n_kv_heads);
    const uint32_t q_tile = id.z * kTileQ;
    const size_t hd = a.head_dim;
    const size_t q_row = (size_t{id.x} * a.n_heads + id.y) * a.seq_len + q_tile;
    const size_t kv_row = (size_t{id.x} * a.n_kv_heads + kh) * a.kv_capacity;
    const Head head{a.q + q_row * hd, a.out + q_row * hd, a.k + kv_row * hd, a.v + kv_row * hd};
    const auto qt = g.template arena<float>(kSdpaArenaQ);
    const auto acc = g.template arena<float>(kSdpaArenaAcc);
    g.for_each_lane([&](auto lane) HWY_ATTR { Rows(lane, head, q_tile, qt, acc); });
  }

 private:
  // Register blocking of the lane packs: keys per block, d rows of acc per chunk. The oracle
  // takes one key and one d at a time, the spec's loops as written.
  template <class Lane>
  static constexpr bool kOracle = std::is_same_v<Lane, ScalarLane>;
  template <class Lane>
  static constexpr uint32_t kBlock = kOracle<Lane> ? 1 : (Lane::kWidth >= 16 ? 16 : 8);

  template <class Lane, class Arena>
  HWY_INLINE void Rows(const Lane& lane, const Head& head, uint32_t q_tile, const Arena& qt,
                       const Arena& acc) const {
    using VF = typename Lane::VF;
    constexpr uint32_t kKeys = kBlock<Lane>;
    const uint32_t lane0 = lane.first();
    if (q_tile + lane0 >= a.seq_len) return;  // rows past the sequence do nothing
    const uint32_t rows = std::min(lane.count(), a.seq_len - q_tile - lane0);
    const size_t hd = a.head_dim;

    sdpa::StageTransposed(lane, head.q + lane0 * hd, hd, rows, qt, kTileQ);
    for (size_t d = 0; d < hd; ++d) lane.store(acc, d * kTileQ + lane0, lane.zero());

    // Causal rule with the decode offset: row q sees keys p < n_q = min(a + 1, kv_seq_len),
    // a = kv_seq_len − seq_len + q (seq_len <= kv_seq_len, so no wrap-around).
    const uint32_t first_visible = a.kv_seq_len - a.seq_len + q_tile + 1;  // n_q of row 0
    const auto n_q = Min(lane.id() + lane.splat(first_visible), lane.splat(a.kv_seq_len));
    const uint32_t n_lo = std::min(first_visible + lane0, a.kv_seq_len);
    const uint32_t n_hi = std::min(first_visible + lane0 + rows - 1, a.kv_seq_len);

    VF m = lane.splat(-std::numeric_limits<float>::infinity());
    VF l = lane.zero();
    uint32_t p = 0;
    for (; p + kKeys <= n_lo; p += kKeys) Keys<false>(lane, head, p, kKeys, n_q, qt, acc, m, l);
    for (; p < n_hi; p += kKeys) {
      Keys<true>(lane, head, p, std::min(kKeys, n_hi - p), n_q, qt, acc, m, l);
    }

    const VF inv = lane.splat(1.0f) / l;
    sdpa::StoreTransposed(lane, acc, kTileQ, inv, head.out + lane0 * hd, hd, rows);
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
    // bf16 rows are widened (exactly) into local buffers a chunk at a time, so that the inner
    // loops of the packs splat f32 values as they do for f32 inputs.
    constexpr bool kWiden = std::is_same_v<T, bf16> && !kOracle<Lane>;
    constexpr uint32_t kDotChunk = 64;
    const uint32_t lane0 = lane.first();
    const size_t hd = a.head_dim;

    // Dot products, each over d in ascending order from +0. Registers hold a full block; the
    // slots past `count` repeat the last key and are never used.
    const T* keys[kKeys];
    for (uint32_t j = 0; j < kKeys; ++j) keys[j] = head.k + (p0 + std::min(j, count - 1)) * hd;
    VF s[kKeys];
    for (uint32_t j = 0; j < kKeys; ++j) s[j] = lane.zero();
    if constexpr (kWiden) {
      HWY_ALIGN float kf[kKeys][kDotChunk];
      for (size_t d0 = 0; d0 < hd; d0 += kDotChunk) {
        const size_t n = std::min<size_t>(kDotChunk, hd - d0);
        for (uint32_t j = 0; j < kKeys; ++j) sdpa::WidenRow(lane, keys[j] + d0, n, kf[j]);
        for (size_t d = 0; d < n; ++d) {
          const VF q = lane.load(qt, (d0 + d) * kTileQ + lane0);
          for (uint32_t j = 0; j < kKeys; ++j) s[j] = s[j] + q * lane.splat(kf[j][d]);
        }
      }
    } else {
      for (size_t d = 0; d < hd; ++d) {
        const VF q = lane.load(qt, d * kTileQ + lane0);
        for (uint32_t j = 0; j < kKeys; ++j) s[j] = s[j] + q * lane.splat(sdpa::Widen(keys[j][d]));
      }
    }

    // Online softmax, key by key. `unit`: corr is exactly 1 in every row of the pack (see the
    // top of the file); the oracle always evaluates and multiplies.
    VF corr[kKeys], w[kKeys];
    Mask visible[kKeys];
    bool unit[kKeys];
    for (uint32_t j = 0; j < count; ++j) {
      const VF score = s[j] * lane.splat(a.scale);
      const VF m_new = Max(m, score);
      const VF shift = m - m_new;
      unit[j] = !kOracle<Lane> && !kMasked && lane.all(shift == lane.zero());
      corr[j] = unit[j] ? lane.splat(1.0f) : Exp(shift);
      unit[j] = unit[j] || (!kOracle<Lane> && !kMasked && lane.all(corr[j] == lane.splat(1.0f)));
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
      HWY_ALIGN float vf[kWiden ? kKeys : 1][kRows];
      if constexpr (kWiden) {
        for (uint32_t j = 0; j < count; ++j) {
          sdpa::WidenRow(lane, values + j * hd + d0, kRows, vf[j]);
        }
      }
      const auto value = [&](uint32_t j, uint32_t i) HWY_ATTR {
        if constexpr (kWiden) {
          return lane.splat(vf[j][i]);
        } else {
          return lane.splat(sdpa::Widen(values[j * hd + d0 + i]));
        }
      };
      VF r[kRows];
      HWY_UNROLL(16)
      for (uint32_t i = 0; i < kRows; ++i) r[i] = lane.load(acc, (d0 + i) * kTileQ + lane0);
      for (uint32_t j = 0; j < count; ++j) {
        if (unit[j]) {
          HWY_UNROLL(16)
          for (uint32_t i = 0; i < kRows; ++i) r[i] = r[i] + w[j] * value(j, i);
        } else {
          HWY_UNROLL(16)
          for (uint32_t i = 0; i < kRows; ++i) {
            const VF updated = r[i] * corr[j] + w[j] * value(j, i);
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
