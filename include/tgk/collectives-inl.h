// Simdgroup collectives on lane packs, per Highway target: the fast versions of the scalar
// definitions in detail/collectives.h, with the same bits (tests/collectives_test.cc checks
// every compiled target). SimdGroup calls these; a partial last simdgroup (fewer than 32 lanes)
// takes the scalar definition.
//
//   SimdReduceVec   simd_sum / simd_max of one row: the 32/W vectors of a simdgroup are
//                   combined by whole vectors (offsets 16 .. W), then by a butterfly inside
//                   one vector (offsets W/2 .. 1), lane l always the left operand of l + off.
//   SimdSumRowsVec  simd_sum_rows, the multi-value sum: lane i of the simdgroup receives the
//                   sum of row i. Per row the offsets 16 .. W are vector adds; the offsets
//                   W/2 .. 1 of W rows at once are a transpose-and-add butterfly: each stage
//                   pairs two vectors, takes the lower and the upper half of every segment
//                   (ConcatLowerLower/UpperUpper, 128-bit block shuffles on AVX-512, then
//                   ConcatEven/ConcatOdd of 64- and 32-bit lanes) and adds them, so that after
//                   log2(W) stages lane i holds row i. Every row still sees exactly the
//                   canonical additions x[l] + x[l + off], in that operand order.
//   SimdHadamardRowsVec  simd_hadamard, the Walsh–Hadamard butterfly across the lanes, per row:
//                   the 32/W vectors of a row stay in registers through all five stages; the
//                   stages m < W pair each vector with a shuffle of itself (immediate operands)
//                   in one multiply-add by ±1 per lane (the lower lane keeps x[l] + x[l + m], the
//                   upper takes x[l] − x[l + m]), the stages m >= W pair whole vectors.
// Fast on every target with more than one lane; Highway's SCALAR target has one lane and
// needs only the cross-vector part.
//
// Per-target header: include it inside a foreach_target pass (group-inl.h does).

#if defined(TGK_COLLECTIVES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_COLLECTIVES_INL_H_
#undef TGK_COLLECTIVES_INL_H_
#else
#define TGK_COLLECTIVES_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tgk/detail/collectives.h"
#include "tgk/geometry.h"
#include "tgk/ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace collectives {

using D = hn::ScalableTag<float>;  // the lane pack's tag
using V = hn::Vec<D>;
inline constexpr uint32_t kW = uint32_t(hn::MaxLanes(D()));
inline constexpr uint32_t kVecs = kSimdWidth / kW;
static_assert(kSimdWidth % kW == 0, "a vector divides a simdgroup");

// The 32 values at x combined over the offsets 16 .. W: lane l of the result is the tree value
// of lanes l, l + W, l + 2W, ...
template <class Op>
HWY_INLINE V AcrossVectors(const float* x, const Op& op) {
  const D d;
  V v[kVecs];
  for (uint32_t m = 0; m < kVecs; ++m) v[m] = hn::LoadU(d, x + m * kW);
  for (uint32_t half = kVecs / 2; half >= 1; half /= 2) {
    for (uint32_t m = 0; m < half; ++m) v[m] = op(v[m], v[m + half]);
  }
  return v[0];
}

// One stage of the transpose-and-add butterfly: segments of 2·kChunk lanes of a, then of b,
// each reduced to lower chunk + upper chunk. (Highway's one-lane SCALAR target has no stage.)
template <uint32_t kChunk>
HWY_INLINE V AddChunkPairs(V a, V b);
#if HWY_TARGET != HWY_SCALAR
template <uint32_t kChunk>
HWY_INLINE V AddChunkPairs(V a, V b) {
  const D d;
  if constexpr (2 * kChunk == kW) {
    return hn::Add(hn::ConcatLowerLower(d, b, a), hn::ConcatUpperUpper(d, b, a));
  } else if constexpr (kChunk == 1) {
    return hn::Add(hn::ConcatEven(d, b, a), hn::ConcatOdd(d, b, a));
  } else if constexpr (kChunk == 2) {
    const hn::Repartition<uint64_t, D> d64;
    const auto a64 = hn::BitCast(d64, a);
    const auto b64 = hn::BitCast(d64, b);
    return hn::Add(hn::BitCast(d, hn::ConcatEven(d64, b64, a64)),
                   hn::BitCast(d, hn::ConcatOdd(d64, b64, a64)));
  } else {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    static_assert(kChunk == 4 && kW == 16, "128-bit blocks of a 512-bit vector");
    // Highway 1.0.3 has no even/odd selection of 128-bit blocks.
    return hn::Add(V{_mm512_shuffle_f32x4(a.raw, b.raw, _MM_SHUFFLE(2, 0, 2, 0))},
                   V{_mm512_shuffle_f32x4(a.raw, b.raw, _MM_SHUFFLE(3, 1, 3, 1))});
#else
    static_assert(kChunk == 0, "no vector of more than 8 f32 lanes outside AVX-512");
#endif
  }
}
#endif

// t[0..kN): rows whose lanes still need the offsets kN/2 .. 1. Returns lane i = row i's sum.
template <uint32_t kN>
HWY_INLINE V TransposeAdd(V* t) {
  if constexpr (kN == 1) {
    return t[0];
  } else {
    for (uint32_t i = 0; i < kN / 2; ++i) t[i] = AddChunkPairs<kN / 2>(t[2 * i], t[2 * i + 1]);
    return TransposeAdd<kN / 2>(t);
  }
}

template <class Op, class ScalarOp>
HWY_INLINE void SimdReduceVec(float* values, uint32_t group_size, const Op& op,
                              ScalarOp scalar_op) {
  const D d;
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    float* x = values + base;
    if (lanes < kSimdWidth) {
      std::fill(x, x + lanes, tgk::detail::SimdTreeOf(x, lanes, scalar_op));
      continue;
    }
    V v = AcrossVectors(x, op);
#if HWY_TARGET != HWY_SCALAR
    const hn::RebindToSigned<D> di;
    for (int32_t off = kW / 2; off >= 1; off /= 2) {
      const auto partner = hn::IndicesFromVec(d, hn::Xor(hn::Iota(di, 0), hn::Set(di, off)));
      v = op(v, hn::TableLookupLanes(v, partner));
    }
#endif
    const V all = hn::Set(d, hn::GetLane(v));
    for (uint32_t m = 0; m < kVecs; ++m) hn::StoreU(all, d, x + m * kW);
  }
}

HWY_INLINE void SimdSumRowsVec(const float* in, size_t stride, float* out, uint32_t group_size) {
  const D d;
  const auto add = [](V a, V b) HWY_ATTR { return hn::Add(a, b); };
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    if (lanes < kSimdWidth) {
      tgk::detail::SimdSumRowsOf(in, stride, out, base, lanes);
      continue;
    }
    for (uint32_t i0 = 0; i0 < kSimdWidth; i0 += kW) {
      V t[kW];
      for (uint32_t i = 0; i < kW; ++i) t[i] = AcrossVectors(in + (i0 + i) * stride + base, add);
      hn::StoreU(TransposeAdd<kW>(t), d, out + base + i0);
    }
  }
}

#if HWY_TARGET != HWY_SCALAR
// Lane k of the result is lane k ^ kM of v (kM < W): shuffles with immediate operands (within
// 128-bit blocks for kM = 1, 2; whole blocks or halves beyond).
template <uint32_t kM>
HWY_INLINE V LanesXor(V v) {
  const D d;
  if constexpr (kM == 1) {
    return hn::Shuffle2301(v);
  } else if constexpr (kM == 2) {
    return hn::Shuffle1032(v);
  } else if constexpr (2 * kM == kW) {
    return hn::ConcatLowerUpper(d, v, v);
  } else {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    static_assert(kM == 4 && kW == 16, "adjacent 128-bit blocks of a 512-bit vector");
    return V{_mm512_shuffle_f32x4(v.raw, v.raw, _MM_SHUFFLE(2, 3, 0, 1))};
#else
    static_assert(kM == 0, "no vector of more than 8 f32 lanes outside AVX-512");
#endif
  }
}

// The butterfly stages kM, 2·kM, ... below W, within each vector of a row: the upper lane of a
// pair (k & kM != 0) takes its partner minus itself, the lower one its partner plus itself, as
// one multiply-add by ±1 (the product is exact, so the sum is rounded once, as the addition
// or subtraction would be; an addition rather than a subtraction and an addition under a mask).
template <uint32_t kM>
HWY_INLINE void HadamardInVectors(V (&v)[kVecs]) {
  if constexpr (kM < kW) {
    const D d;
    const hn::RebindToUnsigned<D> du;
    const auto upper = hn::RebindMask(d, hn::TestBit(hn::Iota(du, 0), hn::Set(du, kM)));
    const V sign = hn::IfThenElse(upper, hn::Set(d, -1.0f), hn::Set(d, 1.0f));
    for (uint32_t i = 0; i < kVecs; ++i) v[i] = hn::MulAdd(v[i], sign, LanesXor<kM>(v[i]));
    HadamardInVectors<2 * kM>(v);
  }
}
#endif

HWY_INLINE void SimdHadamardRowsVec(float* rows, size_t stride, uint32_t n, uint32_t group_size) {
  const D d;
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    if (lanes < kSimdWidth) {
      for (uint32_t r = 0; r < n; ++r) tgk::detail::SimdHadamardOf(rows + r * stride + base, lanes);
      continue;
    }
    for (uint32_t r = 0; r < n; ++r) {
      float* x = rows + r * stride + base;
      V v[kVecs];
      for (uint32_t m = 0; m < kVecs; ++m) v[m] = hn::LoadU(d, x + m * kW);
#if HWY_TARGET != HWY_SCALAR
      HadamardInVectors<1>(v);
#endif
      for (uint32_t step = 1; step < kVecs; step *= 2) {
        for (uint32_t i = 0; i < kVecs; ++i) {
          if (i & step) continue;
          const V lower = v[i], upper = v[i + step];
          v[i] = hn::Add(lower, upper);
          v[i + step] = hn::Sub(lower, upper);
        }
      }
      for (uint32_t m = 0; m < kVecs; ++m) hn::StoreU(v[m], d, x + m * kW);
    }
  }
}

}  // namespace collectives
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_COLLECTIVES_INL_H_
