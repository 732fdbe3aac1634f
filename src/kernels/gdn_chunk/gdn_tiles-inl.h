// Row-tile helpers the Gated DeltaNet chunk functors share (per target; include inside a
// foreach_target pass). Their tiles are 64 lanes wide, a multiple of every pack width, so a
// pack is always whole; a row of width n (K or V need not be multiples of anything) ends
// inside some pack, which then reads or writes only its first lanes.

#if defined(TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_
#undef TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_
#else
#define TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_
#endif

#include <cstdint>

#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace gdn {

// Lane k of the pack reads p[k] if k < n, else 0.
template <class Lane, class T>
HWY_INLINE auto LoadPrefix(const Lane& lane, const T* p, uint32_t n) {
  return n >= lane.count() ? lane.load(p) : lane.load_strided(p, 1, n);
}

// Lane k of the pack writes p[k] if k < n; nothing past p[n − 1] is touched.
template <class Lane, class T, class V>
HWY_INLINE void StorePrefix(const Lane& lane, T* p, V v, uint32_t n) {
  if (n >= lane.count()) return lane.store(p, v);
  T buffer[Lane::kWidth];
  lane.store(buffer, v);
  for (uint32_t k = 0; k < n; ++k) p[k] = buffer[k];
}

// The pack's lanes as columns first .. first + count of a tile `width` wide: how many of them
// lie inside it (0: none).
template <class Lane>
HWY_INLINE uint32_t Inside(const Lane& lane, uint32_t width) {
  return width > lane.first() ? width - lane.first() : 0;
}

// Copies rows [0, rows) of `width` elements from src (row stride src_stride) to the arena
// (row stride dst_stride, from element dst0), widened to f32, through `f` (an elementwise
// function of the value and the row). The group's lanes take columns lane, lane + lanes, ….
template <class Lane, class T, class Arena, class F>
HWY_INLINE void StageRows(const Lane& lane, uint32_t lanes, const T* src, size_t src_stride,
                          uint32_t rows, uint32_t width, const Arena& dst, size_t dst_stride, F f) {
  for (uint32_t c0 = lane.first(); c0 < width; c0 += lanes) {
    for (uint32_t r = 0; r < rows; ++r) {
      lane.store(dst, r * dst_stride + c0,
                 f(LoadPrefix(lane, src + r * src_stride + c0, width - c0), r));
    }
  }
}

// Transposes the arena tile src [64][stride] (rows = the group's 64 lanes) into dst
// [columns][64], kWidth × kWidth blocks at a time: dst rows up to `columns` rounded up to 16.
template <class Lane, class Arena>
HWY_INLINE void TransposeTile(const Lane& lane, const Arena& src, size_t stride, uint32_t columns,
                              const Arena& dst) {
  using L = Lane;
  constexpr uint32_t kWidth = L::kWidth;
  const uint32_t r0 = lane.first();
  for (uint32_t cb = 0; cb < columns; cb += kWidth) {
    typename L::VF block[kWidth];
    for (uint32_t k = 0; k < kWidth; ++k) block[k] = lane.load(src, (r0 + k) * stride + cb);
    lane.transpose(block);
    for (uint32_t k = 0; k < kWidth; ++k) lane.store(dst, size_t{cb + k} * 64 + r0, block[k]);
  }
}

}  // namespace gdn
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_
