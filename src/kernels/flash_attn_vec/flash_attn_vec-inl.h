// The flash_attn_vec functors (docs/spec/flash_attn_vec.md): the vector kernel (NWG = 1 and
// NWG = 32) and the NWG = 32 reduce kernel.
//
// Vector kernel. A group of 32 lanes (one simdgroup) computes every query head that shares one
// kv head (up to kFlashAttnVecHeadsPerGroup of them), so that K and V are read once for all,
// for a set of consecutive workgroups of the NWG split (one for NWG = 1); each (head,
// workgroup) keeps its own state (S, M, O) and the spec's arithmetic. Stage q̃ = f16(Q) and
// O = 0, walk the blocks of the group's workgroups in increasing order skipping those whose 32
// positions are all masked, then store. Per block, section 4 for every head:
//   1. Q·K: lane l's partial over its dims (dot4 per 4-dim chunk, chunks ascending), for the
//      32 positions; one multi-value simd_sum_rows per head hands position c's canonical sum
//      to lane c.
//   2. Score: lane c, s_c = fma(qk_c, scale, m_c).
//   3. Online softmax: simd_max, weights exp(s_c − M), simd_sum.
//   4. P·V: per owned dim, positions ascending, after O is rescaled.
// Heads go in tiles of 4, 2, 1 so that a K chunk, once widened, and a V vector, once loaded,
// serve several heads.
//
// Reduce kernel. One group of 1024 lanes per head (lane w of each simdgroup ↔ workgroup w):
// plain lane bodies and simdgroup collectives.
//
// Per-target header: include it inside a foreach_target pass (see flash_attn_vec.cc).

// ---- target-independent part -------------------------------------------------------------
#ifndef TGK_KERNELS_FLASH_ATTN_VEC_COMMON_H_
#define TGK_KERNELS_FLASH_ATTN_VEC_COMMON_H_

#include <algorithm>
#include <cfloat>
#include <cstdint>

#include "kernels/flash_attn_vec/flash_attn_vec.h"
#include "kernels/flash_attn_vec/flash_attn_vec_launch.h"
#include "tgk/dtype.h"
#include "tgk/prefetch.h"

namespace tgk {

struct FlashAttnVecArgs {
  const float* q;
  const f16* k;
  const f16* v;
  float* out;  // NWG = 1: the output; NWG = 32: tmp
  uint32_t num_heads, num_kv_heads, head_dim, kv_seq_len, kv_capacity;
  float scale;
  uint32_t mask_type, sliding_window, ring_start;
  uint32_t workgroups_per_group;  // divides NWG (1 for NWG = 1)
};

struct FlashAttnVecReduceArgs {
  const float* tmp;
  float* out;
  uint32_t rows;  // num_heads
  uint32_t head_dim;
};

namespace fav {

inline constexpr uint32_t kBlock = kFlashAttnVecBlock;
inline constexpr uint32_t kMaxHeads = kFlashAttnVecHeadsPerGroup;
inline constexpr float kMaskedScore = -65504.0f;    // −(max half), the masked f16 value
inline constexpr float kInitialMax = -FLT_MAX / 2;  // bits 0xFEFFFFFF

// Visibility of one block's positions (spec 2.1) as the f16 mask value each lane writes.
struct BlockMask {
  float value[kBlock];
  uint32_t rows;  // positions below kv_seq_len: the only rows tgk reads
  bool any_visible;
};

inline BlockMask MaskBlock(const FlashAttnVecArgs& a, uint32_t first) {
  const uint32_t n = a.kv_seq_len;
  const uint32_t cap = a.kv_capacity;
  const uint32_t window_start =
      (a.mask_type == 2 && a.sliding_window > 0 && n > a.sliding_window) ? n - a.sliding_window : 0;
  BlockMask m;
  m.rows = std::min(kBlock, n - first);
  m.any_visible = false;
  // L = (p − ring_start + cap) mod cap in u32: one division per block, then L steps by one
  // per slot, unless the u32 sum wraps inside the block.
  const uint32_t t0 = first - a.ring_start + cap;
  const bool stepwise = t0 <= UINT32_MAX - (kBlock - 1);
  uint32_t logical = t0 % cap;
  if (stepwise && m.rows == kBlock && cap >= kBlock && logical <= cap - kBlock &&
      logical >= window_start && logical + kBlock <= n) {  // L = logical + c, all visible
    std::fill(m.value, m.value + kBlock, 0.0f);
    m.any_visible = true;
    return m;
  }
  for (uint32_t c = 0; c < kBlock; ++c) {
    bool visible = false;
    if (c < m.rows) {
      const uint32_t l = stepwise ? logical : (t0 + c) % cap;
      visible = l < n && l >= window_start;
    }
    if (++logical == cap) logical = 0;
    m.value[c] = visible ? 0.0f : kMaskedScore;
    m.any_visible = m.any_visible || visible;
  }
  return m;
}

}  // namespace fav
}  // namespace tgk

#endif  // TGK_KERNELS_FLASH_ATTN_VEC_COMMON_H_

// ---- per-target part -----------------------------------------------------------------------
#if defined(TGK_KERNELS_FLASH_ATTN_VEC_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_FLASH_ATTN_VEC_INL_H_
#undef TGK_KERNELS_FLASH_ATTN_VEC_INL_H_
#else
#define TGK_KERNELS_FLASH_ATTN_VEC_INL_H_
#endif

#include <hwy/highway.h>

#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace fav {

using tgk::fav::BlockMask;
using tgk::fav::kBlock;
using tgk::fav::kMaxHeads;

// The query heads of one group, and its kv head's rows.
struct GroupHeads {
  uint32_t first;  // first query head
  uint32_t count;
  const f16* k;  // row 0 of the kv head in K
  const f16* v;
};

// Lane l owns the head dims 128j + 4l + e (e < 4); a pack of W lanes from lane f owns
// 128j + 4f + [0, 4W), the same dims as its lanes together. `f` gets the first dim of each
// run of W consecutive owned dims (for the scalar lane: each owned dim), kDim/32 runs.
template <class Lane, class F>
HWY_INLINE void ForOwnedDims(const Lane& lane, uint32_t dim, const F& f) {
  for (uint32_t j = 0; j < dim; j += 128) {
    for (uint32_t k = 0; k < 4; ++k) f(j + 4 * lane.first() + k * Lane::kWidth);
  }
}

// Rows to prefetch into L2 (Reuse::kSoon) while other rows are computed on: a hint only (no
// fault, no value, no effect on any result). Not into L1: the same hints into L1 streamed 12-18%
// slower on Zen 4, and on the lent Xeon slower in 10 of 12 comparisons (3 sets of alternating
// runs, 2 and 16 threads, NWG 1 and 32; medians 3-21% slower; perf/RESULTS.md).
struct AheadRows {
  const f16* rows = nullptr;
  uint32_t count = 0;

  // Called by every pack for each row c of the block it works on: the run's lines go out in
  // address order, spread evenly over those (pack, c) calls. The packs run one after the other,
  // each over all the block's rows reading only its own dims; had each asked for the lines it
  // reads, the memory would see every row's lines in two or more passes. In address order the Xeon
  // streamed up to 14% faster at 2 and 16 threads (perf/RESULTS.md).
  template <uint32_t kDim, class Lane>
  HWY_INLINE void Prefetch(const Lane& lane, uint32_t c) const {
    static_assert(Lane::kWidth <= kFlashAttnVecGroupSize);
    constexpr uint32_t kLine = 64 / sizeof(f16);
    constexpr uint32_t kCalls = kBlock * (kFlashAttnVecGroupSize / Lane::kWidth);
    const uint32_t call = lane.first() / Lane::kWidth * kBlock + c;
    const uint64_t lines = uint64_t{count} * (kDim / kLine);
    const uint32_t first = uint32_t(lines * call / kCalls);
    const uint32_t last = uint32_t(lines * (call + 1) / kCalls);
    for (uint32_t i = first; i < last; ++i) PrefetchRead<Reuse::kSoon>(rows + size_t{i} * kLine);
  }
};

// ===========================================================================================
// The vector kernel
// ===========================================================================================
//
// Arenas (flash_attn_vec_launch.h, for `heads` = heads per group): O, f32 [workgroups per
// group][heads][head_dim]; scores, then weights, f32 [heads][32]; q̃ by lane, f32
// [heads][head_dim/128][4][32] (element e of lane l's 4-dim run in chunk j; a fixed stride of
// 32 lanes keeps the index arithmetic out of the Q·K loop).
// Memory: step 1, reading a block's K rows, prefetches the V rows of the group's next block, and
// step 4, reading the V rows, the K rows of the block after that (the group's own blocks: with
// NWG = 32 the next block of the cache may be another group's): both streams then flow a block
// ahead through the compute in between, the rows' lines in address order (AheadRows).
template <uint32_t kNwg>
struct VecKernel {
  FlashAttnVecArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    switch (a.head_dim) {
      case 128:
        return Run<128>(g);
      case 256:
        return Run<256>(g);
      default:
        return Run<512>(g);
    }
  }

 private:
  template <uint32_t kDim, class Group>
  HWY_INLINE void Run(Group& g) const {
    constexpr uint32_t kChunks = kDim / 128;
    const Dim3 id = g.group_id();  // (head tile, kv head, workgroup set)
    const uint32_t ratio = a.num_heads / a.num_kv_heads;
    const uint32_t tile_first = id.x * kMaxHeads;
    const size_t kv_offset = size_t{id.y} * a.kv_capacity * kDim;
    const GroupHeads heads{id.y * ratio + tile_first, std::min(kMaxHeads, ratio - tile_first),
                           a.k + kv_offset, a.v + kv_offset};
    // Workgroups [w0, w0 + wpg), each with its own (S, M, O) per head.
    const uint32_t wpg = a.workgroups_per_group;
    const uint32_t w0 = id.z * wpg;
    const uint32_t state = heads.count * kDim;  // O floats of one workgroup

    auto o = g.template arena<float>(kFlashAttnVecArenaO);
    auto q = g.template arena<float>(kFlashAttnVecArenaQ);
    // Slot r·32 + c: the lane's Q·K partial of head r at position c.
    auto partial = g.template lane_state<float, kMaxHeads * kBlock>(heads.count * kBlock);
    auto qk = g.template lane_state<float, kMaxHeads>(heads.count);       // lane c: qk_c
    auto reduced = g.template lane_state<float, kMaxHeads>(heads.count);  // simd_max / simd_sum

    // Stage q̃ = f16(Q) (rounded once) and O = 0; lane l handles its dims.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t r = 0; r < heads.count; ++r) {
        const float* q_row = a.q + size_t{heads.first + r} * kDim;
        for (uint32_t j = 0; j < kChunks; ++j) {
          typename decltype(lane)::VF e[4];
          lane.load_deinterleaved4(q_row + 128 * j + 4 * lane.first(), e);
          for (uint32_t i = 0; i < 4; ++i) {
            lane.store(q, ((r * kChunks + j) * 4 + i) * kSimdWidth + lane.first(), RoundF16(e[i]));
          }
        }
        ForOwnedDims(lane, kDim, [&](uint32_t d) HWY_ATTR {
          for (uint32_t w = 0; w < wpg; ++w) lane.store(o, w * state + r * kDim + d, lane.zero());
        });
      }
    });
    g.barrier();

    float S[kNwg][kMaxHeads], M[kNwg][kMaxHeads];
    std::fill(&S[0][0], &S[0][0] + kNwg * kMaxHeads, 0.0f);
    std::fill(&M[0][0], &M[0][0] + kNwg * kMaxHeads, tgk::fav::kInitialMax);
    // Block bi belongs to workgroup bi mod NWG; each workgroup's blocks in increasing order,
    // the group's workgroups interleaved (their states are independent), so that the group
    // reads runs of wpg consecutive blocks.
    const uint64_t n = a.kv_seq_len;
    const auto next_block = [&](uint64_t bi) {
      return bi % kNwg + 1 < w0 + wpg ? bi + 1 : bi + (kNwg - wpg) + 1;
    };
    for (uint64_t bi = w0; bi * kBlock < n; bi = next_block(bi)) {
      const uint32_t first = uint32_t(bi * kBlock);
      const BlockMask mask = tgk::fav::MaskBlock(a, first);
      if (!mask.any_visible) continue;  // all 32 positions masked: skipped, nothing read
      const uint32_t w = uint32_t(bi % kNwg) - w0;
      float* S_w = S[w];
      float* M_w = M[w];
      const uint64_t next = next_block(bi);
      const AheadRows v_ahead = RowsAt<kDim>(heads.v, next * kBlock);
      const AheadRows k_ahead = RowsAt<kDim>(heads.k, next_block(next) * kBlock);

      // 1. Q·K partials, then one multi-value sum per head. A position past kv_seq_len is not
      //    read: its partials are +0, so qk = +0.
      g.for_each_lane([&](auto lane) HWY_ATTR {
        // Copies the loop can keep in registers: vector stores may alias any memory.
        const uint32_t count = heads.count;
        const uint32_t rows = mask.rows;
        const auto q_lanes = q;
        const auto partials = partial;
        const AheadRows ahead = v_ahead;
        const f16* keys = heads.k + size_t{first} * kDim + 4 * lane.first();
        for (uint32_t c = 0; c < kBlock; ++c) {
          if (c >= rows) {
            for (uint32_t r = 0; r < count; ++r) lane.store(partials, r * kBlock + c, lane.zero());
            continue;
          }
          ahead.Prefetch<kDim>(lane, c);
          const f16* key = keys + size_t{c} * kDim;
          uint32_t r = 0;
          for (; r + 4 <= count; r += 4) Partials<kChunks, 4>(lane, key, q_lanes, r, partials, c);
          for (; r + 2 <= count; r += 2) Partials<kChunks, 2>(lane, key, q_lanes, r, partials, c);
          for (; r < count; ++r) Partials<kChunks, 1>(lane, key, q_lanes, r, partials, c);
        }
      });
      for (uint32_t r = 0; r < heads.count; ++r) g.simd_sum_rows(partial, r * kBlock, qk, r);

      // 2. Score: lane c, s_c = fma(qk_c, scale, m_c).
      auto scores = g.template arena<float>(kFlashAttnVecArenaScores);
      g.for_each_lane([&](auto lane) HWY_ATTR {
        const auto m = lane.load(mask.value + lane.first());
        for (uint32_t r = 0; r < heads.count; ++r) {
          const auto s = Fma(lane.load(qk, r), lane.splat(a.scale), m);
          lane.store(scores, r * kBlock + lane.first(), s);
          lane.store(reduced, r, s);
        }
      });
      g.barrier();

      // 3. Online softmax; the weights replace the scores.
      float ms[kMaxHeads];
      for (uint32_t r = 0; r < heads.count; ++r) {
        g.simd_max(reduced, r);
        const float m_old = M_w[r];
        M_w[r] = Max(m_old, reduced.row(r)[0]);
        ms[r] = Exp(m_old - M_w[r]);
      }
      g.for_each_lane([&](auto lane) HWY_ATTR {
        for (uint32_t r = 0; r < heads.count; ++r) {
          const size_t i = r * kBlock + lane.first();
          const auto weight = Exp(lane.load(scores, i) - lane.splat(M_w[r]));
          lane.store(scores, i, weight);
          lane.store(reduced, r, weight);
        }
      });
      for (uint32_t r = 0; r < heads.count; ++r) {
        g.simd_sum(reduced, r);
        S_w[r] = S_w[r] * ms[r] + reduced.row(r)[0];
      }
      g.barrier();

      // 4. P·V for the owned dims, heads in tiles of 4, 2, 1.
      const f16* v = heads.v + size_t{first} * kDim;
      const size_t o_offset = size_t{w} * state;
      g.for_each_lane([&](auto lane) HWY_ATTR {
        const uint32_t count = heads.count;
        const uint32_t rows = mask.rows;
        const auto o_lanes = o;
        const auto weights = scores;
        const AheadRows ahead = k_ahead;
        uint32_t r = 0;
        for (; r + 4 <= count; r += 4) {
          Accumulate<kDim, 4>(lane, o_lanes, weights, r, v, rows, ms, o_offset,
                              r == 0 ? ahead : AheadRows{});
        }
        for (; r + 2 <= count; r += 2) {
          Accumulate<kDim, 2>(lane, o_lanes, weights, r, v, rows, ms, o_offset,
                              r == 0 ? ahead : AheadRows{});
        }
        for (; r < count; ++r) {
          Accumulate<kDim, 1>(lane, o_lanes, weights, r, v, rows, ms, o_offset,
                              r == 0 ? ahead : AheadRows{});
        }
      });
      g.barrier();
    }

    if constexpr (kNwg == 1) {
      float inv[kMaxHeads];
      for (uint32_t r = 0; r < heads.count; ++r) {
        inv[r] = S[0][r] == 0.0f ? 0.0f : 1.0f / S[0][r];
      }
      g.for_each_lane([&](auto lane) HWY_ATTR {
        for (uint32_t r = 0; r < heads.count; ++r) {
          float* out = a.out + size_t{heads.first + r} * kDim;
          ForOwnedDims(lane, kDim, [&](uint32_t d) HWY_ATTR {
            lane.store(out + d, lane.load(o, r * kDim + d) * lane.splat(inv[r]));
          });
        }
      });
    } else {
      // tmp: partials [rows][dim/4][NWG][4], then (S, M) pairs [rows][NWG][2].
      const size_t rows = a.num_heads;
      for (uint32_t r = 0; r < heads.count; ++r) {
        const size_t h = heads.first + r;
        for (uint32_t i = 0; i < kDim / 4; ++i) {
          float* chunk = a.out + ((h * (kDim / 4) + i) * kNwg + w0) * 4;
          for (uint32_t w = 0; w < wpg; ++w) {
            for (uint32_t e = 0; e < 4; ++e) chunk[4 * w + e] = o[w * state + r * kDim + 4 * i + e];
          }
        }
        float* sm = a.out + rows * kDim * kNwg + h * 2 * kNwg + 2 * w0;
        for (uint32_t w = 0; w < wpg; ++w) {
          sm[2 * w] = S[w][r];
          sm[2 * w + 1] = M[w][r];
        }
      }
    }
  }

  // Heads [r0, r0 + kHeads), position c: the lane's partial ((0 + dot4_0) + dot4_1) + ... over
  // its chunks, into `partial`. dot4 = ((k0·q0 + k1·q1) + k2·q2) + k3·q3 is a product and three
  // Fma: products of f16 values are exact in f32, so each Fma rounds as the unfused add would.
  template <uint32_t kChunks, uint32_t kHeads, class Lane, class Q, class P>
  static HWY_INLINE void Partials(const Lane& lane, const f16* key, const Q q, uint32_t r0,
                                  const P partial, uint32_t c) {
    using VF = typename Lane::VF;
    VF part[kHeads];
    for (uint32_t h = 0; h < kHeads; ++h) part[h] = lane.zero();
    for (uint32_t j = 0; j < kChunks; ++j) {
      VF k[4];
      lane.load_deinterleaved4(key + 128 * j, k);
      for (uint32_t h = 0; h < kHeads; ++h) {
        const size_t i = ((r0 + h) * kChunks + j) * 4 * kSimdWidth + lane.first();
        VF dot = k[0] * lane.load(q, i);
        dot = Fma(k[1], lane.load(q, i + kSimdWidth), dot);
        dot = Fma(k[2], lane.load(q, i + 2 * kSimdWidth), dot);
        dot = Fma(k[3], lane.load(q, i + 3 * kSimdWidth), dot);
        part[h] = part[h] + dot;
      }
    }
    for (uint32_t h = 0; h < kHeads; ++h) lane.store(partial, (r0 + h) * kBlock + c, part[h]);
  }

  // O = O·ms + Σ_c V[c]·w_c over the lane's owned dims for heads [r0, r0 + kHeads): a register
  // tile of kHeads × kTile runs per pass over the block's rows, as wide as the registers allow,
  // since each extra pass reads the rows in strided pieces that the prefetchers follow poorly.
  // Prefetches `ahead` on the way.
  template <uint32_t kDim, uint32_t kHeads, class Lane, class O, class W>
  static HWY_INLINE void Accumulate(const Lane& lane, const O o, const W weights, uint32_t r0,
                                    const f16* v, uint32_t rows, const float* ms, size_t o_offset,
                                    const AheadRows& ahead) {
    using VF = typename Lane::VF;
    constexpr uint32_t kRuns = kDim / 32;
    constexpr uint32_t kTile = std::min(kRuns, 32 / kHeads);
    uint32_t dims[kRuns];
    uint32_t runs = 0;
    ForOwnedDims(lane, kDim, [&](uint32_t d) HWY_ATTR { dims[runs++] = d; });
    for (uint32_t t0 = 0; t0 < kRuns; t0 += kTile) {
      VF lo[kHeads][kTile];
      for (uint32_t h = 0; h < kHeads; ++h) {
        for (uint32_t t = 0; t < kTile; ++t) lo[h][t] = lane.zero();
      }
      for (uint32_t c = 0; c < rows; ++c) {
        if (t0 == 0) ahead.Prefetch<kDim>(lane, c);
        const f16* row = v + size_t{c} * kDim;
        VF values[kTile];
        for (uint32_t t = 0; t < kTile; ++t) values[t] = lane.load(row + dims[t0 + t]);
        for (uint32_t h = 0; h < kHeads; ++h) {
          const VF w = lane.splat(float(weights[(r0 + h) * kBlock + c]));
          for (uint32_t t = 0; t < kTile; ++t) lo[h][t] = lo[h][t] + values[t] * w;
        }
      }
      for (uint32_t h = 0; h < kHeads; ++h) {
        const VF scale = lane.splat(ms[r0 + h]);
        for (uint32_t t = 0; t < kTile; ++t) {
          const size_t i = o_offset + size_t{r0 + h} * kDim + dims[t0 + t];
          const VF rescaled = lane.load(o, i) * scale;
          lane.store(o, i, rescaled + lo[h][t]);
        }
      }
    }
  }

  // The rows of `base` (a kv head's K or V) from `position` to the end of its block, below
  // kv_seq_len (none past it).
  template <uint32_t kDim>
  AheadRows RowsAt(const f16* base, uint64_t position) const {
    if (position >= a.kv_seq_len) return AheadRows{};
    return AheadRows{base + position * kDim,
                     uint32_t(std::min<uint64_t>(kBlock, a.kv_seq_len - position))};
  }
};

// ===========================================================================================
// The reduce kernel (NWG = 32)
// ===========================================================================================
struct ReduceKernel {
  static constexpr uint32_t kNwg = kFlashAttnVecNwg;
  FlashAttnVecReduceArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t h = g.group_id().x;
    const uint32_t dim = a.head_dim;
    const float* partials = a.tmp + size_t{h} * dim * kNwg;
    const float* sm = a.tmp + size_t{a.rows} * dim * kNwg + size_t{h} * 2 * kNwg;
    auto m = g.template lane_state<float, 1>();
    auto ms = g.template lane_state<float, 1>();
    auto sum = g.template lane_state<float, 1>();
    auto v = g.template lane_state<float, 4>();

    // Lane w of every simdgroup reads workgroup w's M; m = max_w M_w.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t w = lane.first() % kNwg;
      lane.store(m, 0, lane.load_strided(sm + 2 * w + 1, 2, lane.count()));
    });
    g.simd_max(m);
    // ms_w = exp(M_w − m); S = Σ_w S_w·ms_w.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const uint32_t w = lane.first() % kNwg;
      const auto scale = Exp(lane.load_strided(sm + 2 * w + 1, 2, lane.count()) - lane.load(m, 0));
      lane.store(ms, 0, scale);
      lane.store(sum, 0, lane.load_strided(sm + 2 * w, 2, lane.count()) * scale);
    });
    g.simd_sum(sum);

    // Simdgroup s combines the float4 chunks i = s, s + 32, ...: v[e] = Σ_w P_w[i][e]·ms_w.
    for (uint32_t i0 = 0; i0 < dim / 4; i0 += kNwg) {
      g.for_each_lane([&](auto lane) HWY_ATTR {
        const uint32_t s = lane.first() / kSimdWidth;
        const uint32_t w = lane.first() % kNwg;
        const float* p = partials + (size_t{i0 + s} * kNwg + w) * 4;
        for (uint32_t e = 0; e < 4; ++e) {
          lane.store(v, e, lane.load_strided(p + e, 4, lane.count()) * lane.load(ms, 0));
        }
      });
      for (uint32_t e = 0; e < 4; ++e) g.simd_sum(v, e);
      for (uint32_t s = 0; s < g.simdgroups(); ++s) {
        const float total = sum.row(0)[s * kSimdWidth];
        const float inv = total == 0.0f ? 0.0f : 1.0f / total;
        for (uint32_t e = 0; e < 4; ++e) {
          a.out[size_t{h} * dim + 4 * (i0 + s) + e] = v.row(e)[s * kSimdWidth] * inv;
        }
      }
    }
  }
};

}  // namespace fav
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_FLASH_ATTN_VEC_INL_H_
