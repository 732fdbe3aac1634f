// Stage 6 as the spec writes it, in its race-free order: per (batch, head) the f32 state walks
// the chunks; per chunk the snapshot, v_new from the state entering the chunk, the gates, and
// the update chain from the gated state.
#include "kernels/gdn_state/gdn_state_reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gdn_chunk/gdn_common.h"
#include "kernels/gdn_chunk/gdn_reference_exp.h"
#include "tgk/convert.h"

namespace tgk {

void GdnStateReference(const GdnStateShape& s, const bf16* k, const bf16* w, const bf16* u,
                       const float* g_cumsum, const float* h0, bf16* h, bf16* v_new,
                       float* final_state) {
  constexpr uint32_t BT = gdn::kChunk;
  const uint32_t ratio = s.H / s.Hg;
  const uint32_t chunks = gdn::Chunks(s.T);
  const size_t state_size = size_t{s.V} * s.K;
  std::vector<float> state(state_size), vb(size_t{BT} * s.V);
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t hv = 0; hv < s.H; ++hv) {
      const uint32_t kk = hv / ratio;
      const size_t state_base = (size_t{b} * s.H + hv) * state_size;
      std::copy(h0 + state_base, h0 + state_base + state_size, state.begin());
      for (uint32_t n = 0; n < chunks; ++n) {
        const uint32_t t0 = n * BT;
        const uint32_t rows = std::min(BT, s.T - t0);
        const auto row = [&](uint32_t i) { return (size_t{b} * s.T + t0 + i) * s.H + hv; };
        const auto key = [&](uint32_t i) { return ((size_t{b} * s.T + t0 + i) * s.Hg + kk) * s.K; };
        // (a) the snapshot of the state entering the chunk
        bf16* snapshot = h + ((size_t{b} * chunks + n) * s.H + hv) * state_size;
        for (size_t e = 0; e < state_size; ++e) snapshot[e] = BF16FromF32(state[e]);
        // (b) v_new, and (c) the gates
        const float g_last = g_cumsum[row(rows - 1)];
        const float e_last = gdn::ReferenceExp(g_last);
        for (uint32_t i = 0; i < rows; ++i) {
          const float row_gate = gdn::ReferenceExp(g_last - g_cumsum[row(i)]);
          for (uint32_t x = 0; x < s.V; ++x) {
            float d = 0.0f;
            for (uint32_t c = 0; c < s.K; ++c) {
              d = std::fma(F32FromBF16(w[row(i) * s.K + c]), state[size_t{x} * s.K + c], d);
            }
            const float vn = F32FromBF16(u[row(i) * s.V + x]) - d;
            v_new[row(i) * s.V + x] = BF16FromF32(vn);
            vb[size_t{i} * s.V + x] = RoundToBF16(vn * row_gate);
          }
        }
        for (float& e : state) e = e * e_last;
        // (d) the update, one chain over the chunk's rows from the gated state
        for (uint32_t x = 0; x < s.V; ++x) {
          for (uint32_t c = 0; c < s.K; ++c) {
            float acc = state[size_t{x} * s.K + c];
            for (uint32_t i = 0; i < rows; ++i) {
              acc = std::fma(vb[size_t{i} * s.V + x], F32FromBF16(k[key(i) + c]), acc);
            }
            state[size_t{x} * s.K + c] = acc;
          }
        }
      }
      std::copy(state.begin(), state.end(), final_state + state_base);
    }
  }
}

}  // namespace tgk
