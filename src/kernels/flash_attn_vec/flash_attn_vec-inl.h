// The flash_attn_vec functors (docs/spec/flash_attn_vec.md): the vector kernel (NWG = 1 and
// NWG = 32) and the NWG = 32 reduce kernel.
//
// Vector kernel. A group of 32 lanes (one simdgroup) computes every query head that shares one
// kv head (up to kFlashAttnVecHeadsPerGroup of them), so that K and V are read once for all,
// for a set of consecutive workgroups of the NWG split (one for NWG = 1); each (head,
// workgroup) keeps its own state (S, M, O) and the spec's arithmetic. The skeleton is shared:
// stage q̃ = f16(Q) and O = 0, walk the blocks of the group's workgroups in increasing order
// skipping those whose 32 positions are all masked, then store. The per-block steps come in
// two versions with the same results:
//   OracleBlocks (ScalarGroup): section 4 as written, lane by lane: lane l's Q·K partial over
//     its dims, the canonical simd_sum per position, scores, simd_max, weights, P·V per dim.
//   SimdBlocks (Highway targets): the same sums reorganised for vectors (see there).
//
// Reduce kernel. One group of 1024 lanes per head (lane w of each simdgroup ↔ workgroup w),
// shared by every instantiation: plain lane bodies and simdgroup collectives.
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
inline constexpr uint32_t kMaxLanes = kFlashAttnVecMaxLanes;
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

constexpr uint32_t BitReverse(uint32_t v, uint32_t bits) {
  uint32_t r = 0;
  for (uint32_t i = 0; i < bits; ++i) r = (r << 1) | ((v >> i) & 1u);
  return r;
}

constexpr uint32_t Log2(uint32_t n) { return n <= 1 ? 0 : 1 + Log2(n / 2); }

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

#include <type_traits>

#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace fav {

using tgk::fav::BlockMask;
using tgk::fav::kBlock;
using tgk::fav::kMaxHeads;
using tgk::fav::kMaxLanes;

// The query heads of one group, and its kv head's rows.
struct GroupHeads {
  uint32_t first;  // first query head
  uint32_t count;
  const f16* k;  // row 0 of the kv head in K
  const f16* v;
};

// Arenas of the vector kernel (sizes from the host, for `heads` = heads per group):
//   0: q̃, f16 [heads][head_dim]        1: O, f32 [workgroups per group][heads][head_dim]
//   2: scores, then weights, f32 [heads][32]
//   3: SimdBlocks only: q̃ de-interleaved, f32 [heads][head_dim], then lane partials,
//      f32 [heads][N][N] (N <= 16 lanes)
// Lane l owns the head dims 128j + 4l + e (e < 4); a pack of W lanes from lane f owns
// 128j + 4f + [0, 4W), the same dims as its lanes together. `f` gets the first dim of each
// run of W consecutive owned dims (for the scalar lane: each owned dim).
template <class Lane, class F>
HWY_INLINE void ForOwnedDims(const Lane& lane, uint32_t dim, const F& f) {
  for (uint32_t j = 0; j < dim; j += 128) {
    for (uint32_t k = 0; k < 4; ++k) f(j + 4 * lane.first() + k * Lane::kWidth);
  }
}

// ===========================================================================================
// The oracle: section 4, lane by lane, for each head.
// ===========================================================================================
class OracleBlocks {
 public:
  OracleBlocks(ScalarGroup& g, const FlashAttnVecArgs& a, const GroupHeads& heads)
      : g_(g),
        a_(a),
        heads_(heads),
        partial_(g.lane_state<float, kBlock>()),
        reduced_(g.lane_state<float, 1>()) {}

  // One block for every head: O at `o_offset` in arena 1 (the workgroup's state), S and M.
  void Run(uint32_t first, const BlockMask& mask, size_t o_offset, float* S, float* M) {
    for (uint32_t r = 0; r < heads_.count; ++r) RunHead(r, first, mask, o_offset, S[r], M[r]);
  }

 private:
  void RunHead(uint32_t r, uint32_t first, const BlockMask& mask, size_t o_offset, float& S,
               float& M) {
    const uint32_t dim = a_.head_dim;
    auto q = g_.arena<f16>(kFlashAttnVecArenaQ16);
    auto o = g_.arena<float>(kFlashAttnVecArenaO);
    auto scores = g_.arena<float>(kFlashAttnVecArenaScores);

    // 1. Q·K: lane l sums its dims' products, dot4 per 4-dim chunk, chunks ascending; the
    //    canonical tree adds the 32 partials. A position past kv_seq_len is not read: qk = +0.
    g_.for_each_lane([&](ScalarLane lane) HWY_ATTR {
      const uint32_t l = lane.id();
      for (uint32_t c = 0; c < kBlock; ++c) {
        float part = 0.0f;
        if (c < mask.rows) {
          const f16* key = heads_.k + (size_t{first} + c) * dim;
          for (uint32_t j = 0; j < dim; j += 128) {
            const uint32_t d = j + 4 * l;
            float p[4];
            for (uint32_t e = 0; e < 4; ++e) {
              p[e] = F32FromF16(key[d + e]) * lane.load(q, r * dim + d + e);
            }
            part = part + (((p[0] + p[1]) + p[2]) + p[3]);
          }
        }
        lane.store(partial_, c, part);
      }
    });
    for (uint32_t c = 0; c < kBlock; ++c) g_.simd_sum(partial_, c);

    // 2. Score: lane c, s_c = fma(qk_c, scale, m_c).
    g_.for_each_lane([&](ScalarLane lane) HWY_ATTR {
      const uint32_t c = lane.id();
      const float s = Fma(lane.load(partial_, c), a_.scale, mask.value[c]);
      scores[r * kBlock + c] = s;
      lane.store(reduced_, 0, s);
    });
    g_.barrier();

    // 3. Online softmax.
    g_.simd_max(reduced_);
    const float m_old = M;
    M = Max(m_old, reduced_.row(0)[0]);
    const float ms = Exp(m_old - M);
    g_.for_each_lane([&](ScalarLane lane) HWY_ATTR {
      const uint32_t c = lane.id();
      const float v = Exp(scores[r * kBlock + c] - M);
      scores[r * kBlock + c] = v;
      lane.store(reduced_, 0, v);
    });
    g_.simd_sum(reduced_);
    S = S * ms + reduced_.row(0)[0];
    g_.barrier();

    // 4. P·V: per owned dim, lo over the block's positions in order (rows past kv_seq_len are
    //    not read and add nothing), after O is rescaled.
    g_.for_each_lane([&](ScalarLane lane) HWY_ATTR {
      ForOwnedDims(lane, dim, [&](uint32_t d) HWY_ATTR {
        float lo = 0.0f;
        for (uint32_t c = 0; c < mask.rows; ++c) {
          const f16 value = heads_.v[(size_t{first} + c) * dim + d];
          lo = lo + F32FromF16(value) * scores[r * kBlock + c];
        }
        const size_t i = o_offset + r * dim + d;
        const float rescaled = o[i] * ms;
        o[i] = rescaled + lo;
      });
    });
    g_.barrier();
  }

  ScalarGroup& g_;
  const FlashAttnVecArgs& a_;
  const GroupHeads& heads_;
  LaneState<float, kBlock> partial_;  // row c: each lane's Q·K partial for position c
  LaneState<float, 1> reduced_;
};

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// Indices for _mm512_permutex2var_epi16 over 64 halfs (16 groups of 4): table p, lane v < 16
// takes element 2p of group σ(v), lane 16 + v element 2p + 1 (σ: bit reversal over 4 bits).
struct alignas(64) PermuteTable16 {
  uint16_t idx[32];
};
constexpr PermuteTable16 MakePermuteTable16(uint32_t pair) {
  PermuteTable16 t{};
  for (uint32_t v = 0; v < 16; ++v) {
    const uint32_t group = tgk::fav::BitReverse(v, 4);
    t.idx[v] = uint16_t(4 * group + 2 * pair);
    t.idx[16 + v] = uint16_t(4 * group + 2 * pair + 1);
  }
  return t;
}
inline constexpr PermuteTable16 kPermute16[2] = {MakePermuteTable16(0), MakePermuteTable16(1)};
#endif

// Rows to prefetch into L2 while other rows are computed on: a hint only (no fault, no value,
// no effect on any result).
struct AheadRows {
  const f16* rows = nullptr;
  uint32_t count = 0;

  template <uint32_t kDim>
  AheadRows From(uint32_t first) const {
    return first < count ? AheadRows{rows + size_t{first} * kDim, count - first} : AheadRows{};
  }
  template <uint32_t kDim>
  HWY_INLINE void Prefetch(uint32_t row) const {
    if (row >= count) return;
    const f16* p = rows + size_t{row} * kDim;
    for (uint32_t i = 0; i < kDim; i += 64 / sizeof(f16)) __builtin_prefetch(p + i, 0, 2);
  }
};

// ===========================================================================================
// Highway targets: the same sums in vector form
// ===========================================================================================
//
// Q·K. With N lanes per vector, the 32 lane partials of a position are held as 32/N vectors
// per head-dim chunk: vector i, lane v stands for simdgroup lane l = i·N + σ(v), σ = bit
// reversal over log2(N) bits. q̃ (once per group) and each K row (once per position, for a
// tile of up to 4 heads) are de-interleaved to match, four vectors per (chunk, i), one per
// element e of the dot4, so that for all lanes at once
//   dot4 = ((k0·q0 + k1·q1) + k2·q2) + k3·q3    (a product, then three Fma: products of f16
//                                                values are exact in f32, so each Fma rounds
//                                                exactly as the unfused add would)
//   part = ((0 + dot4_chunk0) + dot4_chunk1) + ...
// The canonical tree then adds lanes l and l + off for off = 16, 8, ..., 1:
//   off >= N: l and l + off sit at the same lane of vectors i and i + off/N: a vector add;
//   off <  N: thanks to σ they are adjacent lanes (2u, 2u + 1). These stages run over N
//             positions at once: ConcatEven/ConcatOdd of two positions' vectors, added, leave
//             both positions' sums side by side; log2(N) rounds leave lane c = position c.
// Softmax: elementwise over the block's 32 scores; max and sum by butterflies across lanes
// (the sum in the canonical tree order).
// P·V: O and V in natural dim order (dims are independent), positions in ascending order.
template <class D>
class SimdBlocksT {
  using VF = hn::Vec<D>;
  static constexpr uint32_t N = uint32_t(hn::MaxLanes(D()));
  static_assert(N == SimdGroup::Lane::kWidth && kBlock % N == 0 && N <= kMaxLanes,
                "one vector holds at most 16 lanes and divides a simdgroup");
  static constexpr uint32_t kVecsPerChunk = kBlock / N;

 public:
  SimdBlocksT(SimdGroup& g, const FlashAttnVecArgs& a, const GroupHeads& heads)
      : a_(a),
        heads_(heads),
        o_(g.arena<float>(kFlashAttnVecArenaO).data()),
        scores_(g.arena<float>(kFlashAttnVecArenaScores).data()),
        q_(g.arena<float>(kFlashAttnVecArenaQ).data()),
        partials_(q_ + size_t{heads.count} * a.head_dim) {
    const f16* q16 = g.arena<f16>(kFlashAttnVecArenaQ16).data();
    for (uint32_t r = 0; r < heads_.count; ++r) {
      DeinterleaveRow(q16 + size_t{r} * a.head_dim, q_ + size_t{r} * a.head_dim);
    }
  }

  // As OracleBlocks::Run.
  void Run(uint32_t first, const BlockMask& mask, size_t o_offset, float* S, float* M) {
    switch (a_.head_dim) {
      case 128:
        return RunDim<128>(first, mask, o_ + o_offset, S, M);
      case 256:
        return RunDim<256>(first, mask, o_ + o_offset, S, M);
      default:
        return RunDim<512>(first, mask, o_ + o_offset, S, M);
    }
  }

 private:
  template <uint32_t kDim>
  HWY_INLINE void RunDim(uint32_t first, const BlockMask& mask, float* o, float* S, float* M) {
    const D d;
    // Memory: step 1, reading this block's K rows, prefetches the next block's V rows, and
    // step 4, reading the V rows, the K rows of the block after next: both streams then flow
    // a block ahead through the compute in between (into L2; L1 holds the rows in use).
    const AheadRows v_ahead = RowsAt<kDim>(heads_.v, uint64_t{first} + kBlock);
    const AheadRows k_ahead = RowsAt<kDim>(heads_.k, uint64_t{first} + 2 * kBlock);
    // 1-2. Scores, N positions at a time; each K row is de-interleaved once for a tile of
    //      up to 4 heads.
    for (uint32_t c0 = 0; c0 < kBlock; c0 += N) {
      const uint32_t rows = mask.rows > c0 ? std::min(N, mask.rows - c0) : 0;
      const f16* k = heads_.k + (size_t{first} + c0) * kDim;
      const AheadRows v = v_ahead.From<kDim>(c0);
      uint32_t r = 0;
      for (; r + 4 <= heads_.count; r += 4) Partials<kDim, 4>(r, k, rows, r == 0 ? v : AheadRows{});
      for (; r + 2 <= heads_.count; r += 2) Partials<kDim, 2>(r, k, rows, r == 0 ? v : AheadRows{});
      for (; r < heads_.count; ++r) Partials<kDim, 1>(r, k, rows, r == 0 ? v : AheadRows{});
      const VF masks = hn::LoadU(d, mask.value + c0);
      for (r = 0; r < heads_.count; ++r) {
        VF qk = hn::Zero(d);
        if (rows > 0) qk = hn::IfThenElseZero(hn::FirstN(d, rows), CombinePositions(r, rows));
        hn::StoreU(Fma(qk, hn::Set(d, a_.scale), masks), d, scores_ + r * kBlock + c0);
      }
    }

    // 3. Online softmax per head; the weights replace the scores.
    float ms[kMaxHeads];
    for (uint32_t r = 0; r < heads_.count; ++r) {
      float* s = scores_ + r * kBlock;
      VF x[kVecsPerChunk];  // lane c of x[b]: position b·N + c
      for (uint32_t b = 0; b < kVecsPerChunk; ++b) x[b] = hn::Load(d, s + b * N);
      VF block_max = x[0];
      for (uint32_t b = 1; b < kVecsPerChunk; ++b) block_max = Max(block_max, x[b]);
      const auto max = [](VF a, VF b) HWY_ATTR { return Max(a, b); };
      const float m_old = M[r];
      M[r] = Max(m_old, hn::GetLane(Butterfly(block_max, max)));  // max is order-independent
      ms[r] = Exp(m_old - M[r]);
      for (uint32_t b = 0; b < kVecsPerChunk; ++b) {
        x[b] = Exp(hn::Sub(x[b], hn::Set(d, M[r])));
        hn::Store(x[b], d, s + b * N);
      }
      // Canonical tree of the weights: offsets >= N across vectors, then within one.
      for (uint32_t half = kVecsPerChunk / 2; half >= 1; half /= 2) {
        for (uint32_t b = 0; b < half; ++b) x[b] = hn::Add(x[b], x[b + half]);
      }
      const auto add = [](VF a, VF b) HWY_ATTR { return hn::Add(a, b); };
      S[r] = S[r] * ms[r] + hn::GetLane(Butterfly(x[0], add));
    }

    // 4. P·V, heads in register tiles of 4, 2, 1.
    uint32_t r = 0;
    for (; r + 4 <= heads_.count; r += 4) {
      Accumulate<kDim, 4>(r, first, mask.rows, ms, o, r == 0 ? k_ahead : AheadRows{});
    }
    for (; r + 2 <= heads_.count; r += 2) {
      Accumulate<kDim, 2>(r, first, mask.rows, ms, o, r == 0 ? k_ahead : AheadRows{});
    }
    for (; r < heads_.count; ++r) {
      Accumulate<kDim, 1>(r, first, mask.rows, ms, o, r == 0 ? k_ahead : AheadRows{});
    }
  }

  // For heads [r0, r0 + kHeads) and the positions [0, rows) of `k` (rows of kDim): the lane
  // partials after the cross-vector tree stages (off = 16 .. N), into partials_[r][c].
  // Prefetches `ahead` on the way.
  template <uint32_t kDim, uint32_t kHeads>
  HWY_INLINE void Partials(uint32_t r0, const f16* k, uint32_t rows, const AheadRows& ahead) {
    constexpr uint32_t kChunks = kDim / 128;
    const D d;
    for (uint32_t c = 0; c < rows; ++c) {
      ahead.Prefetch<kDim>(c);
      VF part[kHeads][kVecsPerChunk];
      for (uint32_t h = 0; h < kHeads; ++h) {
        for (uint32_t i = 0; i < kVecsPerChunk; ++i) part[h][i] = hn::Zero(d);
      }
      for (uint32_t j = 0; j < kChunks; ++j) {
        for (uint32_t i = 0; i < kVecsPerChunk; ++i) {
          VF key[4];
          Deinterleave(k + size_t{c} * kDim + 128 * j + 4 * i * N, key);
          for (uint32_t h = 0; h < kHeads; ++h) {
            const float* q = q_ + size_t{r0 + h} * kDim + (j * kVecsPerChunk + i) * 4 * N;
            VF dot = hn::Mul(key[0], hn::Load(d, q));
            dot = Fma(key[1], hn::Load(d, q + N), dot);
            dot = Fma(key[2], hn::Load(d, q + 2 * N), dot);
            dot = Fma(key[3], hn::Load(d, q + 3 * N), dot);
            part[h][i] = hn::Add(part[h][i], dot);
          }
        }
      }
      for (uint32_t h = 0; h < kHeads; ++h) {
        for (uint32_t half = kVecsPerChunk / 2; half >= 1; half /= 2) {
          for (uint32_t i = 0; i < half; ++i) part[h][i] = hn::Add(part[h][i], part[h][i + half]);
        }
        hn::Store(part[h][0], d, partials_ + ((r0 + h) * N + c) * N);
      }
    }
  }

  // qk of head r for the positions [0, rows) whose partials are in partials_, lane c =
  // position c (the tree stages off = N/2 .. 1; lanes from `rows` on are not meaningful).
  HWY_INLINE VF CombinePositions(uint32_t r, uint32_t rows) const {
    const D d;
    VF t[N];
    for (uint32_t c = 0; c < N; ++c) {
      t[c] = c < rows ? hn::Load(d, partials_ + (r * N + c) * N) : hn::Zero(d);
    }
#if HWY_TARGET != HWY_SCALAR
    for (uint32_t n = N; n > 1; n /= 2) {
      for (uint32_t i = 0; i < n / 2; ++i) {
        t[i] = hn::Add(hn::ConcatEven(d, t[2 * i + 1], t[2 * i]),
                       hn::ConcatOdd(d, t[2 * i + 1], t[2 * i]));
      }
    }
#endif
    return t[0];
  }

  // O = O·ms + Σ_c V[c]·w_c for heads [r0, r0 + kHeads), kTile vectors of dims per pass over
  // the block's rows: as wide as the registers allow, since each extra pass reads the rows in
  // strided pieces that the hardware prefetchers follow poorly.
  // Prefetches `ahead` on the way.
  template <uint32_t kDim, uint32_t kHeads>
  HWY_INLINE void Accumulate(uint32_t r0, uint32_t first, uint32_t rows, const float* ms,
                             float* o_state, const AheadRows& ahead) {
    constexpr uint32_t kVecs = kDim / N;
    constexpr uint32_t kTile = std::min(kVecs, 32 / kHeads);
    const D d;
    const f16* v = heads_.v + size_t{first} * kDim;
    for (uint32_t t0 = 0; t0 < kVecs; t0 += kTile) {
      VF lo[kHeads][kTile];
      for (uint32_t h = 0; h < kHeads; ++h) {
        for (uint32_t t = 0; t < kTile; ++t) lo[h][t] = hn::Zero(d);
      }
      for (uint32_t c = 0; c < rows; ++c) {
        if (t0 == 0) ahead.Prefetch<kDim>(c);
        const f16* row = v + size_t{c} * kDim + t0 * N;
        VF values[kTile];
        for (uint32_t t = 0; t < kTile; ++t) values[t] = LoadF16(row + t * N);
        for (uint32_t h = 0; h < kHeads; ++h) {
          const VF w = hn::Set(d, scores_[(r0 + h) * kBlock + c]);
          for (uint32_t t = 0; t < kTile; ++t) lo[h][t] = hn::Add(lo[h][t], hn::Mul(values[t], w));
        }
      }
      for (uint32_t h = 0; h < kHeads; ++h) {
        float* o = o_state + size_t{r0 + h} * kDim + t0 * N;
        const VF scale = hn::Set(d, ms[r0 + h]);
        for (uint32_t t = 0; t < kTile; ++t) {
          const VF rescaled = hn::Mul(hn::Load(d, o + t * N), scale);
          hn::Store(hn::Add(rescaled, lo[h][t]), d, o + t * N);
        }
      }
    }
  }

  // The rows of `base` (a kv head's K or V) from `position` to the end of its block, below
  // kv_seq_len (none past it).
  template <uint32_t kDim>
  AheadRows RowsAt(const f16* base, uint64_t position) const {
    if (position >= a_.kv_seq_len) return AheadRows{};
    return AheadRows{base + position * kDim,
                     uint32_t(std::min<uint64_t>(kBlock, a_.kv_seq_len - position))};
  }

  // Every lane gets op over all lanes, combined in the canonical tree order: lane i with lane
  // i ^ off for off = N/2, ..., 1 (for l < off that is x[l] op x[l + off]; op commutes).
  template <class Op>
  static HWY_INLINE VF Butterfly(VF x, const Op& op) {
#if HWY_TARGET != HWY_SCALAR
    const D d;
    const hn::RebindToSigned<D> di;
    for (int32_t off = N / 2; off >= 1; off /= 2) {
      const auto partner = hn::IndicesFromVec(d, hn::Xor(hn::Iota(di, 0), hn::Set(di, off)));
      x = op(x, hn::TableLookupLanes(x, partner));
    }
#else
    (void)op;
#endif
    return x;
  }

  // f16 → f32 of N consecutive values. F16C (x86, AVX2 and up) widens exactly and makes a NaN
  // quiet keeping its payload, as tgk's WidenF16 does; other targets use WidenF16.
  static HWY_INLINE VF LoadF16(const f16* p) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    const hn::Rebind<hwy::float16_t, D> dh;
    return hn::PromoteTo(D(), hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
#else
    const hn::RebindToUnsigned<D> du;
    const hn::Rebind<uint16_t, D> d16;
    return WidenF16(hn::PromoteTo(du, hn::LoadU(d16, reinterpret_cast<const uint16_t*>(p))));
#endif
  }

  // A row of head_dim f16 values into the de-interleaved f32 layout: chunk j, vector k,
  // element e at ((j·32/N + k)·4 + e)·N, lane v holding dim 128j + 4(kN + σ(v)) + e.
  void DeinterleaveRow(const f16* src, float* dst) const {
    const D d;
    for (uint32_t j = 0; j < a_.head_dim; j += 128) {
      for (uint32_t k = 0; k < kVecsPerChunk; ++k) {
        VF e[4];
        Deinterleave(src + j + 4 * k * N, e);
        float* out = dst + (j / 128 * kVecsPerChunk + k) * 4 * N;
        for (uint32_t i = 0; i < 4; ++i) hn::Store(e[i], d, out + i * N);
      }
    }
  }

  // The 4N values at `seg` (N groups of 4) into e[0..3]: e[i] lane v = seg[4σ(v) + i].
  static HWY_INLINE void Deinterleave(const f16* seg, VF* e) {
    if constexpr (N == 1) {
      for (uint32_t i = 0; i < 4; ++i) e[i] = LoadF16(seg + i);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    } else if constexpr (N == 16) {
      // Two 16-bit permutes pick (e0, e1) and (e2, e3) of the 16 groups, in σ order.
      const __m512i lo = _mm512_loadu_si512(seg);
      const __m512i hi = _mm512_loadu_si512(seg + 32);
      for (uint32_t i = 0; i < 4; i += 2) {
        const __m512i idx = _mm512_load_si512(kPermute16[i / 2].idx);
        const __m512i x = _mm512_permutex2var_epi16(lo, idx, hi);
        e[i] = VF{_mm512_cvtph_ps(_mm512_castsi512_si256(x))};
        e[i + 1] = VF{_mm512_cvtph_ps(_mm512_extracti64x4_epi64(x, 1))};
      }
#endif
#if HWY_TARGET != HWY_SCALAR
    } else if constexpr (N == 4 || N == 8) {
      // Each 128-bit block of w[m] holds one group: a 4×4 transpose per block of the inputs
      // (w0, w2, w1, w3) puts lane (block b, position i) = group (N/4)·σ2(i) + b, which is
      // σ(4b + i).
      const VF w0 = LoadF16(seg);
      const VF w1 = LoadF16(seg + N);
      const VF w2 = LoadF16(seg + 2 * N);
      const VF w3 = LoadF16(seg + 3 * N);
      const D d;
      const hn::Repartition<uint64_t, D> d64;
      const auto t0 = hn::BitCast(d64, hn::InterleaveLower(d, w0, w2));
      const auto t1 = hn::BitCast(d64, hn::InterleaveLower(d, w1, w3));
      const auto t2 = hn::BitCast(d64, hn::InterleaveUpper(d, w0, w2));
      const auto t3 = hn::BitCast(d64, hn::InterleaveUpper(d, w1, w3));
      e[0] = hn::BitCast(d, hn::InterleaveLower(d64, t0, t1));
      e[1] = hn::BitCast(d, hn::InterleaveUpper(d64, t0, t1));
      e[2] = hn::BitCast(d, hn::InterleaveLower(d64, t2, t3));
      e[3] = hn::BitCast(d, hn::InterleaveUpper(d64, t2, t3));
#endif
    } else {
      HWY_ALIGN f16 gathered[4][N];
      for (uint32_t v = 0; v < N; ++v) {
        const uint32_t group = tgk::fav::BitReverse(v, tgk::fav::Log2(N));
        for (uint32_t i = 0; i < 4; ++i) gathered[i][v] = seg[4 * group + i];
      }
      for (uint32_t i = 0; i < 4; ++i) e[i] = LoadF16(gathered[i]);
    }
  }

  const FlashAttnVecArgs& a_;
  const GroupHeads& heads_;
  float* o_;
  float* scores_;
  float* q_;         // de-interleaved q̃ per head
  float* partials_;  // per head and position of a batch: lane partials, N floats
};
using SimdBlocks = SimdBlocksT<hn::ScalableTag<float>>;  // SimdGroup::Lane's tag

// ===========================================================================================
// The vector kernel
// ===========================================================================================
template <uint32_t kNwg>
struct VecKernel {
  FlashAttnVecArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    using Blocks = std::conditional_t<std::is_same_v<Group, ScalarGroup>, OracleBlocks, SimdBlocks>;
    const Dim3 id = g.group_id();  // (head tile, kv head, workgroup set)
    const uint32_t dim = a.head_dim;
    const uint32_t ratio = a.num_heads / a.num_kv_heads;
    const uint32_t tile_first = id.x * kMaxHeads;
    const size_t kv_offset = size_t{id.y} * a.kv_capacity * dim;
    const GroupHeads heads{id.y * ratio + tile_first, std::min(kMaxHeads, ratio - tile_first),
                           a.k + kv_offset, a.v + kv_offset};
    // Workgroups [w0, w0 + wpg), each with its own (S, M, O) per head.
    const uint32_t wpg = a.workgroups_per_group;
    const uint32_t w0 = id.z * wpg;
    const uint32_t state = heads.count * dim;  // O floats of one workgroup

    // Stage q̃ = f16(Q) (rounded once) and O = 0; lane l handles its dims.
    auto q16 = g.template arena<f16>(kFlashAttnVecArenaQ16);
    auto o = g.template arena<float>(kFlashAttnVecArenaO);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t r = 0; r < heads.count; ++r) {
        const float* q = a.q + size_t{heads.first + r} * dim;
        ForOwnedDims(lane, dim, [&](uint32_t d) HWY_ATTR {
          lane.store(q16, r * dim + d, lane.load(q + d));
          for (uint32_t w = 0; w < wpg; ++w) lane.store(o, w * state + r * dim + d, lane.zero());
        });
      }
    });
    g.barrier();

    float S[kNwg][kMaxHeads], M[kNwg][kMaxHeads];
    std::fill(&S[0][0], &S[0][0] + kNwg * kMaxHeads, 0.0f);
    std::fill(&M[0][0], &M[0][0] + kNwg * kMaxHeads, tgk::fav::kInitialMax);
    Blocks blocks(g, a, heads);
    // Block bi belongs to workgroup bi mod NWG; each workgroup's blocks in increasing order,
    // the group's workgroups interleaved (their states are independent), so that the group
    // reads runs of wpg consecutive blocks.
    const uint64_t n = a.kv_seq_len;
    const auto next_block = [&](uint64_t bi) {
      return bi % kNwg + 1 < w0 + wpg ? bi + 1 : bi + (kNwg - wpg) + 1;
    };
    for (uint64_t bi = w0; bi * kBlock < n; bi = next_block(bi)) {
      const BlockMask mask = tgk::fav::MaskBlock(a, uint32_t(bi * kBlock));
      if (!mask.any_visible) continue;  // all 32 positions masked: skipped, nothing read
      const uint32_t w = uint32_t(bi % kNwg) - w0;
      blocks.Run(uint32_t(bi * kBlock), mask, w * state, S[w], M[w]);
    }
    g.barrier();

    if constexpr (kNwg == 1) {
      float inv[kMaxHeads];
      for (uint32_t r = 0; r < heads.count; ++r) {
        inv[r] = S[0][r] == 0.0f ? 0.0f : 1.0f / S[0][r];
      }
      g.for_each_lane([&](auto lane) HWY_ATTR {
        for (uint32_t r = 0; r < heads.count; ++r) {
          float* out = a.out + size_t{heads.first + r} * dim;
          ForOwnedDims(lane, dim, [&](uint32_t d) HWY_ATTR {
            lane.store(out + d, lane.load(o, r * dim + d) * lane.splat(inv[r]));
          });
        }
      });
    } else {
      // tmp: partials [rows][dim/4][NWG][4], then (S, M) pairs [rows][NWG][2].
      const size_t rows = a.num_heads;
      for (uint32_t r = 0; r < heads.count; ++r) {
        const size_t h = heads.first + r;
        for (uint32_t i = 0; i < dim / 4; ++i) {
          float* chunk = a.out + ((h * (dim / 4) + i) * kNwg + w0) * 4;
          for (uint32_t w = 0; w < wpg; ++w) {
            for (uint32_t e = 0; e < 4; ++e) chunk[4 * w + e] = o[w * state + r * dim + 4 * i + e];
          }
        }
        float* sm = a.out + rows * dim * kNwg + h * 2 * kNwg + 2 * w0;
        for (uint32_t w = 0; w < wpg; ++w) {
          sm[2 * w] = S[w][r];
          sm[2 * w + 1] = M[w][r];
        }
      }
    }
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
