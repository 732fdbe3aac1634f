// Row and column data movement for lane bodies, per Highway target (docs/design.md section 1.1).
// A kernel that gives each lane one row of a row-major tile (a query row, say) reads a pack's
// rows as vectors only after they are staged as columns of an arena; these operations move whole
// tiles between the two layouts with register transposes instead of one element at a time.
//
//   StageColumns(lane, src, src_stride, n, valid, dst, dst_stride)
//       dst[c·dst_stride + lane.first() + k] = f32(src[k·src_stride + c])   for c < n,
//       for the pack's active lanes k < valid, and 0 for its active lanes k >= valid
//   StoreColumns(lane, src, src_stride, n, valid, dst, dst_stride)
//       dst[k·dst_stride + c] = T(src[c·src_stride + lane.first() + k])     for c < n, for the
//       pack's active lanes k < valid
//   WidenRow(lane, src, n, dst)
//       dst[i] = the f32 whose upper half holds bf16 src[i]'s bits           for i < n
//       That is F32FromBF16(src[i]), except that a signalling NaN stays signalling. For values
//       that only enter arithmetic, which quiets a NaN operand as F32FromBF16 does, the
//       results are the same bits; skipping the quieting leaves one shift per vector instead
//       of five operations.
//   LoadBF16Bits(lane, src, n)
//       lane k's value: the f32 whose upper half holds bf16 src[k]'s bits if k < n, else 0
//       (lane.load(src) for a whole pack, as WidenRow widens, for values bound for arithmetic;
//       nothing at or past src[n] is read)
//
// src of StageColumns and dst of StoreColumns are f32 or bf16 rows; the conversions are tgk's
// (exact widening, round-to-nearest-even narrowing), as in lane.load and lane.store. The
// ScalarLane overloads are the definitions (for one lane, k = 0 and `valid` is 0 or 1); the
// lane-pack overloads only move data, so every target gives their bits (tests/rows_test.cc).
//
// Per-target header: include it after tgk/group-inl.h, inside a foreach_target pass.

#if defined(TGK_ROWS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_ROWS_INL_H_
#undef TGK_ROWS_INL_H_
#else
#define TGK_ROWS_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// ---- scalar lanes: the definitions ----------------------------------------------------------

template <class T, class Arena>
HWY_INLINE void StageColumns(const ScalarLane& lane, const T* src, size_t /*src_stride*/, size_t n,
                             uint32_t valid, const Arena& dst, size_t dst_stride) {
  for (size_t c = 0; c < n; ++c) {
    lane.store(dst, c * dst_stride + lane.first(), valid > 0 ? lane.load(src + c) : 0.0f);
  }
}

template <class Arena, class T>
HWY_INLINE void StoreColumns(const ScalarLane& lane, const Arena& src, size_t src_stride, size_t n,
                             uint32_t valid, T* dst, size_t /*dst_stride*/) {
  if (valid == 0) return;
  for (size_t c = 0; c < n; ++c) lane.store(dst + c, lane.load(src, c * src_stride + lane.first()));
}

HWY_INLINE void WidenRow(const ScalarLane& /*lane*/, const bf16* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = FloatFromBits(uint32_t{src[i].bits} << 16);
}

HWY_INLINE float LoadBF16Bits(const ScalarLane& /*lane*/, const bf16* src, uint32_t n) {
  return n > 0 ? FloatFromBits(uint32_t{src->bits} << 16) : 0.0f;
}

// ---- lane packs: kWidth × kWidth blocks through lane.transpose --------------------------------

template <class DF, bool kFull, class T, class Arena>
HWY_INLINE void StageColumns(const LanePack<DF, kFull>& lane, const T* src, size_t src_stride,
                             size_t n, uint32_t valid, const Arena& dst, size_t dst_stride) {
  constexpr uint32_t kWidth = LanePack<DF>::kWidth;
  typename LanePack<DF>::VF rows[kWidth];
  valid = std::min(valid, lane.count());
  for (size_t c0 = 0; c0 < n; c0 += kWidth) {
    const uint32_t width = uint32_t(std::min<size_t>(kWidth, n - c0));
    const LanePack<DF> part(lane.first(), width);
    for (uint32_t k = 0; k < kWidth; ++k) {
      rows[k] = k < valid ? part.load(src + k * src_stride + c0) : lane.zero();
    }
    lane.transpose(rows);
    for (uint32_t c = 0; c < width; ++c) {
      lane.store(dst, (c0 + c) * dst_stride + lane.first(), rows[c]);
    }
  }
}

template <class DF, bool kFull, class Arena, class T>
HWY_INLINE void StoreColumns(const LanePack<DF, kFull>& lane, const Arena& src, size_t src_stride,
                             size_t n, uint32_t valid, T* dst, size_t dst_stride) {
  constexpr uint32_t kWidth = LanePack<DF>::kWidth;
  typename LanePack<DF>::VF rows[kWidth];
  for (size_t c0 = 0; c0 < n; c0 += kWidth) {
    const uint32_t width = uint32_t(std::min<size_t>(kWidth, n - c0));
    for (uint32_t c = 0; c < kWidth; ++c) {
      rows[c] = c < width ? lane.load(src, (c0 + c) * src_stride + lane.first()) : lane.zero();
    }
    lane.transpose(rows);
    const LanePack<DF> part(lane.first(), width);
    for (uint32_t k = 0; k < std::min(valid, lane.count()); ++k) {
      part.store(dst + k * dst_stride + c0, rows[k]);
    }
  }
}

template <class DF, bool kFull>
HWY_INLINE auto LoadBF16Bits(const LanePack<DF, kFull>& lane, const bf16* src, uint32_t n) {
  constexpr uint32_t kWidth = LanePack<DF>::kWidth;
  const DF df;
  const hn::RebindToUnsigned<DF> du;
  const hn::Rebind<uint16_t, DF> d16;
  const auto* bits = reinterpret_cast<const uint16_t*>(src);
  const uint32_t valid = std::min(n, lane.count());
  if (valid == kWidth) {
    return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, bits))));
  }
  HWY_ALIGN uint16_t prefix[kWidth] = {};
  for (uint32_t k = 0; k < valid; ++k) prefix[k] = bits[k];
  return hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::Load(d16, prefix))));
}

template <class DF, bool kFull>
HWY_INLINE void WidenRow(const LanePack<DF, kFull>& lane, const bf16* src, size_t n, float* dst) {
  constexpr uint32_t kWidth = LanePack<DF>::kWidth;
  const DF df;
  const hn::RebindToUnsigned<DF> du;
  const hn::Rebind<uint16_t, DF> d16;
  const auto* bits = reinterpret_cast<const uint16_t*>(src);
  size_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, bits + i)))), df,
               dst + i);
  }
  WidenRow(ScalarLane(lane.first()), src + i, n - i, dst + i);
}

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_ROWS_INL_H_
