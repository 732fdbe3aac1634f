// Lane operations for tables, packed codes and lane addressing (docs/design.md section 1.1),
// per Highway target. Each has a scalar-lane definition, the meaning, and a lane-pack version
// with the same values; tests/table_ops_test.cc holds every one to its scalar definition on
// every compiled target.
//
//   LanesAt(lane, first, count)      the lanes of elements [first, first + count), count >= 1,
//                                    at most kWidth of them: addressing past the group size and
//                                    storing only some lanes.
//   GatherArena(lane, view, index)   each lane reads arena element `index`.
//   LoadXorPartner(lane, view, base, m)  each lane reads arena element base + (id ^ m), m < 32:
//                                    a shuffle-xor through an arena (packs: one load, or one
//                                    lane permute for m < kWidth).
//   LoadNibble(lane, row)            the 4-bit code of element id: low nibble of byte id/2 for
//                                    even id, high for odd (packs read only the pack's bytes).
//   LaneTable<Lane, kEntries>        t[q] for a table of 16, 32, 64 or 256 f32 entries (256: an
//                                    odd table, tgk/table.h). Packs gather; AVX3 and up keep the
//                                    table in registers and look up with permutes, as AVX2 does
//                                    for 16 entries.
//   DecodeTableRow(g, table, codes, n, scale, out)  out[i] = table.entry[codes[i]] · scale for
//                                    i < n, a group-level row operation on a ByteTable256 (VBMI
//                                    two-table byte permutes on AVX3_DL, 64 codes at a time).
//   DecodeNibbleRow(g, codebook, codes, n, scale, out)  out[i] = codebook[q_i] · scale for i < n,
//                                    q_i the nibble of element i of a packed row (as LoadNibble),
//                                    a group-level row operation on a 16-entry codebook (AVX3: 32
//                                    codes from 16 bytes, widened, interleaved by two permutes).
//                                    Both take a last argument RowStore (tgk/table.h): kStream
//                                    writes past the caches where it can (as store_stream).
//   StoreAs(store, lanes, p, v)      lanes.store(p, v), or lanes.store_stream(p, v) for
//                                    RowStore::kStream: a lane body's share of such a row.
//   StoreInterleavedAs(store, lane, p, v)  lane.store_interleaved(p, v) of bytes, or
//                                    lane.store_interleaved_stream(p, v) for RowStore::kStream.
//   BucketIndex(lane, table, z, index)  index[k] = #{i : z[k] > table.boundary[i]} for kN values
//                                    and a BucketTable of sorted boundaries, as the binary search
//                                    finds it (a NaN compares false everywhere: bucket 0). Packs
//                                    walk the search tree a level at a time for all kN values,
//                                    with register permutes on AVX3, lookups and gathers elsewhere.
//                                    Over a BinnedBucketTable (tgk/table.h) the same search, but
//                                    AVX-512 looks the bucket up directly: the value's bin, base
//                                    and one comparison; 16 values in registers for 32 bins, VBMI
//                                    byte permutes for 64 values (AVX3_DL, 64 bins or more).
//   StoreBucketIndices(lane, table, z, p, store)  BucketIndex, then StoreInterleavedAs(store,
//                                    lane, p, index): lane k writes the bucket of z[i] to byte
//                                    p[kN·k + i], past the caches where it can for
//                                    RowStore::kStream (default kCached). On AVX3_DL over a
//                                    BinnedBucketTable the indices stay bytes.
//
// Per-target header: include it inside a foreach_target pass.

#if defined(TGK_TABLE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_TABLE_INL_H_
#undef TGK_TABLE_INL_H_
#else
#define TGK_TABLE_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

#include "tgk/group-inl.h"
#include "tgk/table.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

HWY_INLINE ScalarLane LanesAt(const ScalarLane&, uint64_t first, uint64_t /*count*/) {
  return ScalarLane(uint32_t(first));
}
template <class L>
HWY_INLINE auto LanesAt(const L&, uint64_t first, uint64_t count) {
  using Pack = typename L::MaybePartial;
  return Pack(uint32_t(first), uint32_t(std::min<uint64_t>(count, L::kWidth)));
}

template <class T>
HWY_INLINE T GatherArena(const ScalarLane&, const ScalarArenaView<T>& view, uint32_t index) {
  return view[index];
}
template <class L, class T>
HWY_INLINE auto GatherArena(const L& lane, const SimdArenaView<T>& view, typename L::VU index) {
  return lane.gather(view.data(), index);
}

template <class T>
HWY_INLINE T LoadXorPartner(const ScalarLane& lane, const ScalarArenaView<T>& view, uint32_t base,
                            uint32_t m) {
  return view[base + (lane.id() ^ m)];
}
template <class L, class T>
HWY_INLINE auto LoadXorPartner(const L& lane, const SimdArenaView<T>& view, uint32_t base,
                               uint32_t m) {
  // A pack is aligned to its width: the partners of its lanes are the pack at first ^ m's high
  // bits, permuted by m's bits below kWidth.
  const uint32_t across = m & ~(L::kWidth - 1), within = m & (L::kWidth - 1);
  const auto partners = lane.load(view, base + (lane.first() ^ across));
  if (within == 0) return partners;
  const hn::DFromV<decltype(partners)> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  return hn::TableLookupLanes(partners,
                              hn::IndicesFromVec(d, hn::Xor(hn::Iota(du, 0), hn::Set(du, within))));
}

// The 4-bit code of element j of a packed row: the low nibble of byte j/2 for even j, the high
// one for odd j.
HWY_INLINE uint32_t NibbleOf(const uint8_t* row, size_t j) {
  return (row[j / 2] >> (4 * (j % 2))) & 0xFu;
}

HWY_INLINE uint32_t LoadNibble(const ScalarLane& lane, const uint8_t* row) {
  return NibbleOf(row, lane.id());
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

// Lane packs gather from the table (the scalar lane indexes it; AVX3 packs below).
template <class L, uint32_t kEntries>
class LaneTable {
 public:
  explicit LaneTable(const float* table) : table_(table) {}
  auto operator()(const L& lane, typename L::VU q) const { return lane.gather(table_, q); }

 private:
  const float* table_;
};

template <uint32_t kEntries>
class LaneTable<ScalarLane, kEntries> {
 public:
  explicit LaneTable(const float* table) : table_(table) {}
  float operator()(const ScalarLane&, uint32_t q) const { return table_[q]; }

 private:
  const float* table_;
};

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// 16 entries: one permute; 32: one two-table permute (index bits 0..4); 64: two and a blend on
// bit 5. 256 (odd): the magnitude k = q − 128 (q >= 128) or 127 − q (q < 128) indexes the upper
// 128 entries through four two-table permutes and a blend tree on bits 5 and 6 of k, then
// q < 128 flips the sign bit (exact: the entries are non-zero).
template <bool kFull, uint32_t kEntries>
class LaneTable<LanePack<hn::ScalableTag<float>, kFull>, kEntries> {
  using L = LanePack<hn::ScalableTag<float>, kFull>;
  using VF = typename L::VF;
  using VU = typename L::VU;
  static constexpr uint32_t kStored = kEntries == 256 ? 128 : kEntries;
  static constexpr uint32_t kParts = kStored / 16;

 public:
  explicit LaneTable(const float* table) {
    const float* stored = table + (kEntries - kStored);
    for (uint32_t k = 0; k < kParts; ++k) part_[k] = _mm512_loadu_ps(stored + 16 * k);
  }
  VF operator()(const L&, VU q) const {
    if constexpr (kEntries == 16) {
      return VF{_mm512_permutexvar_ps(q.raw, part_[0])};
    } else if constexpr (kEntries == 256) {
      // q < 128: k = q ^ 0x7F = 127 − q; q >= 128: k = q, of which the permutes and the
      // blend tree read bits 0..6 (= q − 128).
      const __mmask16 negative = _mm512_testn_epi32_mask(q.raw, _mm512_set1_epi32(0x80));
      const __m512i k = _mm512_mask_xor_epi32(q.raw, negative, q.raw, _mm512_set1_epi32(0x7F));
      const __m512 magnitude = Lookup(k);
      return VF{_mm512_mask_xor_ps(magnitude, negative, magnitude, _mm512_set1_ps(-0.0f))};
    } else {
      return VF{Lookup(q.raw)};
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
#elif HWY_TARGET == HWY_AVX2
// AVX2, 16 entries: two 8-entry permutes and a blend on the index's bit 3 (the other table
// sizes gather).
template <bool kFull>
class LaneTable<LanePack<hn::ScalableTag<float>, kFull>, 16> {
  using L = LanePack<hn::ScalableTag<float>, kFull>;
  using DF = hn::ScalableTag<float>;
  using VF = typename L::VF;
  using VU = typename L::VU;

 public:
  explicit LaneTable(const float* table)
      : low_(hn::LoadU(DF(), table)), high_(hn::LoadU(DF(), table + 8)) {}
  VF operator()(const L&, VU q) const {
    const DF d;
    const typename L::DU du;
    const auto index = hn::IndicesFromVec(d, hn::And(q, hn::Set(du, 7u)));
    const auto upper = hn::RebindMask(d, hn::TestBit(q, hn::Set(du, 8u)));
    return hn::IfThenElse(upper, hn::TableLookupLanes(high_, index),
                          hn::TableLookupLanes(low_, index));
  }

 private:
  VF low_, high_;
};
#endif

// ---- BucketIndex --------------------------------------------------------------------------

// The scalar definition: the binary search (the GPU's unrolled loop), which for non-decreasing
// boundaries counts those below z; kN values, each on its own.
template <uint32_t kLevels, size_t kN>
HWY_INLINE void BucketIndex(const ScalarLane&, const BucketTable<kLevels>& table,
                            const float (&z)[kN], uint32_t (&index)[kN]) {
  for (size_t k = 0; k < kN; ++k) {
    index[k] = 0;
    for (uint32_t half = kLevels / 2; half >= 1; half /= 2) {
      if (z[k] > table.boundary[index[k] + half - 1]) index[k] += half;
    }
  }
}

// Lane packs walk the same search by node: n = 1, then n = 2n + (z > heap[n]) once per level,
// which after log2(kLevels) steps is kLevels + the index; a level at a time for all kN values,
// so that their lookups overlap. A level of nodes that fits one vector is looked up in
// registers, a deeper one gathered.
template <class L, uint32_t kLevels, size_t kN>
HWY_INLINE void BucketIndex(const L& lane, const BucketTable<kLevels>& table,
                            const typename L::VF (&z)[kN], typename L::VU (&index)[kN]) {
  using DF = hn::DFromV<typename L::VF>;
  using DU = typename L::DU;
  const DF df;
  const DU du;
  for (size_t k = 0; k < kN; ++k) index[k] = lane.splat(1u);
  for (uint32_t level = 1; level < kLevels; level *= 2) {  // nodes [level, 2·level)
    for (size_t k = 0; k < kN; ++k) {
      typename L::VU& n = index[k];
      typename L::VF probe;
      if (2 * level <= L::kWidth) {
        probe = hn::TableLookupLanes(hn::LoadU(df, table.heap), hn::IndicesFromVec(df, n));
      } else if (level == L::kWidth) {
        probe = hn::TableLookupLanes(hn::LoadU(df, table.heap + level),
                                     hn::IndicesFromVec(df, n - lane.splat(level)));
      } else {
        probe = lane.gather(table.heap, n);
      }
      n = hn::Sub(n + n, hn::VecFromMask(du, hn::RebindMask(du, z[k] > probe)));
    }
  }
  for (size_t k = 0; k < kN; ++k) index[k] = index[k] - lane.splat(kLevels);
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
namespace table_detail {

// AVX3: a level of up to 16 nodes is one permute of a register, of 32 a two-table permute (the
// index's bits 0..4), of 64 and 128 two and four of them and a blend tree on the index's bits 5
// and 6, which are earlier comparisons' results: at level 2^s, bit k of n is the comparison
// made at level 2^(s − 1 − k).
template <uint32_t kLevel>
HWY_INLINE __m512 BucketProbe(const float* heap, __m512i n, const __mmask16 (&greater)[8]) {
  if constexpr (kLevel == 1) {
    return _mm512_set1_ps(heap[1]);
  } else if constexpr (kLevel <= 16) {
    return _mm512_permutexvar_ps(n, _mm512_load_ps(heap + (kLevel < 16 ? 0 : 16)));
  } else {
    constexpr uint32_t kParts = kLevel / 32, kS = uint32_t(std::bit_width(kLevel)) - 1;
    __m512 part[kParts];
    for (uint32_t p = 0; p < kParts; ++p) {
      part[p] = _mm512_permutex2var_ps(_mm512_load_ps(heap + kLevel + 32 * p), n,
                                       _mm512_load_ps(heap + kLevel + 32 * p + 16));
    }
    for (uint32_t width = kParts, bit = 5; width > 1; width /= 2, ++bit) {
      for (uint32_t p = 0; p < width / 2; ++p) {
        part[p] = _mm512_mask_mov_ps(part[2 * p], greater[kS - 1 - bit], part[2 * p + 1]);
      }
    }
    return part[0];
  }
}

// The levels kLevel, 2·kLevel, ... below kLevels for kN values: n = 2n + (z > heap[n]).
template <uint32_t kLevel, uint32_t kLevels, size_t kN>
HWY_INLINE void BucketSteps(const float* heap, const __m512 (&z)[kN], __m512i (&n)[kN],
                            __mmask16 (&greater)[kN][8]) {
  if constexpr (kLevel < kLevels) {
    constexpr uint32_t kS = uint32_t(std::bit_width(kLevel)) - 1;
    for (size_t k = 0; k < kN; ++k) {
      greater[k][kS] =
          _mm512_cmp_ps_mask(z[k], BucketProbe<kLevel>(heap, n[k], greater[k]), _CMP_GT_OQ);
      const __m512i doubled = _mm512_add_epi32(n[k], n[k]);
      n[k] = _mm512_mask_sub_epi32(doubled, greater[k][kS], doubled, _mm512_set1_epi32(-1));
    }
    BucketSteps<2 * kLevel, kLevels>(heap, z, n, greater);
  }
}

// 16 and 32 levels: the steps s >= 1 look their probe up by the index itself (by_index[s − 1],
// one register or a pair) and set their bit with a masked or, one operation fewer than n's
// update.
template <uint32_t kStep, uint32_t kLevels, size_t kN>
HWY_INLINE void BucketStepsByIndex(const BucketTable<kLevels>& table, const __m512 (&z)[kN],
                                   __m512i (&index)[kN]) {
  if constexpr (kStep < BucketTable<kLevels>::kSteps) {
    const float* probes = table.by_index[kStep - 1].data();
    const __m512i bit = _mm512_set1_epi32(int(kLevels >> (kStep + 1)));
    for (size_t k = 0; k < kN; ++k) {
      __m512 probe;
      if constexpr (kLevels == 16) {
        probe = _mm512_permutexvar_ps(index[k], _mm512_load_ps(probes));
      } else {
        probe =
            _mm512_permutex2var_ps(_mm512_load_ps(probes), index[k], _mm512_load_ps(probes + 16));
      }
      const __mmask16 greater = _mm512_cmp_ps_mask(z[k], probe, _CMP_GT_OQ);
      index[k] = _mm512_mask_or_epi32(index[k], greater, index[k], bit);
    }
    BucketStepsByIndex<kStep + 1>(table, z, index);
  }
}

}  // namespace table_detail

template <bool kFull, uint32_t kLevels, size_t kN>
HWY_INLINE void BucketIndex(const LanePack<hn::ScalableTag<float>, kFull>&,
                            const BucketTable<kLevels>& table,
                            const typename LanePack<hn::ScalableTag<float>, kFull>::VF (&z)[kN],
                            typename LanePack<hn::ScalableTag<float>, kFull>::VU (&index)[kN]) {
  __m512 raw[kN];
  __m512i n[kN];
  for (size_t k = 0; k < kN; ++k) raw[k] = z[k].raw;
  if constexpr (BucketTable<kLevels>::kIndexedSteps > 0) {
    const __m512 middle = _mm512_set1_ps(table.heap[1]);
    for (size_t k = 0; k < kN; ++k) {
      n[k] = _mm512_maskz_mov_epi32(_mm512_cmp_ps_mask(raw[k], middle, _CMP_GT_OQ),
                                    _mm512_set1_epi32(int(kLevels / 2)));
    }
    table_detail::BucketStepsByIndex<1>(table, raw, n);
  } else {
    __mmask16 greater[kN][8] = {};
    for (size_t k = 0; k < kN; ++k) n[k] = _mm512_set1_epi32(1);
    table_detail::BucketSteps<1, kLevels>(table.heap, raw, n, greater);
    for (size_t k = 0; k < kN; ++k) n[k] = _mm512_sub_epi32(n[k], _mm512_set1_epi32(int(kLevels)));
  }
  for (size_t k = 0; k < kN; ++k) index[k].raw = n[k];
}
#endif

// ---- StoreAs ------------------------------------------------------------------------------

// One definition for every lane: ScalarLane::store_stream is its plain store.
template <class L, class V>
HWY_INLINE void StoreAs(RowStore store, const L& lanes, float* p, V v) {
  if (store == RowStore::kStream) return lanes.store_stream(p, v);
  lanes.store(p, v);
}
template <class L, class V, size_t kN>
HWY_INLINE void StoreInterleavedAs(RowStore store, const L& lane, uint8_t* p, const V (&v)[kN]) {
  if (store == RowStore::kStream) return lane.store_interleaved_stream(p, v);
  lane.store_interleaved(p, v);
}

// ---- DecodeTableRow -----------------------------------------------------------------------

// The scalar definition.
HWY_INLINE void DecodeTableRow(const ScalarGroup&, const ByteTable256& table, const uint8_t* codes,
                               size_t n, float scale, float* out, RowStore = RowStore::kCached) {
  for (size_t i = 0; i < n; ++i) out[i] = table.entry[codes[i]] * scale;
}

namespace table_detail {

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// A row's vectors past the caches only where the row starts vector-aligned (then every vector
// of it is), as store_stream.
HWY_INLINE bool StreamsRow(RowStore store, const float* out) {
  return store == RowStore::kStream && reinterpret_cast<uintptr_t>(out) % 64 == 0;
}
HWY_INLINE void StoreRowVector(float* p, __m512 v, bool stream) {
  if (stream) return _mm512_stream_ps(p, v);
  _mm512_storeu_ps(p, v);
}
#endif

#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL
// The order in which Decode64 takes its 64 codes: after the interleaves, vector v holds in its
// 128-bit block L the bytes taken to 16L + 4v .. 16L + 4v + 3; placing code 16v + 4L + j there
// puts value 16v + 4L + j at element 4L + j of vector v, its natural place.
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

// The four byte planes (in kByteBlockOrder) of 64 u32 values, byte then word interleaves within
// 128-bit blocks: value[v] holds values 16v .. 16v + 15.
HWY_INLINE void InterleavePlanes(const __m512i (&byte)[4], __m512i (&value)[4]) {
  const __m512i low01 = _mm512_unpacklo_epi8(byte[0], byte[1]);
  const __m512i high01 = _mm512_unpackhi_epi8(byte[0], byte[1]);
  const __m512i low23 = _mm512_unpacklo_epi8(byte[2], byte[3]);
  const __m512i high23 = _mm512_unpackhi_epi8(byte[2], byte[3]);
  value[0] = _mm512_unpacklo_epi16(low01, low23);
  value[1] = _mm512_unpackhi_epi16(low01, low23);
  value[2] = _mm512_unpacklo_epi16(high01, high23);
  value[3] = _mm512_unpackhi_epi16(high01, high23);
}

// 64 codes at a time (the f32 permute path of LaneTable does 16 with four two-table permutes and
// a blend tree; this is some 2.3x faster on Zen 4). With k = 127 − q for q < 128, else q − 128,
// one two-table byte permute per plane gives the four bytes of each magnitude entry[128 + k], a
// flip of the top byte's sign bit for q < 128 gives entry[q], and byte then word interleaves
// assemble the f32 values. The interleaves work within 128-bit blocks: the codes are permuted
// first so that the values come out in order.
class BytePlanes {
 public:
  explicit BytePlanes(const ByteTable256& table) {
    for (uint32_t b = 0; b < 4; ++b) {
      plane_[b][0] = _mm512_load_si512(table.plane[b]);
      plane_[b][1] = _mm512_load_si512(table.plane[b] + 64);
    }
  }

  HWY_INLINE void Decode64(const uint8_t* codes, __m512 scale, float* out, bool stream) const {
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
    __m512i value[4];
    InterleavePlanes(byte, value);
    for (uint32_t v = 0; v < 4; ++v) {
      StoreRowVector(out + 16 * v, _mm512_mul_ps(_mm512_castsi512_ps(value[v]), scale), stream);
    }
  }

 private:
  __m512i plane_[4][2];
};
#endif

}  // namespace table_detail

// Lane packs: AVX3_DL decodes 64 codes at a time (the last n mod 64 one by one); other targets
// run LaneTable over packs.
HWY_INLINE void DecodeTableRow(const SimdGroup&, const ByteTable256& table, const uint8_t* codes,
                               size_t n, float scale, float* out,
                               RowStore store = RowStore::kCached) {
#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL
  const table_detail::BytePlanes planes(table);
  const __m512 s = _mm512_set1_ps(scale);
  const bool stream = table_detail::StreamsRow(store, out);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) planes.Decode64(codes + i, s, out + i, stream);
  for (; i < n; ++i) out[i] = table.entry[codes[i]] * scale;
#else
  using Full = SimdGroup::FullLane;
  using Lane = SimdGroup::Lane;
  const LaneTable<Full, 256> full_table(table.entry);
  size_t i = 0;
  for (; i + Full::kWidth <= n; i += Full::kWidth) {
    const Full lanes(uint32_t(i), Full::kWidth);
    StoreAs(store, lanes, out + i, full_table(lanes, lanes.load(codes + i)) * lanes.splat(scale));
  }
  if (i < n) {
    const Lane lanes(uint32_t(i), uint32_t(n - i));
    const LaneTable<Lane, 256> lane_table(table.entry);
    lanes.store(out + i, lane_table(lanes, lanes.load(codes + i)) * lanes.splat(scale));
  }
#endif
}

// ---- DecodeNibbleRow ----------------------------------------------------------------------

// The scalar definition.
HWY_INLINE void DecodeNibbleRow(const ScalarGroup&, const float* codebook, const uint8_t* codes,
                                size_t n, float scale, float* out, RowStore = RowStore::kCached) {
  for (size_t i = 0; i < n; ++i) out[i] = codebook[NibbleOf(codes, i)] * scale;
}

// Lane packs: AVX3 decodes 32 codes at a time, packs of 4 or 8 lanes 2·kWidth (their LaneTable
// lookup); the last codes one by one.
HWY_INLINE void DecodeNibbleRow(const SimdGroup&, const float* codebook, const uint8_t* codes,
                                size_t n, float scale, float* out,
                                [[maybe_unused]] RowStore store = RowStore::kCached) {
  size_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // Byte k's low nibble is code 2k, its high one code 2k + 1: the two permutes take codes
  // 0..15 and 16..31 alternately from the low and the high nibbles of the 16 bytes.
  alignas(64) static constexpr int32_t kFirst[16] = {0, 16, 1, 17, 2, 18, 3, 19,
                                                     4, 20, 5, 21, 6, 22, 7, 23};
  alignas(64) static constexpr int32_t kSecond[16] = {8,  24, 9,  25, 10, 26, 11, 27,
                                                      12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i first = _mm512_load_si512(kFirst), second = _mm512_load_si512(kSecond);
  const __m512 table = _mm512_loadu_ps(codebook), s = _mm512_set1_ps(scale);
  const bool stream = table_detail::StreamsRow(store, out);
  for (; i + 32 <= n; i += 32) {
    const __m512i bytes =
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i / 2)));
    const __m512i low = _mm512_and_si512(bytes, _mm512_set1_epi32(0xF));
    const __m512i high = _mm512_srli_epi32(bytes, 4);
    const __m512i q0 = _mm512_permutex2var_epi32(low, first, high);
    const __m512i q1 = _mm512_permutex2var_epi32(low, second, high);
    table_detail::StoreRowVector(out + i, _mm512_mul_ps(_mm512_permutexvar_ps(q0, table), s),
                                 stream);
    table_detail::StoreRowVector(out + i + 16, _mm512_mul_ps(_mm512_permutexvar_ps(q1, table), s),
                                 stream);
  }
#elif HWY_TARGET != HWY_SCALAR
  // Packs of 4 or 8 lanes: 2·kWidth codes from kWidth bytes, widened to u32; the low and high
  // nibbles interleave within 128-bit blocks, and 8 lanes then swap the middle blocks.
  using Full = SimdGroup::FullLane;
  constexpr uint32_t kWidth = Full::kWidth;
  if constexpr (kWidth == 4 || kWidth == 8) {
    const Full::DU du;
    const hn::Rebind<uint8_t, Full::DU> d8;
    const LaneTable<Full, 16> full_table(codebook);
    for (; i + 2 * kWidth <= n; i += 2 * kWidth) {
      const auto bytes = hn::PromoteTo(du, hn::LoadU(d8, codes + i / 2));
      const auto low = hn::And(bytes, hn::Set(du, 0xFu)), high = hn::ShiftRight<4>(bytes);
      auto first = hn::InterleaveLower(du, low, high), second = hn::InterleaveUpper(du, low, high);
      if constexpr (kWidth == 8) {
        const auto lower_blocks = hn::ConcatLowerLower(du, second, first);
        second = hn::ConcatUpperUpper(du, second, first);
        first = lower_blocks;
      }
      const Full lanes(uint32_t(i), kWidth), next(uint32_t(i + kWidth), kWidth);
      StoreAs(store, lanes, out + i, full_table(lanes, first) * lanes.splat(scale));
      StoreAs(store, next, out + i + kWidth, full_table(next, second) * next.splat(scale));
    }
  }
#endif
  for (; i < n; ++i) out[i] = codebook[NibbleOf(codes, i)] * scale;
}

// ---- BucketIndex over a BinnedBucketTable -------------------------------------------------

// The scalar definition is the search over table.search; so are the packs of targets without
// AVX-512, and those without VBMI for tables of 64 bins or more, where the byte permutes below
// are missing.
template <uint32_t kLevels, uint32_t kBins, size_t kN>
HWY_INLINE void BucketIndex(const ScalarLane& lane, const BinnedBucketTable<kLevels, kBins>& table,
                            const float (&z)[kN], uint32_t (&index)[kN]) {
  BucketIndex(lane, table.search, z, index);
}
template <class L, uint32_t kLevels, uint32_t kBins, size_t kN>
HWY_INLINE void BucketIndex(const L& lane, const BinnedBucketTable<kLevels, kBins>& table,
                            const typename L::VF (&z)[kN], typename L::VU (&index)[kN]) {
  BucketIndex(lane, table.search, z, index);
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// AVX3, at most 16 levels in 32 bins: 16 values at a time. The bin in f32 (max(t, 0) takes a
// NaN t to 0, then min and truncation give BinOf), its base by a two-table permute of the bases
// widened to u32, boundary[base] by a permute of the boundaries padded with +inf, and one
// comparison: two permutes and a comparison where the search takes three and four.
template <bool kFull, uint32_t kLevels, size_t kN>
HWY_INLINE void BucketIndex(const LanePack<hn::ScalableTag<float>, kFull>&,
                            const BinnedBucketTable<kLevels, 32>& table,
                            const typename LanePack<hn::ScalableTag<float>, kFull>::VF (&z)[kN],
                            typename LanePack<hn::ScalableTag<float>, kFull>::VU (&index)[kN]) {
  const __m512 lo = _mm512_set1_ps(table.lo), inv_width = _mm512_set1_ps(table.inv_width);
  const __m512 top = _mm512_set1_ps(31.0f), zero = _mm512_setzero_ps();
  const __m512i base_low = _mm512_cvtepu8_epi32(_mm_load_si128(  // table.base is 64-byte aligned
      reinterpret_cast<const __m128i*>(table.base)));
  const __m512i base_high =
      _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(table.base + 16)));
  const __m512 probes =
      _mm512_mask_loadu_ps(_mm512_set1_ps(std::numeric_limits<float>::infinity()),
                           __mmask16((1u << (kLevels - 1)) - 1), table.search.boundary);
  for (size_t k = 0; k < kN; ++k) {
    const __m512 t = _mm512_mul_ps(_mm512_sub_ps(z[k].raw, lo), inv_width);
    const __m512i bin = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(t, zero), top));
    const __m512i base = _mm512_permutex2var_epi32(base_low, bin, base_high);
    const __mmask16 greater =
        _mm512_cmp_ps_mask(z[k].raw, _mm512_permutexvar_ps(base, probes), _CMP_GT_OQ);
    index[k].raw = _mm512_mask_sub_epi32(base, greater, base, _mm512_set1_epi32(-1));
  }
}
#endif

#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL
namespace table_detail {

// Where the bins' low and high bytes lie among the 128 bytes of two vectors of u16 bins, each
// packed from two vectors of u32 ones (value 16v + 4L + j at byte 64·(v / 2) + 16L + 8·(v % 2)
// + 2j), taken in kByteBlockOrder.
struct alignas(64) BinByteOrder {
  uint8_t low[64];
  uint8_t high[64];
};
constexpr BinByteOrder MakeBinByteOrder() {
  BinByteOrder order{};
  for (uint32_t at = 0; at < 64; ++at) {
    const uint32_t value = kByteBlockOrder.index[at];
    const uint32_t v = value / 16, block = value % 16 / 4, j = value % 4;
    order.low[at] = uint8_t(64 * (v / 2) + 16 * block + 8 * (v % 2) + 2 * j);
    order.high[at] = uint8_t(order.low[at] + 1);
  }
  return order;
}
inline constexpr BinByteOrder kBinByteOrder = MakeBinByteOrder();

// Entry `index` of a byte table of kEntries entries for 64 indices: their bits 0..6 index one
// or a pair of registers, bits 7 and 8 (masks) pick among the pairs.
template <uint32_t kEntries>
HWY_INLINE __m512i LookupBytes(const uint8_t* table, __m512i index, __mmask64 bit7,
                               __mmask64 bit8) {
  if constexpr (kEntries == 64) {
    return _mm512_permutexvar_epi8(index, _mm512_load_si512(table));
  } else {
    __m512i part[kEntries / 128];
    for (uint32_t p = 0; p < kEntries / 128; ++p) {
      part[p] = _mm512_permutex2var_epi8(_mm512_load_si512(table + 128 * p), index,
                                         _mm512_load_si512(table + 128 * p + 64));
    }
    if constexpr (kEntries == 128) {
      return part[0];
    } else if constexpr (kEntries == 256) {
      return _mm512_mask_blend_epi8(bit7, part[0], part[1]);
    } else {
      return _mm512_mask_blend_epi8(bit8, _mm512_mask_blend_epi8(bit7, part[0], part[1]),
                                    _mm512_mask_blend_epi8(bit7, part[2], part[3]));
    }
  }
}

// 64 values: their bins in f32 (vminps returns its second operand, t, when t is NaN; the
// conversion gives 0x80000000 for NaN and t < −2^31, and the unsigned saturation of the u16 pack
// makes every negative bin 0), packed to bytes in kByteBlockOrder; a byte permute of base, then
// by base of the boundaries' planes, whose bytes interleave to f32 in the values' order. The
// index is base + greater: base in kByteBlockOrder, greater[v] the comparisons of z[v].
template <uint32_t kLevels, uint32_t kBins>
HWY_INLINE __m512i BinnedBucket64(const BinnedBucketTable<kLevels, kBins>& table,
                                  const __m512 (&z)[4], __mmask16 (&greater)[4]) {
  const __m512 lo = _mm512_set1_ps(table.lo), inv_width = _mm512_set1_ps(table.inv_width);
  const __m512 top = _mm512_set1_ps(float(kBins - 1));
  __m512i bin[4];
  for (uint32_t v = 0; v < 4; ++v) {
    bin[v] =
        _mm512_cvttps_epi32(_mm512_min_ps(top, _mm512_mul_ps(_mm512_sub_ps(z[v], lo), inv_width)));
  }
  const __m512i bins01 = _mm512_packus_epi32(bin[0], bin[1]);
  const __m512i bins23 = _mm512_packus_epi32(bin[2], bin[3]);
  // Below 256 bins the byte pack's lanes come in kByteBlockOrder; 512 bins take their bytes.
  const __m512i low =
      kBins <= 256 ? _mm512_packus_epi16(bins01, bins23)
                   : _mm512_permutex2var_epi8(bins01, _mm512_load_si512(kBinByteOrder.low), bins23);
  __mmask64 bin7 = 0, bin8 = 0;
  if constexpr (kBins >= 256) bin7 = _mm512_movepi8_mask(low);
  if constexpr (kBins == 512) {
    const __m512i high =
        _mm512_permutex2var_epi8(bins01, _mm512_load_si512(kBinByteOrder.high), bins23);
    bin8 = _mm512_test_epi8_mask(high, _mm512_set1_epi8(1));
  }
  const __m512i base = LookupBytes<kBins>(table.base, low, bin7, bin8);
  const __mmask64 base7 = kLevels == 256 ? _mm512_movepi8_mask(base) : 0;
  constexpr uint32_t kProbes = BinnedBucketTable<kLevels, kBins>::kProbes;
  __m512i byte[4], probe[4];
  for (uint32_t b = 0; b < 4; ++b) byte[b] = LookupBytes<kProbes>(table.plane[b], base, base7, 0);
  InterleavePlanes(byte, probe);
  for (uint32_t v = 0; v < 4; ++v) {
    greater[v] = _mm512_cmp_ps_mask(z[v], _mm512_castsi512_ps(probe[v]), _CMP_GT_OQ);
  }
  return base;
}

// The inverse of kByteBlockOrder: natural[n] is where value n lies.
struct alignas(64) ByteNaturalOrder {
  uint8_t index[64];
};
constexpr ByteNaturalOrder MakeByteNaturalOrder() {
  ByteNaturalOrder order{};
  for (uint32_t at = 0; at < 64; ++at) order.index[kByteBlockOrder.index[at]] = uint8_t(at);
  return order;
}
inline constexpr ByteNaturalOrder kByteNaturalOrder = MakeByteNaturalOrder();

// Where byte t of output vector m of StoreBucketIndices for kN values a lane comes from: output
// byte o = 64m + t is value i = o % kN of lane o / kN, the value 16·(i % 4) + lane of the
// natural-order bytes of group i / 4; upper_pair picks groups 2, 3 (kN = 16) over 0, 1.
template <size_t kN>
struct alignas(64) InterleavedByteOrder {
  uint8_t index[kN / 4][64];
  uint64_t upper_pair;
};
template <size_t kN>
constexpr InterleavedByteOrder<kN> MakeInterleavedByteOrder() {
  InterleavedByteOrder<kN> order{};
  for (uint32_t o = 0; o < 16 * kN; ++o) {
    const uint32_t lane = o / kN, i = o % kN, group = i / 4;
    order.index[o / 64][o % 64] = uint8_t(64 * (group % 2) + 16 * (i % 4) + lane);
    if (group >= 2) order.upper_pair |= uint64_t{1} << (o % 64);
  }
  return order;
}
template <size_t kN>
inline constexpr InterleavedByteOrder<kN> kInterleavedByteOrder = MakeInterleavedByteOrder<kN>();

}  // namespace table_detail

// AVX3_DL: the direct lookup, 64 values at a time (the last group padded with zeros).
template <bool kFull, uint32_t kLevels, uint32_t kBins, size_t kN>
HWY_INLINE void BucketIndex(
    const LanePack<hn::ScalableTag<float>, kFull>&, const BinnedBucketTable<kLevels, kBins>& table,
    const typename LanePack<hn::ScalableTag<float>, kFull>::VF (&z)[kN],
    typename LanePack<hn::ScalableTag<float>, kFull>::VU (&index)[kN]) requires(kBins >= 64) {
  const __m512i zero = _mm512_setzero_si512();
  for (size_t k = 0; k < kN; k += 4) {
    __m512 part[4];
    for (size_t v = 0; v < 4; ++v) part[v] = k + v < kN ? z[k + v].raw : _mm512_setzero_ps();
    __mmask16 greater[4];
    const __m512i base_byte = table_detail::BinnedBucket64(table, part, greater);
    __m512i base[4];
    table_detail::InterleavePlanes({base_byte, zero, zero, zero}, base);
    for (size_t v = 0; v < 4 && k + v < kN; ++v) {
      index[k + v].raw = _mm512_mask_sub_epi32(base[v], greater[v], base[v], _mm512_set1_epi32(-1));
    }
  }
}
#endif

// ---- StoreBucketIndices -------------------------------------------------------------------

// The scalar definition, also that of every pack but AVX3_DL's over a BinnedBucketTable:
// BucketIndex, then the indices stored as interleaved bytes.
template <class L, class Table, size_t kN>
HWY_INLINE void StoreBucketIndices(const L& lane, const Table& table, const typename L::VF (&z)[kN],
                                   uint8_t* p, RowStore store = RowStore::kCached) {
  typename L::VU index[kN];
  BucketIndex(lane, table, z, index);
  StoreInterleavedAs(store, lane, p, index);
}

#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX3_DL
// AVX3_DL: 64 indices at a time in bytes, base permuted to the values' order and incremented
// where greater, then byte permutes to the interleaved order: no u32 indices.
template <bool kFull, uint32_t kLevels, uint32_t kBins, size_t kN>
HWY_INLINE void StoreBucketIndices(
    const LanePack<hn::ScalableTag<float>, kFull>& lane,
    const BinnedBucketTable<kLevels, kBins>& table,
    const typename LanePack<hn::ScalableTag<float>, kFull>::VF (&z)[kN], uint8_t* p,
    RowStore store = RowStore::kCached) requires(kBins >= 64) {
  constexpr uint32_t kWidth = LanePack<hn::ScalableTag<float>, kFull>::kWidth;
  static_assert(kWidth == 16 && (kN == 4 || kN == 8 || kN == 16), "kN values a lane: 4, 8 or 16");
  constexpr size_t kGroups = kN / 4;
  __m512i natural[kGroups];
  for (size_t g = 0; g < kGroups; ++g) {
    const __m512 part[4] = {z[4 * g].raw, z[4 * g + 1].raw, z[4 * g + 2].raw, z[4 * g + 3].raw};
    __mmask16 greater[4];
    const __m512i base =
        _mm512_permutexvar_epi8(_mm512_load_si512(table_detail::kByteNaturalOrder.index),
                                table_detail::BinnedBucket64(table, part, greater));
    const __mmask64 above = _mm512_kunpackd(_mm512_kunpackw(greater[3], greater[2]),
                                            _mm512_kunpackw(greater[1], greater[0]));
    natural[g] = _mm512_mask_sub_epi8(base, above, base, _mm512_set1_epi8(-1));
  }
  const auto& order = table_detail::kInterleavedByteOrder<kN>;
  HWY_ALIGN uint8_t buffer[kFull ? 1 : kWidth * kN];
  uint8_t* out = kFull || lane.count() == kWidth ? p : buffer;
  // Past the caches as lane.store_interleaved_stream: a full pack at a vector-aligned address.
  const bool stream =
      store == RowStore::kStream && out == p && reinterpret_cast<uintptr_t>(p) % 64 == 0;
  for (size_t m = 0; m < kGroups; ++m) {
    const __m512i index = _mm512_load_si512(order.index[m]);
    __m512i bytes;
    if constexpr (kGroups == 1) {
      bytes = _mm512_permutexvar_epi8(index, natural[0]);
    } else {
      bytes = _mm512_permutex2var_epi8(natural[0], index, natural[1]);
      if constexpr (kGroups == 4) {
        bytes = _mm512_mask_blend_epi8(order.upper_pair, bytes,
                                       _mm512_permutex2var_epi8(natural[2], index, natural[3]));
      }
    }
    if (stream) {
      _mm512_stream_si512(reinterpret_cast<__m512i*>(out + 64 * m), bytes);
    } else {
      _mm512_storeu_si512(out + 64 * m, bytes);
    }
  }
  if (out != p) std::memcpy(p, buffer, kN * lane.count());
}
#endif

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_TABLE_INL_H_
