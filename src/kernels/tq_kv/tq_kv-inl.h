// The tq_kv functors (docs/spec/tq_kv.md), one source for the scalar oracle and every Highway
// target: the TurboQuant encoders, the three dequantisers and the inverse rotation.
//
// Notation as in the spec: D = head_dim, cap = cache capacity, npp = norms per position,
// σ the SRHT signs, FWHT the unnormalised Walsh-Hadamard butterfly (stages s = 1, 2, ..., D/2,
// the lower index of each pair getting the sum), r_D the binary32 nearest 1/√D.
//
// Layouts of the work, as on the GPU:
//   - 32-lane kernels (encoders and inverse rotation for D = 256, 512): lane l holds elements
//     l·E .. l·E + E − 1, E = D / 32, element l·E + i in lane-state row i. FWHT stages s < E
//     pair rows of one lane; stages s >= E pair lane l with lane l ^ (s / E), whose value it
//     reads from an arena of D floats (Metal: simd_shuffle_xor, no threadgroup memory; the
//     values are the same).
//   - D-lane kernels (fallback encoder and inverse rotation for other D): lane j holds element
//     j; the FWHT runs through the arena of 2·D floats, each stage reading one half and writing
//     the other (Metal updates one half in place with the pair's lower lane; the values are
//     the same). The fallback encoder's sum of squares is the spec's in-place halving tree.
//   - Dequantisers: min(D, 1024) lanes, lane t decodes elements t, t + 1024, ... (Metal stops
//     after the first: tgk writes every element also for D > 1024). On AVX3_DL the 8-bit one
//     decodes the row 64 values at a time instead (BytePlaneCodebook256).

#if defined(TGK_KERNELS_TQ_KV_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_TQ_KV_INL_H_
#undef TGK_KERNELS_TQ_KV_INL_H_
#else
#define TGK_KERNELS_TQ_KV_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "kernels/tq_kv/tq_codebooks.h"
#include "kernels/tq_kv/tq_kv_args.h"
#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace tq {

// ---- lane helpers: a scalar-lane definition and its lane-pack equivalent ----------------

// The lanes of `lane` from element `first` on, at most `count` of them (count >= 1): how a
// lane body addresses elements past its group size, and how it stores only some lanes.
HWY_INLINE ScalarLane LanesFrom(const ScalarLane&, uint64_t first, uint64_t /*count*/) {
  return ScalarLane(uint32_t(first));
}
template <class L>
HWY_INLINE L LanesFrom(const L&, uint64_t first, uint64_t count) {
  return L(uint32_t(first), uint32_t(std::min<uint64_t>(count, L::kWidth)));
}

// Lane k of a pack writes p[k·stride]; the scalar lane writes *p.
template <class T, class V>
HWY_INLINE void StoreStrided(const ScalarLane& lane, T* p, size_t /*stride*/, V v) {
  lane.store(p, v);
}
template <class L, class T, class V>
HWY_INLINE void StoreStrided(const L& lane, T* p, size_t stride, V v) {
  HWY_ALIGN T column[L::kWidth];
  L(lane.first(), L::kWidth).store(column, v);
  for (uint32_t k = 0; k < lane.count(); ++k) p[k * stride] = column[k];
}

// Each lane reads arena element `index` (its own index).
template <class T>
HWY_INLINE T ArenaGather(const ScalarLane&, const ScalarArenaView<T>& view, uint32_t index) {
  return view[index];
}
template <class L, class T>
HWY_INLINE auto ArenaGather(const L& lane, const SimdArenaView<T>& view, typename L::VU index) {
  return lane.gather(view.data(), index);
}

// A uniform value as a varying one of lane type L.
template <class L>
HWY_INLINE auto Uniform(float x) {
  if constexpr (std::is_same_v<L, ScalarLane>) {
    return x;
  } else {
    return hn::Set(hn::DFromV<typename L::VF>(), x);
  }
}

// Each lane reads arena element base + (its id ^ m), its partner's in a simdgroup (m < 32).
template <class T>
HWY_INLINE T LoadPartner(const ScalarLane& lane, const ScalarArenaView<T>& view, uint32_t base,
                         uint32_t m) {
  return view[base + (lane.id() ^ m)];
}
template <class L, class T>
HWY_INLINE auto LoadPartner(const L& lane, const SimdArenaView<T>& view, uint32_t base,
                            uint32_t m) {
  // A pack is aligned to its width: partners at m >= kWidth form the pack at first ^ m, those
  // below are a permutation of this pack's elements.
  if (m >= L::kWidth) return lane.load(view, base + (lane.first() ^ m));
  const auto own = lane.load(view, base + lane.first());
  const hn::DFromV<decltype(own)> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  return hn::TableLookupLanes(own, hn::IndicesFromVec(d, hn::Xor(hn::Iota(du, 0), hn::Set(du, m))));
}

// The 4-bit index of element j = lane.id() of a nibble-packed row: the low nibble of byte j/2
// for even j, the high nibble for odd j.
HWY_INLINE uint32_t LoadNibble(const ScalarLane& lane, const uint8_t* row) {
  const uint32_t j = lane.id();
  return (row[j / 2] >> (4 * (j & 1))) & 0xFu;
}
template <class L>
HWY_INLINE typename L::VU LoadNibble(const L& lane, const uint8_t* row) {
  using DU = typename L::DU;
  // Stage the pack's bytes (exactly those, so that the read stays inside the row).
  const uint32_t first_byte = lane.first() / 2;
  HWY_ALIGN uint8_t staged[L::kWidth] = {};
  if (L::kWidth % 2 == 0 && lane.count() == L::kWidth) {
    std::memcpy(staged, row + first_byte, L::kWidth / 2);
  } else {
    std::memcpy(staged, row + first_byte, (lane.first() + lane.count() - 1) / 2 - first_byte + 1);
  }
  const auto packed = L(lane.first(), L::kWidth).load(static_cast<const uint8_t*>(staged));
  // Lane k takes staged byte (first + k)/2 − first/2, then its nibble.
  const auto id = lane.id();
  const auto byte_of_lane = Shr<1>(id) - lane.splat(first_byte);
  const auto byte = hn::TableLookupLanes(packed, hn::IndicesFromVec(DU(), byte_of_lane));
  return (byte >> Shl<2>(id & lane.splat(1u))) & lane.splat(0xFu);
}

// A dequantiser's codebook C_b of kLevels = 16, 32, 64 or 256 entries, held the way a lane
// looks it up: the scalar lane indexes the table, lane packs gather from it, and AVX3 keeps it in
// registers and looks it up with permutes. Every path returns the table entry itself.
template <class L, uint32_t kLevels>
class Codebook {
 public:
  explicit Codebook(const float* table) : table_(table) {}
  auto operator()(const L& lane, typename L::VU q) const { return lane.gather(table_, q); }

 private:
  const float* table_;
};

template <uint32_t kLevels>
class Codebook<ScalarLane, kLevels> {
 public:
  explicit Codebook(const float* table) : table_(table) {}
  float operator()(const ScalarLane&, uint32_t q) const { return table_[q]; }

 private:
  const float* table_;
};

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// 16 levels: one permute; 32: one two-table permute (index bits 0..4); 64: two and a blend on
// bit 5. 256 levels use the exact antisymmetry C[q] = −C[255 − q] (tq_codebooks.h, tested): the
// magnitude k = q − 128 (q >= 128) or 127 − q (q < 128) indexes the upper 128 entries through
// four two-table permutes and a blend tree on bits 5 and 6 of k, then q < 128 flips the sign
// bit (exact: the entries are non-zero).
template <uint32_t kLevels>
class Codebook<LanePack<hn::ScalableTag<float>>, kLevels> {
  using L = LanePack<hn::ScalableTag<float>>;
  static constexpr uint32_t kStored = kLevels == 256 ? 128 : kLevels;
  static constexpr uint32_t kParts = kStored / 16;

 public:
  explicit Codebook(const float* table) {
    const float* stored = table + (kLevels - kStored);
    for (uint32_t k = 0; k < kParts; ++k) part_[k] = _mm512_loadu_ps(stored + 16 * k);
  }
  L::VF operator()(const L&, L::VU q) const {
    if constexpr (kLevels == 16) {
      return L::VF{_mm512_permutexvar_ps(q.raw, part_[0])};
    } else if constexpr (kLevels == 256) {
      // q < 128: k = q ^ 0x7F = 127 − q; q >= 128: k = q, of which the permutes and the
      // blend tree read bits 0..6 (= q − 128).
      const __mmask16 negative = _mm512_testn_epi32_mask(q.raw, _mm512_set1_epi32(0x80));
      const __m512i k = _mm512_mask_xor_epi32(q.raw, negative, q.raw, _mm512_set1_epi32(0x7F));
      const __m512 magnitude = Lookup(k);
      return L::VF{_mm512_mask_xor_ps(magnitude, negative, magnitude, _mm512_set1_ps(-0.0f))};
    } else {
      return L::VF{Lookup(q.raw)};
    }
  }

 private:
  // kParts / 2 two-table permutes on index bits 0..4, then a blend tree on bits 5, 6.
  HWY_INLINE __m512 Lookup(__m512i index) const {
    __m512 level[kParts / 2];
    for (uint32_t p = 0; p < kParts / 2; ++p) {
      level[p] = _mm512_permutex2var_ps(part_[2 * p], index, part_[2 * p + 1]);
    }
    uint32_t bit = 5;
    for (uint32_t n = kParts / 2; n > 1; n /= 2, ++bit) {
      const __mmask16 upper = _mm512_test_epi32_mask(index, _mm512_set1_epi32(1 << bit));
      for (uint32_t p = 0; p < n / 2; ++p) {
        level[p] = _mm512_mask_mov_ps(level[2 * p], upper, level[2 * p + 1]);
      }
    }
    return level[0];
  }

  __m512 part_[kParts];
};
#endif

#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL
// The order in which BytePlaneCodebook256 takes its 64 codes: after the interleaves, vector v
// holds in its 128-bit block L the bytes taken to 16L + 4v .. 16L + 4v + 3; placing code
// 16v + 4L + j there puts value 16v + 4L + j at element 4L + j of vector v, its natural place.
struct alignas(64) ByteBlockOrder {
  uint8_t index[64];
};
constexpr ByteBlockOrder MakeByteBlockOrder() {
  ByteBlockOrder order{};
  for (uint32_t block = 0; block < 4; ++block) {
    for (uint32_t v = 0; v < 4; ++v) {
      for (uint32_t j = 0; j < 4; ++j) {
        order.index[16 * block + 4 * v + j] = uint8_t(16 * v + 4 * block + j);
      }
    }
  }
  return order;
}
inline constexpr ByteBlockOrder kByteBlockOrder = MakeByteBlockOrder();

// 8-bit rows with VBMI byte permutes, 64 codes at a time (the lane path does 16 with four
// two-table f32 permutes and a blend tree; this is some 2.3x faster on Zen 4). With
// k = 127 − q for q < 128, else q − 128 (as the lane path), one two-table byte permute per
// plane of kTqBytePlanes8 gives the four bytes of each magnitude C[128 + k], a flip of the
// top byte's sign bit for q < 128 gives C[q], and byte then word interleaves assemble the
// f32 values. The interleaves work within 128-bit blocks: the codes are permuted first so that
// the values come out in order. The bits are the table's, as on every path.
class BytePlaneCodebook256 {
 public:
  BytePlaneCodebook256() {
    for (uint32_t b = 0; b < 4; ++b) {
      plane_[b][0] = _mm512_load_si512(kTqBytePlanes8.plane[b]);
      plane_[b][1] = _mm512_load_si512(kTqBytePlanes8.plane[b] + 64);
    }
  }

  // out[i] = C_256[codes[i]] · scale for i < 64.
  HWY_INLINE void Decode64(const uint8_t* codes, float scale, float* out) const {
    const __m512i q = _mm512_permutexvar_epi8(_mm512_load_si512(kByteBlockOrder.index),
                                              _mm512_loadu_si512(codes));
    const __mmask64 negative = _mm512_testn_epi8_mask(q, _mm512_set1_epi8(char(0x80)));
    const __m512i k =
        _mm512_mask_blend_epi8(negative, q, _mm512_xor_si512(q, _mm512_set1_epi8(0x7F)));
    __m512i byte[4];
    for (uint32_t b = 0; b < 4; ++b) {
      byte[b] = _mm512_permutex2var_epi8(plane_[b][0], k, plane_[b][1]);
    }
    byte[3] = _mm512_mask_blend_epi8(negative, byte[3],
                                     _mm512_xor_si512(byte[3], _mm512_set1_epi8(char(0x80))));
    const __m512i low01 = _mm512_unpacklo_epi8(byte[0], byte[1]);
    const __m512i high01 = _mm512_unpackhi_epi8(byte[0], byte[1]);
    const __m512i low23 = _mm512_unpacklo_epi8(byte[2], byte[3]);
    const __m512i high23 = _mm512_unpackhi_epi8(byte[2], byte[3]);
    const __m512i value[4] = {
        _mm512_unpacklo_epi16(low01, low23), _mm512_unpackhi_epi16(low01, low23),
        _mm512_unpacklo_epi16(high01, high23), _mm512_unpackhi_epi16(high01, high23)};
    const __m512 s = _mm512_set1_ps(scale);
    for (uint32_t v = 0; v < 4; ++v) {
      _mm512_storeu_ps(out + 16 * v, _mm512_mul_ps(_mm512_castsi512_ps(value[v]), s));
    }
  }

 private:
  __m512i plane_[4][2];
};
#endif

// idx_b(z) = #{i : z > T[i]} over the `levels` − 1 sorted boundaries, found by the GPU's
// unrolled binary search (a NaN compares false everywhere and gets index 0), for kRows values at
// once so that their probes overlap.
template <uint32_t kRows, class L, class VF, class VU>
HWY_INLINE void CodebookIndex(const L& lane, const VF (&z)[kRows], VU (&index)[kRows],
                              const float* boundaries, uint32_t levels) {
  for (uint32_t r = 0; r < kRows; ++r) index[r] = lane.splat(0u);
  for (uint32_t half = levels / 2; half >= 1; half /= 2) {
    for (uint32_t r = 0; r < kRows; ++r) {
      const auto probe = lane.gather(boundaries, index[r] + lane.splat(half - 1));
      index[r] = Select(z[r] > probe, index[r] + lane.splat(half), index[r]);
    }
  }
}

// ---- the FWHT in the two layouts ---------------------------------------------------------

// FWHT of a head vector of 32·kE elements held by 32 lanes (element l·kE + i in row i of lane
// l), in place in `y`. Stages s < kE pair rows of one lane; stage s = m·kE pairs lane l with lane
// l ^ m, whose value it reads from `exchange` (arena of 32·kE floats, element i·32 + l): where
// Metal uses simd_shuffle_xor, a lane pack reads its partners with one vector load.
template <uint32_t kE, class Group, class State, class Arena>
HWY_INLINE void Fwht32(Group& g, const State& y, const Arena& exchange) {
  g.for_each_lane([&](auto lane) HWY_ATTR {
    typename decltype(lane)::VF v[kE];
    for (uint32_t i = 0; i < kE; ++i) v[i] = lane.load(y, i);
    for (uint32_t s = 1; s < kE; s *= 2) {
      for (uint32_t i = 0; i < kE; ++i) {
        if (i & s) continue;
        const auto lower = v[i];
        const auto upper = v[i + s];
        v[i] = lower + upper;
        v[i + s] = lower - upper;
      }
    }
    for (uint32_t i = 0; i < kE; ++i) {
      lane.store(y, i, v[i]);
      lane.store(exchange, i * kSimdWidth + lane.first(), v[i]);
    }
  });
  g.barrier();
  for (uint32_t m = 1; m < kSimdWidth; m *= 2) {  // stage s = m·kE
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto lower = (lane.id() & lane.splat(m)) == lane.splat(0u);
      for (uint32_t i = 0; i < kE; ++i) {
        const auto own = lane.load(y, i);
        const auto other = LoadPartner(lane, exchange, i * kSimdWidth, m);
        lane.store(y, i, Select(lower, own + other, other - own));
      }
    });
    g.barrier();
    if (m == kSimdWidth / 2) break;
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t i = 0; i < kE; ++i) {
        lane.store(exchange, i * kSimdWidth + lane.first(), lane.load(y, i));
      }
    });
    g.barrier();
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
      const auto other = ArenaGather(lane, buf, lane.splat(from) + (lane.id() ^ lane.splat(s)));
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

// hadamard_quantize_kv_fast_d256/_d512 (kNibbles, 4-bit) and hadamard_quantize_kv_hb_d256/_d512
// (5/6/8-bit bytes): 32 lanes per (head, token), spec section 3.1 steps 1-8.
template <uint32_t kD, bool kNibbles>
struct TqEncodeFastKernel {
  static constexpr uint32_t kE = kD / kSimdWidth;
  static constexpr uint32_t kBlocks = kD / 256;  // npp
  static constexpr uint32_t kBlockLanes = kSimdWidth / kBlocks;

  TqEncodeArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t h = g.group_id().x, t = g.group_id().y;
    const float* x = a.src + (uint64_t{t} * a.num_kv_heads + h) * kD;
    const uint64_t row = tq::CacheRow(a, h, t);
    const float* sigma = kD == 256 ? kTqSigma256.data() : kTqSigma512.data();
    auto y = g.template lane_state<float, kE>();
    auto exchange = g.template arena<float>(kTqArenaExchange);
    auto sums = g.template lane_state<float, kBlocks>();

    // 1. y_j = x_j·σ_j.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t lanes_left = kSimdWidth - lane.first();
      for (uint32_t i = 0; i < kE; ++i) {
        const size_t j = size_t{lane.first()} * kE + i;
        lane.store(y, i,
                   lane.load_strided(x + j, kE, lanes_left) *
                       lane.load_strided(sigma + j, kE, lanes_left));
      }
    });
    // 2. FWHT.
    tq::Fwht32<kE>(g, y, exchange);
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
      const uint32_t block = lane.first() / kBlockLanes;
      for (uint32_t b = 0; b < kBlocks; ++b) lane.store(sums, b, b == block ? sum : lane.zero());
    });
    for (uint32_t b = 0; b < kBlocks; ++b) g.simd_sum(sums, b);
    // 5, 6. The norms and the scale to N(0,1), uniform over the group.
    float scale[kBlocks];
    for (uint32_t b = 0; b < kBlocks; ++b) {
      const float total = sums.row(b)[0];
      const float n = kD == 256 ? std::sqrt(total) : std::sqrt(total / 256.0f);
      const float inv = n > 1e-10f ? 1.0f / n : 0.0f;
      scale[b] = kD == 256 ? inv * 16.0f : inv * a.scale_factor_d512;
      a.norms[row * kBlocks + b] = n;
    }
    // 7, 8. z_j = y_j·c, its index, written as nibbles or bytes.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto c = lane.splat(scale[lane.first() / kBlockLanes]);
      typename decltype(lane)::VF z[kE];
      typename decltype(lane)::VU q[kE];
      for (uint32_t i = 0; i < kE; ++i) z[i] = lane.load(y, i) * c;
      tq::CodebookIndex(lane, z, q, a.boundaries, a.levels);
      if constexpr (kNibbles) {
        uint8_t* out = a.packed + row * (kD / 2) + size_t{lane.first()} * (kE / 2);
        for (uint32_t i = 0; i < kE / 2; ++i) {
          tq::StoreStrided(lane, out + i, kE / 2, q[2 * i] | Shl<4>(q[2 * i + 1]));
        }
      } else {
        uint8_t* out = a.packed + row * kD + size_t{lane.first()} * kE;
        for (uint32_t i = 0; i < kE; ++i) tq::StoreStrided(lane, out + i, kE, q[i]);
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
        tq::LanesFrom(lane, lane.first(), stride - lane.first()).store(buf, at, sum);
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
      tq::CodebookIndex(lane, z, q, a.boundaries, a.levels);
      lane.store(codes, y_at + lane.first(), q[0]);
    });
    g.barrier();
    // Lanes j < D/2 pack byte j from elements 2j (low nibble) and 2j + 1 (high nibble).
    uint8_t* out = a.packed + row * (d / 2);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      if (lane.first() >= d / 2) return;
      const auto even = lane.splat(y_at) + Shl<1>(lane.id());
      const auto byte = tq::ArenaGather(lane, codes, even) |
                        Shl<4>(tq::ArenaGather(lane, codes, even + lane.splat(1u)));
      tq::LanesFrom(lane, lane.first(), d / 2 - lane.first()).store(out + lane.first(), byte);
    });
  }
};

// ===========================================================================================
// Dequantisers
// ===========================================================================================

// tq_dequantize_kv (kBits = 4, nibbles) and tq_dequantize_hb_kv_seq (kBits = 5, 6, 8, bytes;
// tq_dequantize_hb_kv is its n_tokens = 1 case): dst = C_b[m_b(q_j)] · sn_block(j), spec
// sections 4 and 5.
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
#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL
    if constexpr (kBits == 8 && std::is_same_v<Group, SimdGroup>) {
      // Runs of 64 never straddle a block of 256; the last d mod 64 values one by one.
      const tq::BytePlaneCodebook256 planes;
      uint64_t j = 0;
      for (; j + 64 <= d; j += 64) planes.Decode64(codes + j, block_scale(j), out + j);
      for (; j < d; ++j) out[j] = a.codebook[codes[j]] * block_scale(j);
      return;
    }
#endif
    using Lane = typename Group::Lane;
    const auto sn_uniform = tq::Uniform<Lane>(sn_d256);
    const tq::Codebook<Lane, kLevels> codebook(a.codebook);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint64_t j = lane.first(); j < d; j += stride) {
        const auto lanes = tq::LanesFrom(lane, j, d - j);
        auto q = kBits == 4 ? tq::LoadNibble(lanes, codes) : lanes.load(codes + j);
        if constexpr (kBits == 5 || kBits == 6) q = q & lanes.splat(kLevels - 1);  // m_b
        const auto sn = d <= 256 ? sn_uniform : lanes.splat(block_scale(j));
        lanes.store(out + j, codebook(lanes, q) * sn);
      }
    });
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
    const float* sigma = kD == 256 ? kTqSigma256.data() : kTqSigma512.data();
    auto y = g.template lane_state<float, kE>();
    auto exchange = g.template arena<float>(kTqArenaExchange);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t i = 0; i < kE; ++i) {
        const size_t j = size_t{lane.first()} * kE + i;
        lane.store(y, i, lane.load_strided(a.in + base + j, kE, kSimdWidth - lane.first()));
      }
    });
    tq::Fwht32<kE>(g, y, exchange);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t i = 0; i < kE; ++i) {
        const size_t j = size_t{lane.first()} * kE + i;
        const auto h = lane.load(y, i) * lane.splat(a.r_d);
        tq::StoreStrided(lane, a.out + base + j, kE,
                         h * lane.load_strided(sigma + j, kE, kSimdWidth - lane.first()));
      }
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
