// The kkt functor (docs/spec/kkt.md sections 3 and 4), one source for the scalar
// oracle and every Highway target.
//
// Structure, as on the GPU: 256 lanes per (chunk, head, batch) group; for each 64-wide tile q
// of K, one phase stages the tile in threadgroup arenas (k·β rounded, and k transposed in
// registers on the way), one adds the tile's dot products into each lane's cells; the last
// tile's dot phase goes on to the gate, mask and store while the sums are in registers.
// Per cell the arithmetic is exactly the spec's: kb = bf16(k_i[c]·β_i) (one f32 multiply, one
// rounding), d = Σ_c kb·k_j[c] from +0 in ascending c, acc = acc + d per tile in order,
// v = acc·exp(g_i − g_j), stored where i > j. The dot uses Fma: the products of two bf16
// values are exact in f32, so the fused and the unfused sum agree except for a product below
// 2^-126 (gradual underflow), where tgk's result is the fused one on every path.
//
// What differs from the Metal kernel, none of it visible in the output:
//   - Arenas (tgk sizes them at dispatch): 0 `kb` f32 [64][64], the rounded k·β tile widened
//     (exactly); 1 `kt` f32 [64][64], the k tile transposed ([c][j]) so that a lane pack reads
//     consecutive j at once; 2 `chunk` f32 [2][64], g then β of the chunk's rows. Metal keeps
//     kb as bf16 and reads k and β/g from device memory.
//   - Cell ownership: lane l owns column j = l % 64 and rows 16·(l / 64) .. +15 (Metal:
//     rows l / 64 + 4r). Between tiles the accumulators live in arena 3 as [row r][lane],
//     each lane's own.
//   - Sub-tiles whose every cell is masked (above the diagonal, or past T) are not computed:
//     they are stored as +0 as the mask demands.

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
#include "tgk/rows-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct KktKernel {
  static constexpr uint32_t kLanes = kKktGroupSize;
  static constexpr uint32_t kBT = kKktChunk;
  static constexpr uint32_t kBK = kKktTile;
  static constexpr uint32_t kRowsPerLane = kBT * kBT / kLanes;  // 16

  KktArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    // tgk's grid is (H, ceil(T/64), B), heads fastest, so that consecutive groups on a thread
    // share the cache lines of g, β and A rows; the Metal grid is (ceil(T/64), H, B).
    const Dim3 id = g.group_id();
    const uint32_t h = id.x;
    const uint32_t t0 = id.y * kBT;
    const uint32_t valid = std::min(kBT, a.T - t0);  // rows of this chunk inside T
    const uint32_t key_head = h / (a.H / a.Hg);
    const size_t k_row_stride = size_t{a.Hg} * a.K;
    const bf16* k_chunk = a.k + ((size_t{id.z} * a.T + t0) * a.Hg + key_head) * a.K;
    const size_t gate_base = (size_t{id.z} * a.T + t0) * a.H + h;

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

    const uint32_t tiles = a.K / kBK;
    float* a_chunk = a.A + gate_base * kBT;
    for (uint32_t tile = 0; tile < tiles; ++tile) {
      // Phase: stage the tile. A pack owns kWidth consecutive columns c0.. of the 16 rows
      // 16·(l / 64) + 0..15 (the cells its lanes also own in the dot): it reads each row once
      // from k, stores the rounded k·β row into kb and, after transposing kWidth × kWidth
      // blocks in registers, the same keys as columns of kt. The keys widen without quieting
      // a signalling NaN (LoadBF16Bits): both uses are arithmetic, which quiets it.
      const bf16* tile_keys = k_chunk + size_t{tile} * kBK;
      g.for_each_lane([&](auto lane) HWY_ATTR {
        using L = decltype(lane);
        constexpr uint32_t kWidth = L::kWidth;
        const uint32_t c0 = lane.first() % kBK;
        const uint32_t row0 = kRowsPerLane * (lane.first() / kBK);
        for (uint32_t rb = row0; rb < row0 + kRowsPerLane; rb += kWidth) {
          typename L::VF block[kWidth];
          for (uint32_t k = 0; k < kWidth; ++k) {
            const uint32_t row = rb + k;
            block[k] = lane.zero();
            auto scaled = lane.zero();
            if (row < valid) {
              block[k] = LoadBF16Bits(lane, tile_keys + row * k_row_stride + c0, kWidth);
              scaled = RoundBF16(block[k] * lane.splat(float(chunk[kBT + row])));
            }
            lane.store(kb, size_t{row} * kBK + c0, scaled);
          }
          lane.transpose(block);
          for (uint32_t k = 0; k < kWidth; ++k) lane.store(kt, size_t{c0 + k} * kBT + rb, block[k]);
        }
      });
      g.barrier();

      // Phase: each lane adds this tile's dot products into its cells; after the last tile,
      // the gate, the strict-lower mask and the store of the rows inside T, straight from
      // the registers that hold the sums.
      const bool last = tile + 1 == tiles;
      g.for_each_lane([&](auto lane) HWY_ATTR {
        using L = decltype(lane);
        constexpr uint32_t kPass = L::kWidth >= 16 ? 16 : 8;  // rows per register block
        const uint32_t j0 = lane.first() % kBT;
        const uint32_t row0 = kRowsPerLane * (lane.first() / kBT);
        for (uint32_t pass = 0; pass < kRowsPerLane; pass += kPass) {
          const uint32_t first_row = row0 + pass;
          if (first_row >= valid) break;
          typename L::VF d[kPass];
          for (uint32_t r = 0; r < kPass; ++r) d[r] = lane.zero();
          const bool masked = first_row + kPass - 1 <= j0;  // every cell above the diagonal
          if (!masked) {
            // size_t indices let the compiler address the kPass rows of kb from one register.
            const size_t kb_row = size_t{first_row} * kBK;
            for (size_t c = 0; c < kBK; ++c) {
              const auto key = lane.load(kt, c * kBT + j0);
              for (size_t r = 0; r < kPass; ++r) {
                d[r] = Fma(lane.splat(float(kb[kb_row + r * kBK + c])), key, d[r]);
              }
            }
            for (uint32_t r = 0; r < kPass; ++r) {
              const size_t cell = size_t{pass + r} * kLanes + lane.first();
              d[r] = (tile == 0 ? lane.zero() : lane.load(acc, cell)) + d[r];
              if (!last) lane.store(acc, cell, d[r]);
            }
          }
          if (!last) continue;
          const auto j = lane.id() - lane.splat(lane.first() - j0);  // id % 64
          const auto g_j = lane.load(chunk, j0);
          for (uint32_t r = 0; r < kPass; ++r) {
            const uint32_t i = first_row + r;
            if (i >= valid) break;
            auto v = lane.zero();
            if (i > j0) {
              const auto gate = Exp(lane.splat(float(chunk[i])) - g_j);
              v = Select(j < lane.splat(i), d[r] * gate, lane.zero());
            }
            lane.store(a_chunk + size_t{i} * a.H * kBT + j0, v);
          }
        }
      });
      g.barrier();
    }
  }
};

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_KKT_INL_H_
