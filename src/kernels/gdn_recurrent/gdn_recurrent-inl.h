// The recurrent gated delta net functor (docs/spec/gdn_recurrent.md section 3),
// one source for the scalar oracle and every Highway target, for both kernels:
// GdnRecurrentKernel (gated_delta_net_f32, serial reductions) and GdnRecurrentDecodeKernel
// (gated_delta_net_decode, 32 lane sums and a halving tree).
//
// Mapping from Metal: every state row x evolves on its own (its prediction, delta and output
// read only row x), so tgk gives each row one lane, as gated_delta_net_f32 does, and splits
// the Dv rows of a (head, sequence) over groups of up to 64 lanes: grid (ceil(Dv / rows), Hv,
// Sn). The decode kernel's 32 simdgroup lanes become a loop inside the row's lane: its lane
// tx's partial sum over cells c = tx·NSG .. tx·NSG+NSG−1 is part[tx], and the simd_sum is the
// canonical tree written out on part[0..31]. The per-row arithmetic is the spec's, in its
// order: decay, then sk, then δ, then the update and y, every product rounded before its add.
//
// The state of the group's rows lives in arena kGdnStateArena transposed, [column c][row], so
// that a lane pack reads one column of consecutive rows as a vector. The first token reads it
// from state_in as it decays it, and the last writes it to state_out as it updates it, in
// kWidth × kWidth blocks transposed in registers, prefetching the next pack's rows meanwhile;
// a pack that is not full of rows, and a last block narrower than kWidth, go element by
// element instead (through kGdnStagingArena on the way out). No lane reads
// another lane's arena cells, so the kernel is one phase without barriers, and each lane
// reads its state_in cells before it writes its state_out cells (the two may alias).

#if defined(TGK_KERNELS_GDN_RECURRENT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_RECURRENT_INL_H_
#undef TGK_KERNELS_GDN_RECURRENT_INL_H_
#else
#define TGK_KERNELS_GDN_RECURRENT_INL_H_
#endif

#include <algorithm>
#include <cstdint>

#include "kernels/gdn_recurrent/gdn_recurrent_args.h"
#include "tgk/group-inl.h"
#include "tgk/prefetch.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// kTreeLanes: 1 for the serial kernel (one chain over all Dk columns), 32 for the decode
// kernel (32 chains of Dk/32 columns, then the halving tree).
template <uint32_t kTreeLanes>
struct GdnRecurrentKernelT {
  static constexpr uint32_t kPrefetchRows = 64;       // state_in, into L2
  static constexpr uint32_t kPrefetchWriteRows = 16;  // state_out, owned for writing

  GdnRecurrentArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();
    const uint32_t h = id.y, s = id.z;
    // The sequence's tokens: a run of T, or its cu_seqlens range (at least one token).
    const size_t token0 = a.cu_seqlens ? size_t(a.cu_seqlens[s]) : size_t{s} * a.T;
    const uint32_t tokens = a.cu_seqlens ? uint32_t(a.cu_seqlens[s + 1] - a.cu_seqlens[s]) : a.T;
    const uint32_t dk = a.Dk, group_rows = a.rows;
    const uint32_t x_group = id.x * group_rows;
    const uint32_t cells = dk / kTreeLanes;  // columns per partial sum (decode: NSG)
    const size_t head_row0 = (size_t{s} * a.Hv + h) * a.Dv;  // state row of x = 0
    const float scale = a.scale;
    auto state = g.template arena<float>(kGdnStateArena);
    auto staging = g.template arena<float>(kGdnStagingArena);

    g.for_each_lane([&](auto lane) HWY_ATTR {
      using L = decltype(lane);
      using VF = typename L::VF;
      constexpr uint32_t kW = L::kWidth;
      const uint32_t local = lane.first();  // the pack's first row within the group
      const uint32_t x0 = x_group + local;
      if (x0 >= a.Dv) return;
      const uint32_t rows = std::min(lane.count(), a.Dv - x0);
      const bool whole = rows == kW;  // every lane of the pack is a row inside Dv
      // Locals, not reloaded through the captures after every store.
      const uint32_t stride = group_rows, cols = dk, per_sum = cells;
      const float q_scale = scale;
      const float* in_rows = a.state_in + (head_row0 + x0) * cols;
      float* out_rows = a.state_out + (head_row0 + x0) * cols;
      // The rows kPrefetchRows ahead of this pack's (in this group or a later one, which
      // follow in memory) are fetched into L2 while this pack computes on the first token, and
      // those kPrefetchWriteRows ahead are fetched for writing on the last: kW floats a column,
      // which covers kW rows over the Dk columns. Hints only: no fault, no value. Measured on
      // Zen 4 at the decode shape: one pack ahead leaves it at the memory latency, 64 rows
      // (32 KiB at Dk = 128) doubles its speed; without the write prefetch it halves again;
      // writes 16 rows ahead do some 8% better than 64 (those lines stay in L1).
      // Addresses as integers: they may lie past the end of the tensors, where a pointer may
      // not point.
      const uintptr_t next_in =
          reinterpret_cast<uintptr_t>(in_rows) + size_t{kPrefetchRows} * cols * sizeof(float);
      const uintptr_t next_out =
          reinterpret_cast<uintptr_t>(out_rows) + size_t{kPrefetchWriteRows} * cols * sizeof(float);
      const auto prefetch_at = [](uintptr_t base, uint32_t c, int write) HWY_ATTR {
        const uintptr_t at = base + size_t{c} * kW * sizeof(float);
        if (write) {
          PrefetchWrite(at);
        } else {
          PrefetchRead(at);
        }
      };

      for (uint32_t t = 0; t < tokens; ++t) {
        const bool first = t == 0, last = t + 1 == tokens;
        const size_t token = token0 + t;
        const size_t gate = token * a.Hv + h;
        const float* key = a.k + (token * a.Hk + h % a.Hk) * cols;
        const float* query = a.q + (token * a.Hk + h % a.Hk) * cols;
        const VF alpha = lane.splat(Exp(-a.g[gate]));

        // Decay, and sk = Σ_c S[x][c]·k[c] with the decayed state: kTreeLanes chains of
        // per_sum columns each (the serial kernel: one), then the decode kernel's halving
        // tree. The first token reads the state from state_in, kW columns at a time.
        VF part[kTreeLanes];
        for (VF& sum : part) sum = lane.zero();
        VF acc = lane.zero();
        uint32_t sums = 0, summed = 0;
        for (uint32_t cb = 0; cb < cols; cb += kW) {
          const uint32_t n = std::min(kW, cols - cb);
          VF col[kW];
          if (!first) {
            for (uint32_t k = 0; k < n; ++k)
              col[k] = lane.load(state, size_t{cb + k} * stride + local);
          } else if (whole && n == kW) {
            for (uint32_t k = 0; k < kW; ++k) col[k] = lane.load(in_rows + size_t{k} * cols + cb);
            lane.transpose(col);
          } else {
            for (uint32_t k = 0; k < n; ++k)
              col[k] = lane.load_strided(in_rows + cb + k, cols, rows);
          }
          for (uint32_t k = 0; k < n; ++k) {
            if (first) prefetch_at(next_in, cb + k, 0);
            const VF decayed = col[k] * alpha;
            lane.store(state, size_t{cb + k} * stride + local, decayed);
            acc = acc + decayed * lane.splat(key[cb + k]);
            if (++summed == per_sum) {
              part[sums++] = acc;
              acc = lane.zero();
              summed = 0;
            }
          }
        }
        for (uint32_t off = kTreeLanes / 2; off >= 1; off /= 2) {
          for (uint32_t l = 0; l < off; ++l) part[l] = part[l] + part[l + off];
        }
        const VF v = whole ? lane.load(a.v + gate * a.Dv + x0)
                           : lane.load_strided(a.v + gate * a.Dv + x0, 1, rows);
        const VF delta = lane.splat(a.beta[gate]) * (v - part[0]);

        // Update, and y = Σ_c S[x][c]·q[c] with the updated state. The last token writes the
        // state to state_out, kW columns at a time (element-wise through the staging arena
        // where a block is not full).
        sums = 0;
        for (uint32_t cb = 0; cb < cols; cb += kW) {
          const uint32_t n = std::min(kW, cols - cb);
          VF col[kW];
          for (uint32_t k = 0; k < n; ++k) {
            if (last) prefetch_at(next_out, cb + k, 1);
            const size_t i = size_t{cb + k} * stride + local;
            col[k] = lane.load(state, i) + delta * lane.splat(key[cb + k]);
            if (!last) lane.store(state, i, col[k]);
            acc = acc + col[k] * lane.splat(query[cb + k] * q_scale);
            if (++summed == per_sum) {
              part[sums++] = acc;
              acc = lane.zero();
              summed = 0;
            }
          }
          if (!last) continue;
          if (whole && n == kW) {
            lane.transpose(col);
            for (uint32_t k = 0; k < kW; ++k) lane.store(out_rows + size_t{k} * cols + cb, col[k]);
          } else {
            for (uint32_t k = 0; k < n; ++k)
              lane.store(staging, size_t{k} * stride + local, col[k]);
            for (uint32_t r = 0; r < rows; ++r) {
              for (uint32_t k = 0; k < n; ++k) {
                out_rows[size_t{r} * cols + cb + k] = staging[size_t{k} * stride + local + r];
              }
            }
          }
        }
        for (uint32_t off = kTreeLanes / 2; off >= 1; off /= 2) {
          for (uint32_t l = 0; l < off; ++l) part[l] = part[l] + part[l + off];
        }
        float* y = a.output + gate * a.Dv + x0;
        if (whole) {
          lane.store(y, part[0]);
        } else {
          lane.store(staging, local, part[0]);
          for (uint32_t r = 0; r < rows; ++r) y[r] = staging[local + r];
        }
      }
    });
  }
};

using GdnRecurrentKernel = GdnRecurrentKernelT<1>;
using GdnRecurrentDecodeKernel = GdnRecurrentKernelT<kGdnSimdWidth>;

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_RECURRENT_INL_H_
