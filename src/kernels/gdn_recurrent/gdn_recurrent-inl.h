// The recurrent gated delta net functor (spec/gated_delta_net_recurrent.md sections 5 and 6),
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
// from state_in and the last writes state_out, transposing kWidth × kWidth blocks in
// registers; a pack that is not full of rows, and a last block narrower than kWidth, go
// element by element instead (through kGdnStagingArena on the way out). No phase reads
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
    const uint32_t x_group = id.x * a.rows;
    const uint32_t cells = a.Dk / kTreeLanes;  // columns per partial sum (decode: NSG)
    const size_t head_row0 = (size_t{s} * a.Hv + h) * a.Dv;  // state row of x = 0
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
      const float* in_rows = a.state_in + (head_row0 + x0) * a.Dk;
      float* out_rows = a.state_out + (head_row0 + x0) * a.Dk;
      const auto cell = [&](uint32_t c) { return size_t{c} * a.rows + local; };

      // Row vectors x0 .. x0+rows−1 of a per-row tensor, and back.
      const auto load_rows = [&](const float* p) {
        return whole ? lane.load(p) : lane.load_strided(p, 1, rows);
      };
      const auto store_rows = [&](float* p, VF v) {
        if (whole) return lane.store(p, v);
        lane.store(staging, local, v);
        for (uint32_t r = 0; r < rows; ++r) p[r] = staging[local + r];
      };
      // Columns cb .. cb+n−1 of the pack's rows of state_in, one vector per column.
      const auto read_block = [&](uint32_t cb, uint32_t n, VF* col) {
        if (whole && n == kW) {
          for (uint32_t k = 0; k < kW; ++k) col[k] = lane.load(in_rows + size_t{k} * a.Dk + cb);
          lane.transpose(col);
        } else {
          for (uint32_t k = 0; k < n; ++k) col[k] = lane.load_strided(in_rows + cb + k, a.Dk, rows);
        }
      };
      const auto write_block = [&](uint32_t cb, uint32_t n, VF* col) {
        if (whole && n == kW) {
          lane.transpose(col);
          for (uint32_t k = 0; k < kW; ++k) lane.store(out_rows + size_t{k} * a.Dk + cb, col[k]);
          return;
        }
        for (uint32_t k = 0; k < n; ++k) lane.store(staging, size_t{k} * a.rows + local, col[k]);
        for (uint32_t r = 0; r < rows; ++r) {
          for (uint32_t k = 0; k < n; ++k) {
            out_rows[size_t{r} * a.Dk + cb + k] = staging[size_t{k} * a.rows + local + r];
          }
        }
      };
      // The canonical simd_sum over the decode kernel's 32 lane sums; the serial kernel's
      // single chain is its own result.
      const auto reduce = [&](VF* part) {
        for (uint32_t off = kTreeLanes / 2; off >= 1; off /= 2) {
          for (uint32_t l = 0; l < off; ++l) part[l] = part[l] + part[l + off];
        }
        return part[0];
      };

      for (uint32_t t = 0; t < a.T; ++t) {
        const size_t token = size_t{s} * a.T + t;
        const size_t gate = token * a.Hv + h;
        const float* key = a.k + (token * a.Hk + h % a.Hk) * a.Dk;
        const float* query = a.q + (token * a.Hk + h % a.Hk) * a.Dk;
        const bool first = t == 0, last = t + 1 == a.T;
        const VF alpha = lane.splat(Exp(-a.g[gate]));

        // Decay, and sk = Σ_c S[x][c]·k[c] with the decayed state.
        VF part[kTreeLanes];
        for (VF& sum : part) sum = lane.zero();
        VF acc = lane.zero();
        uint32_t summed = 0, sums = 0;  // columns in acc; finished partial sums
        const auto close_sum = [&] {
          if (++summed < cells) return;
          part[sums++] = acc;
          acc = lane.zero();
          summed = 0;
        };
        for (uint32_t cb = 0; cb < a.Dk; cb += kW) {
          const uint32_t n = std::min(kW, a.Dk - cb);
          VF col[kW];
          if (first) {
            read_block(cb, n, col);
          } else {
            for (uint32_t k = 0; k < n; ++k) col[k] = lane.load(state, cell(cb + k));
          }
          for (uint32_t k = 0; k < n; ++k) {
            const uint32_t c = cb + k;
            const VF decayed = col[k] * alpha;
            lane.store(state, cell(c), decayed);
            acc = acc + decayed * lane.splat(key[c]);
            close_sum();
          }
        }
        const VF sk = reduce(part);
        const VF delta = lane.splat(a.beta[gate]) * (load_rows(a.v + gate * a.Dv + x0) - sk);

        // Update, and y = Σ_c S[x][c]·q[c] with the updated state.
        sums = 0;
        for (uint32_t cb = 0; cb < a.Dk; cb += kW) {
          const uint32_t n = std::min(kW, a.Dk - cb);
          VF col[kW];
          for (uint32_t k = 0; k < n; ++k) {
            const uint32_t c = cb + k;
            col[k] = lane.load(state, cell(c)) + delta * lane.splat(key[c]);
            if (!last) lane.store(state, cell(c), col[k]);
            acc = acc + col[k] * lane.splat(query[c] * a.scale);
            close_sum();
          }
          if (last) write_block(cb, n, col);
        }
        store_rows(a.output + gate * a.Dv + x0, reduce(part));
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
