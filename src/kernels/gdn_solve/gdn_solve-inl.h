// The stage-4 functor, chunk_tri_solve_invert_f32 (spec/gated_delta_net_chunk.md section 5),
// one source for the scalar oracle and every Highway target.
//
// As on the GPU: one group of 64 lanes per (head, chunk, batch) block, lane j owns column j;
// phases: stage the block L in arena 0, barrier, forward substitution. Per cell the arithmetic
// is the spec's: X[i][j] = [i == j], then X[i][j] − f32(L[i][m] · X[m][j]) for m = 0 .. i−1
// (a multiply and a subtract, never fused). X lives in arena 1; a lane reads only its own
// column of it. Rows of a partial last chunk past T are neither read nor written. Eight rows'
// chains advance together (each in its own order), so the subtractions do not wait on each
// other. When the staging phase finds L finite (flags in arena 2), X is +0 above the diagonal
// and a chain, from +0 or 1, is never −0: the terms of the rows before a pack's first column
// are ±0 and leave it as it is, so its chains start there. The tiles ask for the next group's
// rows meanwhile.

#if defined(TGK_KERNELS_GDN_SOLVE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_SOLVE_INL_H_
#undef TGK_KERNELS_GDN_SOLVE_INL_H_
#else
#define TGK_KERNELS_GDN_SOLVE_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/gdn_chunk/gdn_tiles-inl.h"
#include "kernels/gdn_solve/gdn_solve_args.h"
#include "tgk/group-inl.h"
#include "tgk/prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct GdnSolveKernel {
  static constexpr uint32_t kLanes = 64;
  static constexpr uint32_t kBT = 64;
  static constexpr uint32_t kBlock = 8;  // rows whose chains run side by side

  GdnSolveArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    // Grid (H, chunks, B), heads fastest (consecutive groups share cache lines of A's rows).
    const Dim3 id = g.group_id();
    const uint32_t t0 = id.y * kBT;
    const uint32_t rows = std::min(kBT, a.T - t0);
    const size_t base = ((size_t{id.z} * a.T + t0) * a.H + id.x) * kBT;
    const size_t row_stride = size_t{a.H} * kBT;
    auto l = g.template arena<float>(0);
    auto flags = g.template arena<float>(2);  // 1 where lane m's column of L is finite below
                                              // the diagonal

    g.for_each_lane([&](auto lane) HWY_ATTR {
      auto finite = lane.zero() == lane.zero();
      const auto column = lane.id();
      for (uint32_t i = 0; i < rows; ++i) {
        const auto value = lane.load(a.a_strict + base + i * row_stride + lane.first());
        lane.store(l, i * kBT + lane.first(), value);
        const auto below = Select(column < lane.splat(i), value, lane.zero());
        finite = AndMask(finite, below - below == lane.zero());
      }
      lane.store(flags, lane.first(), Select(finite, lane.splat(1.0f), lane.zero()));
    });
    g.barrier();
    bool finite = true;
    for (uint32_t m = 0; m < kLanes; ++m) finite = finite && float(flags[m]) == 1.0f;

    // The next group's rows, a share per block of rows of every pack.
    Dim3 next;
    const bool ahead = NextGroup(g, next);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      using L = decltype(lane);
      constexpr uint32_t kPacks = kLanes / L::kWidth;
      const uint32_t blocks = gdn::BlockCount<kBlock>(rows);
      uint32_t block = (lane.first() / L::kWidth) * blocks;
      gdn::ForBlocks<kBlock>(rows, [&](auto r, uint32_t i0) HWY_ATTR {
        if (ahead) Prefetch(next, block++, kPacks * blocks);
        Rows<r()>(g, lane, i0, finite ? std::min(lane.first(), i0) : 0, base, row_stride);
      });
    });
  }

  // Share `part` of `parts` of group `id`'s rows of A, and of A_inv for writing.
  HWY_INLINE void Prefetch(const Dim3& id, uint32_t part, uint32_t parts) const {
    const uint32_t t0 = id.y * kBT, rows = std::min(kBT, a.T - t0);
    const size_t base = ((size_t{id.z} * a.T + t0) * a.H + id.x) * kBT;
    const RowRun runs[] = {RowRunOf(a.a_strict + base, size_t{a.H} * kBT, rows, kBT),
                           RowRunOf(a.a_inv + base, size_t{a.H} * kBT, rows, kBT, true)};
    PrefetchRows(runs, part, parts);
  }

  // Rows i0 .. i0 + N − 1 of the lane's columns: their chains run side by side over the rows
  // before i0 (independent, so the subtractions overlap), then each finishes over the block's
  // earlier rows in order. The chains start at row `start` ≤ i0: with L finite, X[m][j] is +0
  // for m < j, so the terms of the rows m before the pack's first column are ±0 and leave the
  // chain (never −0) as it is.
  template <uint32_t N, class Group, class Lane>
  HWY_INLINE void Rows(Group& g, const Lane& lane, uint32_t i0, uint32_t start, size_t base,
                       size_t row_stride) const {
    auto l = g.template arena<float>(0);
    auto x = g.template arena<float>(1);
    const uint32_t j = lane.first();
    decltype(lane.zero()) acc[N];
    for (uint32_t r = 0; r < N; ++r) {
      acc[r] = Select(lane.id() == lane.splat(i0 + r), lane.splat(1.0f), lane.zero());
    }
    for (size_t m = start; m < i0; ++m) {
      const auto xm = lane.load(x, m * kBT + j);
      for (size_t r = 0; r < N; ++r) {
        acc[r] = acc[r] - lane.splat(float(l[(i0 + r) * kBT + m])) * xm;
      }
    }
    for (uint32_t r = 0; r < N; ++r) {
      const uint32_t i = i0 + r;
      for (uint32_t m = i0; m < i; ++m) {
        acc[r] = acc[r] - lane.splat(float(l[i * kBT + m])) * lane.load(x, m * kBT + j);
      }
      lane.store(x, i * kBT + j, acc[r]);
      lane.store(a.a_inv + base + i * row_stride + j, acc[r]);
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_SOLVE_INL_H_
