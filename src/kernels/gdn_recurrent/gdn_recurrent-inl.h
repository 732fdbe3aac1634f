// The recurrent gated delta net functor (docs/spec/gated_delta_net_recurrent.md section 3),
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
// that a lane pack reads one column of consecutive rows as a vector. It is read from state_in
// before the first token and written to state_out after the last, each pack's rows moving as
// one contiguous run through kGdnStagingArena (memory is read and written in address order,
// which the hardware prefetchers follow) and transposed there in kWidth × kWidth register
// blocks; a pack that is not full of rows, and columns past the last full block, go element
// by element instead. No lane reads
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

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// kTreeLanes: 1 for the serial kernel (one chain over all Dk columns), 32 for the decode
// kernel (32 chains of Dk/32 columns, then the halving tree).
template <uint32_t kTreeLanes>
struct GdnRecurrentKernelT {
  GdnRecurrentArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();
    const uint32_t h = id.y, s = id.z;
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
      const size_t staged = size_t{local} * cols;  // the pack's rows in the staging arena

      // state_in's rows into the state arena, transposed. A full pack copies its rows (one
      // contiguous run, read in order) to the staging arena, then transposes kW × kW blocks
      // in registers; the columns past the last full block, and a pack not full of rows, go
      // element by element.
      uint32_t cb = 0;
      if (whole) {
        for (size_t i = 0; i < size_t{kW} * cols; i += kW) {
          lane.store(staging, staged + i, lane.load(in_rows + i));
        }
        for (; cb + kW <= cols; cb += kW) {
          VF block[kW];
          for (uint32_t k = 0; k < kW; ++k) block[k] = lane.load(staging, staged + k * cols + cb);
          lane.transpose(block);
          for (uint32_t k = 0; k < kW; ++k)
            lane.store(state, size_t{cb + k} * stride + local, block[k]);
        }
      }
      for (uint32_t c = cb; c < cols; ++c) {
        for (uint32_t r = 0; r < rows; ++r)
          state[size_t{c} * stride + local + r] = in_rows[size_t{r} * cols + c];
      }

      // Memory of the next pack's rows (in this group or the next one, which follows in
      // memory), fetched while this pack computes: state_in on the first token, state_out on
      // the last, kW floats a column, which covers the pack's kW·Dk floats over the Dk
      // columns. A hint only: no fault, no value.
      const float* next_in = in_rows + size_t{kW} * cols;
      const float* next_out = out_rows + size_t{kW} * cols;

      for (uint32_t t = 0; t < a.T; ++t) {
        const bool first = t == 0, last = t + 1 == a.T;
        const size_t token = size_t{s} * a.T + t;
        const size_t gate = token * a.Hv + h;
        const float* key = a.k + (token * a.Hk + h % a.Hk) * cols;
        const float* query = a.q + (token * a.Hk + h % a.Hk) * cols;
        const VF alpha = lane.splat(Exp(-a.g[gate]));

        // Decay, and sk = Σ_c S[x][c]·k[c] with the decayed state: kTreeLanes chains of
        // `cells` columns each, then the decode kernel's halving tree.
        VF part[kTreeLanes];
        for (uint32_t l = 0; l < kTreeLanes; ++l) {
          VF acc = lane.zero();
          for (uint32_t c = l * per_sum; c < (l + 1) * per_sum; ++c) {
            const size_t i = size_t{c} * stride + local;
            if (first) __builtin_prefetch(next_in + size_t{c} * kW, 0, 3);
            const VF decayed = lane.load(state, i) * alpha;
            lane.store(state, i, decayed);
            acc = acc + decayed * lane.splat(key[c]);
          }
          part[l] = acc;
        }
        for (uint32_t off = kTreeLanes / 2; off >= 1; off /= 2) {
          for (uint32_t l = 0; l < off; ++l) part[l] = part[l] + part[l + off];
        }
        const VF v = whole ? lane.load(a.v + gate * a.Dv + x0)
                           : lane.load_strided(a.v + gate * a.Dv + x0, 1, rows);
        const VF delta = lane.splat(a.beta[gate]) * (v - part[0]);

        // Update, and y = Σ_c S[x][c]·q[c] with the updated state.
        for (uint32_t l = 0; l < kTreeLanes; ++l) {
          VF acc = lane.zero();
          for (uint32_t c = l * per_sum; c < (l + 1) * per_sum; ++c) {
            const size_t i = size_t{c} * stride + local;
            if (last) __builtin_prefetch(next_out + size_t{c} * kW, 1, 3);
            const VF updated = lane.load(state, i) + delta * lane.splat(key[c]);
            lane.store(state, i, updated);
            acc = acc + updated * lane.splat(query[c] * q_scale);
          }
          part[l] = acc;
        }
        for (uint32_t off = kTreeLanes / 2; off >= 1; off /= 2) {
          for (uint32_t l = 0; l < off; ++l) part[l] = part[l] + part[l + off];
        }
        float* y = a.output + gate * a.Dv + x0;
        if (whole) {
          lane.store(y, part[0]);
        } else {
          lane.store(staging, staged, part[0]);
          for (uint32_t r = 0; r < rows; ++r) y[r] = staging[staged + r];
        }
      }

      // The state arena back into state_out's rows, transposed, the same way round.
      cb = 0;
      if (whole) {
        for (; cb + kW <= cols; cb += kW) {
          VF block[kW];
          for (uint32_t k = 0; k < kW; ++k)
            block[k] = lane.load(state, size_t{cb + k} * stride + local);
          lane.transpose(block);
          for (uint32_t k = 0; k < kW; ++k) lane.store(staging, staged + k * cols + cb, block[k]);
        }
        for (uint32_t c = cb; c < cols; ++c) {
          for (uint32_t r = 0; r < kW; ++r)
            staging[staged + size_t{r} * cols + c] = state[size_t{c} * stride + local + r];
        }
        for (size_t i = 0; i < size_t{kW} * cols; i += kW) {
          lane.store(out_rows + i, lane.load(staging, staged + i));
        }
      } else {
        for (uint32_t c = 0; c < cols; ++c) {
          for (uint32_t r = 0; r < rows; ++r)
            out_rows[size_t{r} * cols + c] = state[size_t{c} * stride + local + r];
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
