// The kkt functor (docs/spec/kkt.md sections 3 and 4), one source for the scalar
// oracle and every Highway target.
//
// Structure, as on the GPU: 256 lanes per (chunk, head, batch) group; for each 64-wide tile q
// of K, phases separated by barriers stage the tile in threadgroup arenas, transpose it, and
// add the tile's dot products into each lane's cells; then the gate, mask and store.
// Per cell the arithmetic is exactly the spec's: kb = bf16(k_i[c]·β_i) (one f32 multiply, one
// rounding), d = Σ_c kb·k_j[c] from +0 in ascending c, acc = acc + d per tile in order,
// v = acc·exp(g_i − g_j), stored where i > j. The dot uses Fma: the products of two bf16
// values are exact in f32, so the fused and the unfused sum agree except for a product below
// 2^-126 (gradual underflow), where tgk's result is the fused one on every path.
//
// What differs from the Metal kernel, none of it visible in the output:
//   - Arenas (tgk sizes them at dispatch): 0 `kb` f32 [64][64], the rounded k·β tile widened
//     (exactly); 1 `kt` f32 [64][64], the k tile transposed ([c][j]) so that a lane pack reads
//     consecutive j at once, in a phase of its own that reads k again (from L1: the staging
//     has just read it); 2 `chunk` f32 [2][64], g then β of the chunk's rows; 3 `acc`, below.
//     Metal keeps kb as bf16 and reads k and β/g from device memory. (A copy of the k tile as
//     read, staged beside kb for the transpose, made the arenas 64.5 KiB, against 48.5 KiB now
//     and an Ice Lake core's 48 KiB of L1: without it 2 threads took 5-8% less time there,
//     perf/RESULTS.md.)
//   - Cell ownership: lane l owns a register tile of 4 × 4 cells, rows 4·(l / 16) .. +3 and
//     columns l % 16 + 16·t (t < 4) (Metal: column l % 64, rows l / 64 + 4r). A pack of 16
//     lanes then reads one kt vector per column block and one kb value per row for 16 FMAs
//     (at most): on an Intel Ice Lake a probe of the earlier 16 rows × 1 vector (17 loads for
//     16 FMAs) ran at 0.5 of the FMA peak, a 4 × 4 tile at 0.7 (perf/RESULTS.md).
//     Accumulators live in arena 3 as [cell r·4 + t][lane], each lane's own.
//   - Sub-tiles whose every cell is masked (above the diagonal, or past T) are not computed:
//     they are stored as +0 as the mask demands.
//   - A group asks for the next group's k rows of each tile while staging that tile
//     (tgk/prefetch.h): a chunk's rows of k lie Hg·K·2 bytes apart, a page or more at the
//     default shape, which the hardware prefetchers do not follow. Into L1 (Reuse::kFirst):
//     the next group stages them first thing; on an Ice Lake core the same hints into L2 left
//     the staging loads waiting, and 2 threads took 24-30% longer in three of four sets of
//     alternating runs (medians; the same in the fourth; perf/RESULTS.md).
//   - A is stored with store_stream, past the caches: its rows lie H·64·4 bytes apart (4 KiB
//     at H = 16), so a group's 256 lines of A fill 4 of the 64 L1 sets. Stored through the
//     caches, on an Intel Xeon the whole kernel took 1.5-1.8x the sum of its phases run alone,
//     against 1.1x with rows 256 bytes apart (perf/RESULTS.md).

#if defined(TGK_KERNELS_KKT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_KKT_INL_H_
#undef TGK_KERNELS_KKT_INL_H_
#else
#define TGK_KERNELS_KKT_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/kkt/kkt_args.h"
#include "tgk/group-inl.h"
#include "tgk/prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct KktKernel {
  static constexpr uint32_t kLanes = kKktGroupSize;
  static constexpr uint32_t kBT = kKktChunk;
  static constexpr uint32_t kBK = kKktTile;
  static constexpr uint32_t kCellsPerLane = kBT * kBT / kLanes;  // 16
  // The register tile: kSpan lanes share a block of kTileRows rows, each lane owning column
  // l % kSpan of each of the kTileColumns blocks of kSpan columns.
  static constexpr uint32_t kSpan = 16;
  static constexpr uint32_t kTileRows = kBT * kSpan / kLanes;  // 4
  static constexpr uint32_t kTileColumns = kBT / kSpan;        // 4
  static_assert(kTileRows * kTileColumns == kCellsPerLane);

  KktArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    // tgk's grid is (H, ceil(T/64), B), heads fastest, so that consecutive groups on a thread
    // share the cache lines of g, β and A rows; the Metal grid is (ceil(T/64), H, B).
    const Dim3 id = g.group_id();
    Dim3 next;
    if (!NextGroup(g, next)) next = id;  // the last group asks for its own rows: no harm
    const uint32_t valid = Rows(id);
    const size_t k_row_stride = size_t{a.Hg} * a.K;
    const bf16* k_chunk = KeyChunk(id);
    const size_t gate_base = GateBase(id);

    auto kb = g.template arena<float>(kKktArenaKb);
    auto kt = g.template arena<float>(kKktArenaKt);
    auto chunk = g.template arena<float>(kKktArenaChunk);  // [0, 64): g, [64, 128): β
    // acc[r][l]: lane l's cell in its row r. An arena rather than lane state, which would be
    // zero-filled for every group: the first tile writes +0 + d instead.
    auto acc = g.template arena<float>(kKktArenaAcc);

    // Phase: lanes 0..63 stage g and β of their row (0 past T; never read there).
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t k = 0; k < lane.count() && lane.first() + k < kBT; ++k) {
        const uint32_t row = lane.first() + k;
        const bool inside = row < valid;
        chunk[row] = inside ? a.g[gate_base + size_t{row} * a.H] : 0.0f;
        chunk[kBT + row] = inside ? a.beta[gate_base + size_t{row} * a.H] : 0.0f;
      }
    });
    g.barrier();

    for (uint32_t tile = 0; tile < a.K / kBK; ++tile) {
      // Phase: stage the tile: lane l fills cells l + 256·r of kb (rounded k·β); a pack covers
      // consecutive columns of one row, read contiguously. (Staging kb from the transposing
      // reads, a pack reading half a line of each of 16 rows that lie Hg·K·2 bytes apart, was
      // 8% slower on Zen 4 and 9-13% on an Intel Xeon.)
      const bf16* tile_keys = k_chunk + size_t{tile} * kBK;
      const RowRun next_keys[] = {
          RowRunOf(KeyChunk(next) + size_t{tile} * kBK, k_row_stride, Rows(next), kBK)};
      g.for_each_lane([&](auto lane) HWY_ATTR {
        PrefetchRows<Reuse::kFirst>(next_keys, lane.first() / lane.count(), kLanes / lane.count());
        for (uint32_t r = 0; r < kCellsPerLane; ++r) {
          const uint32_t cell = lane.first() + kLanes * r;
          const uint32_t row = cell / kBK, col = cell % kBK;
          auto scaled = lane.zero();
          if (row < valid) {
            const auto key = lane.load(tile_keys + row * k_row_stride + col);
            scaled = RoundBF16(key * lane.splat(float(chunk[kBT + row])));
          }
          lane.store(kb, cell, scaled);
        }
      });
      g.barrier();

      // Phase: transpose the k tile into kt (+0 past T). Lane l writes kt[c][j] for j = l % 64
      // and the 16 columns c = 16·(l / 64) + 0..15; a pack transposes kWidth × kWidth blocks of
      // k, as read, in registers.
      g.for_each_lane([&](auto lane) HWY_ATTR {
        using L = decltype(lane);
        constexpr uint32_t kWidth = L::kWidth;
        const uint32_t j0 = lane.first() % kBT;
        const uint32_t c0 = kCellsPerLane * (lane.first() / kBT);
        for (uint32_t cb = c0; cb < c0 + kCellsPerLane; cb += kWidth) {
          typename L::VF block[kWidth];
          for (uint32_t k = 0; k < kWidth; ++k) {
            block[k] =
                j0 + k < valid ? lane.load(tile_keys + (j0 + k) * k_row_stride + cb) : lane.zero();
          }
          lane.transpose(block);
          for (uint32_t k = 0; k < kWidth; ++k) lane.store(kt, size_t{cb + k} * kBT + j0, block[k]);
        }
      });
      g.barrier();

      // Phase: each lane adds this tile's dot products into its cells, a register tile of its
      // rows × the column blocks that hold a cell below the diagonal (the others are masked).
      g.for_each_lane([&](auto lane) HWY_ATTR {
        using L = decltype(lane);
        static_assert(kSpan % L::kWidth == 0, "a pack lies in one row block");
        const uint32_t row0 = RowBlock(lane), col0 = lane.first() % kSpan;
        if (row0 >= valid) return;
        const uint32_t last_row = row0 + kTileRows - 1;
        const uint32_t blocks = last_row > col0 ? (last_row - col0 + kSpan - 1) / kSpan : 0;
        // Column blocks per pass: all four in the 32 registers of AVX-512, two in 16.
        constexpr uint32_t kPass = L::kWidth >= 16 ? kTileColumns : 2;
        for (uint32_t t0 = 0; t0 < blocks; t0 += kPass) {
          const uint32_t n = std::min(kPass, blocks - t0);
          if constexpr (kPass >= 4) {
            if (n == 4) {
              DotTile<4>(lane, kb, kt, acc, row0, t0, tile == 0);
              continue;
            }
            if (n == 3) {
              DotTile<3>(lane, kb, kt, acc, row0, t0, tile == 0);
              continue;
            }
          }
          if (n == 2) {
            DotTile<2>(lane, kb, kt, acc, row0, t0, tile == 0);
          } else {
            DotTile<1>(lane, kb, kt, acc, row0, t0, tile == 0);
          }
        }
      });
      g.barrier();
    }

    // Phase: gate, strict-lower mask, store the rows inside T.
    float* a_chunk = a.A + gate_base * kBT;
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t row0 = RowBlock(lane), col0 = lane.first() % kSpan;
      const auto column = lane.id() - lane.splat(lane.first() - col0);  // id % kSpan
      using VF = typename decltype(lane)::VF;
      VF g_j[kTileColumns];
      for (uint32_t t = 0; t < kTileColumns; ++t) g_j[t] = lane.load(chunk, col0 + kSpan * t);
      for (uint32_t r = 0; r < kTileRows; ++r) {
        const uint32_t i = row0 + r;
        if (i >= valid) break;
        const auto g_i = lane.splat(float(chunk[i]));
        for (uint32_t t = 0; t < kTileColumns; ++t) {
          const uint32_t j0 = col0 + kSpan * t;
          auto v = lane.zero();
          if (i > j0) {
            const auto gate = Exp(g_i - g_j[t]);
            const auto cell = lane.load(acc, size_t{r * kTileColumns + t} * kLanes + lane.first());
            // Columns j0 .. j0 + count − 1: the mask matters only where one reaches row i.
            v = i >= j0 + lane.count() ? cell * gate
                                       : Select(column + lane.splat(kSpan * t) < lane.splat(i),
                                                cell * gate, lane.zero());
          }
          lane.store_stream(a_chunk + size_t{i} * a.H * kBT + j0, v);
        }
      }
    });
  }

 private:
  // The first of the lane's kTileRows rows.
  template <class L>
  static HWY_INLINE uint32_t RowBlock(const L& lane) {
    return kTileRows * (lane.first() / kSpan);
  }

  // Adds the dot products of the lane's rows row0 .. + kTileRows − 1 with its columns in the
  // column blocks t0 .. t0 + kN − 1 into its accumulators (+0 + d on the first tile).
  template <uint32_t kN, class L, class Kb, class Kt, class Acc>
  static HWY_INLINE void DotTile(const L& lane, const Kb& kb, const Kt& kt, const Acc& acc,
                                 uint32_t row0, uint32_t t0, bool first_tile) {
    using VF = typename L::VF;
    const uint32_t col0 = lane.first() % kSpan + kSpan * t0;
    VF d[kTileRows][kN];
    for (uint32_t r = 0; r < kTileRows; ++r) {
      for (uint32_t t = 0; t < kN; ++t) d[r][t] = lane.zero();
    }
    // size_t indices let the compiler address the rows of kb from one register.
    const size_t kb_row = size_t{row0} * kBK;
    for (size_t c = 0; c < kBK; ++c) {
      VF keys[kN];
      for (uint32_t t = 0; t < kN; ++t) keys[t] = lane.load(kt, c * kBT + col0 + kSpan * t);
      for (size_t r = 0; r < kTileRows; ++r) {
        const auto w = lane.splat(float(kb[kb_row + r * kBK + c]));
        for (uint32_t t = 0; t < kN; ++t) d[r][t] = Fma(w, keys[t], d[r][t]);
      }
    }
    for (uint32_t r = 0; r < kTileRows; ++r) {
      for (uint32_t t = 0; t < kN; ++t) {
        const size_t cell = size_t{r * kTileColumns + t0 + t} * kLanes + lane.first();
        const auto sum = first_tile ? lane.zero() : lane.load(acc, cell);
        lane.store(acc, cell, sum + d[r][t]);
      }
    }
  }

  // Group id's rows of A (its chunk's rows inside T), its first k element and its first g, β
  // and A row element (row-major [B, T, H]).
  HWY_INLINE uint32_t Rows(const Dim3& id) const { return std::min(kBT, a.T - id.y * kBT); }
  HWY_INLINE const bf16* KeyChunk(const Dim3& id) const {
    const uint32_t key_head = id.x / (a.H / a.Hg);
    return a.k + ((size_t{id.z} * a.T + size_t{id.y} * kBT) * a.Hg + key_head) * a.K;
  }
  HWY_INLINE size_t GateBase(const Dim3& id) const {
    return (size_t{id.z} * a.T + size_t{id.y} * kBT) * a.H + id.x;
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_KKT_INL_H_
