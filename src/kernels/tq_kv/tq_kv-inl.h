// The tq_kv functors (docs/spec/tq_kv.md), one source for the scalar oracle and every Highway
// target: the TurboQuant encoders, the three dequantisers and the inverse rotation.
//
// Notation as in the spec: D = head_dim, cap = cache capacity, npp = norms per position,
// σ the SRHT signs, FWHT the unnormalised Walsh-Hadamard butterfly (stages s = 1, 2, ..., D/2,
// the lower index of each pair getting the sum), r_D the binary32 nearest 1/√D.
//
// Layouts of the work, as on the GPU:
//   - 32-lane kernels (encoders and inverse rotation for D = 256, 512): lane l holds elements
//     l·E .. l·E + E − 1, E = D / 32, as E values read with one deinterleaving load, then in
//     lane-state rows 0 .. E − 1. FWHT stages s < E pair values of one lane, in registers;
//     stages s >= E pair lane l with lane l ^ (s / E): g.simd_hadamard on the rows (Metal:
//     simd_shuffle_xor; the values are the same).
//   - D-lane kernels (fallback encoder and inverse rotation for other D): lane j holds element
//     j; the FWHT runs through the arena of 2·D floats, each stage reading one half and writing
//     the other (Metal updates one half in place with the pair's lower lane; the values are
//     the same). The fallback encoder's sum of squares is the spec's in-place halving tree.
//   - Dequantisers: min(D, 1024) lanes, lane t decodes elements t, t + 1024, ... (Metal stops
//     after the first: tgk writes every element also for D > 1024). The 8-bit and the 4-bit
//     ones decode each block of 256 elements as a row (DecodeTableRow: 64 values at a time on
//     AVX3_DL; DecodeNibbleRow: 32 on AVX3).

#if defined(TGK_KERNELS_TQ_KV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_TQ_KV_INL_H_
#undef TGK_KERNELS_TQ_KV_INL_H_
#else
#define TGK_KERNELS_TQ_KV_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "kernels/tq_kv/tq_codebooks.h"
#include "kernels/tq_kv/tq_kv_args.h"
#include "tgk/group-inl.h"
#include "tgk/prefetch.h"
#include "tgk/table-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace tq {

// ---- the FWHT in the two layouts ---------------------------------------------------------

// The FWHT stages s < kE of a head vector of 32·kE elements held by 32 lanes, lane l holding
// elements l·kE + i (i < kE) as its values v[i]: they pair values of one lane. The stages
// s = m·kE (m = 1, 2, ..., 16) pair row i of lane l with row i of lane l + m: g.simd_hadamard
// on the rows (Metal: simd_shuffle_xor).
template <uint32_t kE, class V>
HWY_INLINE void FwhtWithinLane(V (&v)[kE]) {
  for (uint32_t s = 1; s < kE; s *= 2) {
    for (uint32_t i = 0; i < kE; ++i) {
      if (i & s) continue;
      const V lower = v[i];
      const V upper = v[i + s];
      v[i] = lower + upper;
      v[i + s] = lower - upper;
    }
  }
}

// FWHT with one lane per element (g.size() lanes) of the vector in arena elements [0, D);
// returns where the result starts, 0 or D.
template <class Group, class Arena>
HWY_INLINE uint32_t FwhtArena(Group& g, const Arena& buf) {
  const uint32_t d = g.size();
  uint32_t from = 0, to = d;
  for (uint32_t s = 1; s < d; s *= 2) {
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto own = lane.load(buf, from + lane.first());
      const auto other = GatherArena(lane, buf, lane.splat(from) + (lane.id() ^ lane.splat(s)));
      const auto lower = (lane.id() & lane.splat(s)) == lane.splat(0u);
      lane.store(buf, to + lane.first(), Select(lower, own + other, other - own));
    });
    g.barrier();
    std::swap(from, to);
  }
  return from;
}

// The physical cache row of (head h, token t): position first_pos + t, wrapped when sliding.
HWY_INLINE uint64_t CacheRow(const TqEncodeArgs& a, uint32_t h, uint32_t t) {
  const uint64_t pos = a.first_pos + t;
  return uint64_t{h} * a.cache_capacity + (a.is_sliding ? pos % a.cache_capacity : pos);
}

}  // namespace tq

// ===========================================================================================
// Encoders
// ===========================================================================================

// hadamard_quantize_kv_fast_d256/_d512 (kBits = 4, nibbles) and hadamard_quantize_kv_hb_d256/_d512
// (kBits = 5, 6, 8, bytes): spec section 3.1 steps 1-8, one simdgroup of 32 lanes per (head,
// token); a group's simdgroups s take heads h0 + s of one token (tq_kv_args.h).
template <uint32_t kD, uint32_t kBits>
struct TqEncodeFastKernel {
  static constexpr bool kNibbles = kBits == 4;
  static constexpr uint32_t kE = kD / kSimdWidth;
  static constexpr uint32_t kBlocks = kD / 256;  // npp
  static constexpr uint32_t kBlockLanes = kSimdWidth / kBlocks;

  TqEncodeArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t heads = g.simdgroups(), h0 = g.group_id().x * heads, t = g.group_id().y;
    const float* x = a.src + (uint64_t{t} * a.num_kv_heads + h0) * kD;  // head h0 + s at s·kD
    const float* sigma = kD == 256 ? kTqSigmaByLane256.data() : kTqSigmaByLane512.data();
    // Every value is written before it is read (every simdgroup has a head).
    auto y = g.template uninitialized_lane_state<float, kE>();
    auto sums = g.template uninitialized_lane_state<float, kBlocks>();
    // A pack lies in one simdgroup s (its head h0 + s), as lane l = first % 32 onwards of it.
    const auto head_of = [](const auto& lane) { return lane.first() / kSimdWidth; };
    const auto lane_in_head = [](const auto& lane) { return lane.first() % kSimdWidth; };

    // 1. y_j = x_j·σ_j; 2. the FWHT, its stages within each lane in registers, then those
    // across lanes. Each pack first asks for its vectors of the next token (nkv·D floats on)
    // into the caches (a hint: no fault, no value), spread over the group's work: with the
    // hardware prefetchers alone the loads waited on memory for half of the time at 32768
    // tokens, and one burst for the whole group at its start did not help (Zen 4).
    const bool prefetch = t + 1 < g.grid_size().y;
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t l = lane_in_head(lane);
      const float* own = x + head_of(lane) * size_t{kD} + size_t{l} * kE;
      if (prefetch) {
        for (uint32_t k = 0; k < lane.count() * kE; k += 64 / sizeof(float)) {
          PrefetchRead<Reuse::kOnce>(own + uint64_t{a.num_kv_heads} * kD + k);
        }
      }
      typename decltype(lane)::VF v[kE];
      lane.load_deinterleaved(own, v);
      for (uint32_t i = 0; i < kE; ++i) v[i] = v[i] * lane.load(sigma + i * kSimdWidth + l);
      tq::FwhtWithinLane(v);
      for (uint32_t i = 0; i < kE; ++i) lane.store(y, i, v[i]);
    });
    g.simd_hadamard(y, 0, kE);
    // 3, 4. y ← y·r_D; each lane sums its squares in element order from +0 (product rounded,
    // then added). For D = 512 a lane adds +0 to the other block's sum, which leaves the
    // canonical tree's result that of its own block's 16 lanes.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto r = lane.splat(a.r_d);
      auto sum = lane.zero();
      for (uint32_t i = 0; i < kE; ++i) {
        const auto v = lane.load(y, i) * r;
        lane.store(y, i, v);
        sum = sum + v * v;
      }
      const uint32_t block = lane_in_head(lane) / kBlockLanes;
      for (uint32_t b = 0; b < kBlocks; ++b) lane.store(sums, b, b == block ? sum : lane.zero());
    });
    for (uint32_t b = 0; b < kBlocks; ++b) g.simd_sum(sums, b);
    // 5, 6. The norms and the scale to N(0,1), uniform over a head's simdgroup.
    float scale[kTqEncodeMaxHeads][kBlocks];
    uint64_t rows[kTqEncodeMaxHeads];
    for (uint32_t s = 0; s < heads; ++s) {
      rows[s] = tq::CacheRow(a, h0 + s, t);
      for (uint32_t b = 0; b < kBlocks; ++b) {
        const float total = sums.row(b)[s * kSimdWidth];
        const float n = kD == 256 ? std::sqrt(total) : std::sqrt(total / 256.0f);
        const float inv = n > 1e-10f ? 1.0f / n : 0.0f;
        scale[s][b] = kD == 256 ? inv * 16.0f : inv * a.scale_factor_d512;
        a.norms[rows[s] * kBlocks + b] = n;
      }
    }
    // 7, 8. z_j = y_j·c, its index idx_b(z_j) (a NaN's is 0), written as nibbles or bytes
    // (past the caches for a long sequence's codes, which no group reads).
    const auto& buckets = TqBucketsFor<kBits>();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t s = head_of(lane), l = lane_in_head(lane);
      const auto c = lane.splat(scale[s][l / kBlockLanes]);
      typename decltype(lane)::VF z[kE];
      for (uint32_t i = 0; i < kE; ++i) z[i] = lane.load(y, i) * c;
      if constexpr (kNibbles) {
        typename decltype(lane)::VU q[kE], bytes[kE / 2];
        BucketIndex(lane, buckets, z, q);
        for (uint32_t i = 0; i < kE / 2; ++i) bytes[i] = q[2 * i] | Shl<4>(q[2 * i + 1]);
        StoreInterleavedAs(a.packed_store, lane,
                           a.packed + rows[s] * (kD / 2) + size_t{l} * (kE / 2), bytes);
      } else {
        StoreBucketIndices(lane, buckets, z, a.packed + rows[s] * kD + size_t{l} * kE,
                           a.packed_store);
      }
    });
  }
};

// hadamard_quantize_kv, the 4-bit fallback for other power-of-two D (spec section 3.3): D lanes,
// arena 0 of 2·D floats, no sign flips, one L2 norm at norms[h·cap + p].
struct TqEncodeFallbackKernel {
  TqEncodeArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t d = a.head_dim;
    const uint32_t h = g.group_id().x, t = g.group_id().y;
    const float* x = a.src + (uint64_t{t} * a.num_kv_heads + h) * d;
    const uint64_t row = tq::CacheRow(a, h, t);
    auto buf = g.template arena<float>(kTqArenaExchange);
    auto codes = g.template arena<uint32_t>(kTqArenaExchange);
    auto v = g.template lane_state<float, 1>();

    // x into the first half, then y = FWHT(x).
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto xj = lane.load(x + lane.first());
      lane.store(buf, lane.first(), xj);
    });
    g.barrier();
    const uint32_t y_at = tq::FwhtArena(g, buf);
    const uint32_t squares_at = y_at == 0 ? d : 0;
    // v_j = y_j·r_D, its square into the free half.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto vj = lane.load(buf, y_at + lane.first()) * lane.splat(a.r_d);
      lane.store(v, 0, vj);
      lane.store(buf, squares_at + lane.first(), vj * vj);
    });
    g.barrier();
    // The halving tree: s[t] ← s[t] + s[t + stride] for t < stride, stride = D/2, ..., 1.
    for (uint32_t stride = d / 2; stride >= 1; stride /= 2) {
      g.for_each_lane([&](auto lane) HWY_ATTR {
        if (lane.first() >= stride) return;
        const uint32_t at = squares_at + lane.first();
        const auto sum = lane.load(buf, at) + lane.load(buf, at + stride);
        LanesAt(lane, lane.first(), stride - lane.first()).store(buf, at, sum);
      });
      g.barrier();
    }
    const float n = std::sqrt(float(buf[squares_at]));
    a.norms[row] = n;
    // u_j = v_j / n (a division, unlike the fast path), z_j = u_j·sqrt(D); the indices go to
    // the half that held y.
    const bool scaled = n > 1e-10f;
    const float sqrt_d = std::sqrt(float(d));
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto u = scaled ? lane.load(v, 0) / lane.splat(n) : lane.zero();
      const decltype(u) z[1] = {u * lane.splat(sqrt_d)};
      typename decltype(lane)::VU q[1];
      BucketIndex(lane, kTqBuckets4, z, q);
      lane.store(codes, y_at + lane.first(), q[0]);
    });
    g.barrier();
    // Lanes j < D/2 pack byte j from elements 2j (low nibble) and 2j + 1 (high nibble).
    uint8_t* out = a.packed + row * (d / 2);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      if (lane.first() >= d / 2) return;
      const auto even = lane.splat(y_at) + Shl<1>(lane.id());
      const auto byte =
          GatherArena(lane, codes, even) | Shl<4>(GatherArena(lane, codes, even + lane.splat(1u)));
      LanesAt(lane, lane.first(), d / 2 - lane.first()).store(out + lane.first(), byte);
    });
  }
};

// ===========================================================================================
// Dequantisers
// ===========================================================================================

// tq_dequantize_kv_seq (kBits = 4, nibbles; tq_dequantize_kv is its n_tokens = 1 case) and
// tq_dequantize_hb_kv_seq (kBits = 5, 6, 8, bytes; tq_dequantize_hb_kv is its n_tokens = 1 case):
// dst = C_b[m_b(q_j)] · sn_block(j), spec sections 4 and 5.
template <uint32_t kBits>
struct TqDequantizeKernel {
  static constexpr uint32_t kLevels = 1u << kBits;

  TqDequantizeArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    // tgk's grid is (n_tokens, nkv), Metal's (nkv, n_tokens): see tq_kv.h.
    const uint32_t tau = g.group_id().x, h = g.group_id().y;
    const uint64_t d = a.head_dim, stride = g.size();
    const uint64_t row = uint64_t{h} * a.cache_capacity + a.start_pos + tau;
    const uint8_t* codes = a.packed + row * (kBits == 4 ? d / 2 : d);
    const float* norms = a.norms + row * a.norms_per_pos;
    float* out = a.dst + (uint64_t{h} * a.n_tokens + tau) * d;
    // sn = n·r_D for D <= 256 (uniform over the group), else n_b / sf with
    // b = min(j / 256, npp − 1); a pack never straddles a block of 256 elements.
    const float sn_d256 = d <= 256 ? norms[0] * a.r_d : 0.0f;
    const auto block_scale = [&](uint64_t j) {
      if (d <= 256) return sn_d256;
      return norms[std::min<uint64_t>(j / 256, a.norms_per_pos - 1)] / a.scale_factor_d512;
    };
    if constexpr (kBits == 8) {
      // Blocks of 256 share their scale. A head of D <= 256 is one call: GCC 12's code for the
      // block loop around it, the same instructions per 64 codes, ran 1.35x slower in cache
      // (AVX3_DL on Zen 4; perf/RESULTS.md).
      if (d <= 256) return DecodeTableRow(g, kTqTable8, codes, d, sn_d256, out, a.dst_store);
      for (uint64_t j = 0; j < d; j += 256) {
        DecodeTableRow(g, kTqTable8, codes + j, std::min<uint64_t>(256, d - j), block_scale(j),
                       out + j, a.dst_store);
      }
    } else if constexpr (kBits == 4) {
      if (d <= 256) return DecodeNibbleRow(g, a.codebook, codes, d, sn_d256, out, a.dst_store);
      for (uint64_t j = 0; j < d; j += 256) {
        DecodeNibbleRow(g, a.codebook, codes + j / 2, std::min<uint64_t>(256, d - j),
                        block_scale(j), out + j, a.dst_store);
      }
    } else {
      const LaneTable<typename Group::Lane, kLevels> codebook(a.codebook);
      g.for_each_lane([&](auto lane) HWY_ATTR {
        for (uint64_t j = lane.first(); j < d; j += stride) {
          const auto lanes = LanesAt(lane, j, d - j);
          const auto q = lanes.load(codes + j) & lanes.splat(kLevels - 1);  // m_b
          StoreAs(a.dst_store, lanes, out + j, codebook(lanes, q) * lanes.splat(block_scale(j)));
        }
      });
    }
  }
};

// ===========================================================================================
// Inverse rotation
// ===========================================================================================

// x̂ = σ ⊙ H(ŷ) for D = 256, 512: 32 lanes per row.
template <uint32_t kD>
struct TqInverseRotateFastKernel {
  static constexpr uint32_t kE = kD / kSimdWidth;

  TqInverseRotateArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint64_t base = uint64_t{g.group_id().x} * kD;
    const float* sigma = kD == 256 ? kTqSigmaByLane256.data() : kTqSigmaByLane512.data();
    auto y = g.template uninitialized_lane_state<float, kE>();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      typename decltype(lane)::VF v[kE];
      lane.load_deinterleaved(a.in + base + size_t{lane.first()} * kE, v);
      tq::FwhtWithinLane(v);
      for (uint32_t i = 0; i < kE; ++i) lane.store(y, i, v[i]);
    });
    g.simd_hadamard(y, 0, kE);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      typename decltype(lane)::VF v[kE];
      for (uint32_t i = 0; i < kE; ++i) {
        v[i] =
            lane.load(y, i) * lane.splat(a.r_d) * lane.load(sigma + i * kSimdWidth + lane.first());
      }
      lane.store_interleaved(a.out + base + size_t{lane.first()} * kE, v);
    });
  }
};

// x̂ = H(ŷ) for the fallback's power-of-two D: D lanes, arena 0 of 2·D floats.
struct TqInverseRotateFallbackKernel {
  TqInverseRotateArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint64_t base = uint64_t{g.group_id().x} * a.head_dim;
    auto buf = g.template arena<float>(kTqArenaExchange);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(buf, lane.first(), lane.load(a.in + base + lane.first()));
    });
    g.barrier();
    const uint32_t y_at = tq::FwhtArena(g, buf);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(a.out + base + lane.first(),
                 lane.load(buf, y_at + lane.first()) * lane.splat(a.r_d));
    });
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_TQ_KV_INL_H_
