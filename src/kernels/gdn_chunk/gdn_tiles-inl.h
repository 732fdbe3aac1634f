// Row-tile helpers the Gated DeltaNet chunk functors share (per target; include inside a
// foreach_target pass). Their groups are multiples of 16 lanes, a multiple of every pack width,
// so a pack is always whole; a row of width n (K or V need not be multiples of anything) ends
// inside some pack, which then reads or writes only its first lanes.
//
// Register tiles: every 16 lanes of a group own a 64-column tile, lane l columns l % 16 + 16q,
// q < 4, so that one pack (16 lanes on AVX-512) holds R rows × 2 or 4 vectors of sums in
// registers and reads each arena value once per R·NV multiply-adds, as a GPU thread holds a
// fragment of a simdgroup matrix. Every sum is still one chain, in its own order: the tile only
// decides which chains advance side by side. The chunk functors read 64 rows of a head that lie
// H·K elements apart, each in a page of its own, which the hardware prefetchers do not follow:
// they ask for the rows of a later phase or group meanwhile (PrefetchRows, tgk/prefetch.h).

#if defined(TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_
#undef TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_
#else
#define TGK_KERNELS_GDN_CHUNK_GDN_TILES_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "tgk/group-inl.h"
#include "tgk/rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace gdn {

// Lanes of a register-tile group, and the vectors (columns 16 apart) each pack holds.
inline constexpr uint32_t kTileLanes = 16;
inline constexpr uint32_t kTileVectors = 4;

// Register tiles: R rows × NV vectors of sums, 16 of them where 32 registers hold them
// (AVX-512), 8 where 16 do. Rows × 4 vectors read each vector once per R multiply-adds; rows ×
// 2 vectors sweep half the arena tile per pass, which then stays in L1.
template <class Lane>
inline constexpr uint32_t kTileRows = Lane::kWidth >= 16 ? 4 : 2;  // × 4 vectors
template <class Lane>
inline constexpr uint32_t kHalfTileRows = 2 * kTileRows<Lane>;  // × 2 vectors

template <uint32_t N>
using Constant = std::integral_constant<uint32_t, N>;

// Calls f(R, i0) (R an integral constant) for blocks of kR rows while one fits in [0, n), then
// for single rows.
template <uint32_t kR, class F>
HWY_INLINE void ForBlocks(uint32_t n, const F& f) {
  uint32_t i0 = 0;
  for (; i0 + kR <= n; i0 += kR) f(Constant<kR>(), i0);
  for (; i0 < n; ++i0) f(Constant<1>(), i0);
}
// How many calls ForBlocks<kR>(n, f) makes.
template <uint32_t kR>
HWY_INLINE uint32_t BlockCount(uint32_t n) {
  return n / kR + n % kR;
}

// Calls f(NV, q0) (NV an integral constant) over the pack's `vectors` vectors: groups of kNV
// when it has all kTileVectors, one at a time in a partial tile.
template <uint32_t kNV, class F>
HWY_INLINE void ForVectors(uint32_t vectors, const F& f) {
  if (vectors == kTileVectors) {
    for (uint32_t q0 = 0; q0 < kTileVectors; q0 += kNV) f(Constant<kNV>(), q0);
    return;
  }
  for (uint32_t q = 0; q < vectors; ++q) f(Constant<1>(), q);
}

// Calls f(NV) with NV = n (0 ≤ n ≤ kTileVectors) as an integral constant.
template <class F>
HWY_INLINE void WithVectors(uint32_t n, const F& f) {
  switch (n) {
    case 0:
      return f(Constant<0>());
    case 1:
      return f(Constant<1>());
    case 2:
      return f(Constant<2>());
    case 3:
      return f(Constant<3>());
    default:
      return f(Constant<kTileVectors>());
  }
}

// Lane k of the pack reads p[k] if k < n, else 0. A bf16 widens as LoadBF16Bits does, a
// signalling NaN unquieted: every value the chunk functors load this way enters arithmetic,
// which quiets it, before it reaches an output.
template <class Lane, class T>
HWY_INLINE auto LoadPrefix(const Lane& lane, const T* p, uint32_t n) {
  if constexpr (std::is_same_v<T, bf16>) {
    return LoadBF16Bits(lane, p, n);
  } else {
    return n >= lane.count() ? lane.load(p) : lane.load_strided(p, 1, n);
  }
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

// A group of 16·n lanes holds n register tiles side by side: lane l owns columns
// 64·(l / 16) + l % 16 + 16q, q < 4. The column of the pack's first lane in its vector 0:
template <class Lane>
HWY_INLINE uint32_t TileColumn(const Lane& lane) {
  return lane.first() / kTileLanes * 64 + lane.first() % kTileLanes;
}

// How many of the pack's lanes own a column TileColumn + offset + k inside a tile `width`
// wide (0: none).
template <class Lane>
HWY_INLINE uint32_t InsideAt(const Lane& lane, uint32_t width, uint32_t offset) {
  const uint32_t column = TileColumn(lane) + offset;
  return width > column ? width - column : 0;
}

// How many of the pack's vectors (q = 0, 1, …) have a lane inside a tile `width` wide.
template <class Lane>
HWY_INLINE uint32_t TileVectors(const Lane& lane, uint32_t width) {
  uint32_t n = 0;
  while (n < kTileVectors && InsideAt(lane, width, n * kTileLanes) > 0) ++n;
  return n;
}

// The register tile's inner loop: for m = 0, 1, …, n − 1 in order,
//   acc[r][q] = step(A[a + r·a_r + m·a_m], B[b + m·b_m + 16·q], acc[r][q])
// for rows r < R and vectors q < NV, A's element splat over the pack, B's read at the pack's
// lanes. `step` is one multiply-add (Fma, or a rounded product and an add). The loop runs on a
// local copy of the sums, which no pointer can reach, so that they stay in registers whatever
// the caller does with `acc` (an arena load may alias an array whose address has escaped).
template <uint32_t R, uint32_t NV, class Lane, class V, class ArenaA, class ArenaB, class Step>
HWY_INLINE void AccumulateTile(const Lane& lane, V (&acc)[R][NV], const ArenaA& A, size_t a,
                               size_t a_r, size_t a_m, const ArenaB& B, size_t b, size_t b_m,
                               size_t n, const Step& step) {
  V sum[R][NV];
  for (uint32_t r = 0; r < R; ++r) {
    for (uint32_t q = 0; q < NV; ++q) sum[r][q] = acc[r][q];
  }
  for (size_t m = 0; m < n; ++m) {
    V column[NV];
    for (uint32_t q = 0; q < NV; ++q) column[q] = lane.load(B, b + m * b_m + q * kTileLanes);
    for (uint32_t r = 0; r < R; ++r) {
      const V s = lane.splat(float(A[a + r * a_r + m * a_m]));
      for (uint32_t q = 0; q < NV; ++q) sum[r][q] = step(s, column[q], sum[r][q]);
    }
  }
  for (uint32_t r = 0; r < R; ++r) {
    for (uint32_t q = 0; q < NV; ++q) acc[r][q] = sum[r][q];
  }
}

// dst[c·dst_stride + x] = f32(src[x·src_stride + c]) for c < n and the lane's columns x of a
// tile `width` wide (rows x ≥ width read as 0), kWidth × kWidth blocks at a time through
// register transposes: dst rows up to n rounded up to kWidth are written.
template <class Lane, class T, class Arena>
HWY_INLINE void StageTransposed(const Lane& lane, const T* src, size_t src_stride, uint32_t width,
                                uint32_t n, const Arena& dst, size_t dst_stride) {
  constexpr uint32_t kWidth = Lane::kWidth;
  for (uint32_t q = 0; q < kTileVectors; ++q) {
    if (InsideAt(lane, width, q * kTileLanes) == 0) return;
    const uint32_t x = TileColumn(lane) + q * kTileLanes;
    for (uint32_t cb = 0; cb < n; cb += kWidth) {
      typename Lane::VF block[kWidth];
      for (uint32_t k = 0; k < kWidth; ++k) {
        block[k] = x + k < width ? LoadPrefix(lane, src + size_t{x + k} * src_stride + cb, n - cb)
                                 : lane.zero();
      }
      lane.transpose(block);
      for (uint32_t k = 0; k < kWidth; ++k)
        lane.store(dst, size_t{cb + k} * dst_stride + x, block[k]);
    }
  }
}

// The inverse: dst[x·dst_stride + c] = T(src[c·src_stride + x]) (rounded to dst's type) for
// c < n and the lane's columns x inside the tile.
template <class Lane, class Arena, class T>
HWY_INLINE void StoreTransposed(const Lane& lane, const Arena& src, size_t src_stride,
                                uint32_t width, uint32_t n, T* dst, size_t dst_stride) {
  constexpr uint32_t kWidth = Lane::kWidth;
  for (uint32_t q = 0; q < kTileVectors; ++q) {
    const uint32_t inside = InsideAt(lane, width, q * kTileLanes);
    if (inside == 0) return;
    const uint32_t x = TileColumn(lane) + q * kTileLanes;
    for (uint32_t cb = 0; cb < n; cb += kWidth) {
      typename Lane::VF block[kWidth];
      for (uint32_t k = 0; k < kWidth; ++k)
        block[k] = lane.load(src, size_t{cb + k} * src_stride + x);
      lane.transpose(block);
      for (uint32_t k = 0; k < kWidth && k < inside; ++k) {
        StorePrefix(lane, dst + size_t{x + k} * dst_stride + cb, block[k], n - cb);
      }
    }
  }
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
