// Stage 5 as the spec writes it: per block, the β-scaled, rounded v and k·e^G rows, then each
// output cell one unfused chain over the chunk's rows.
#include "kernels/gdn_wu/gdn_wu_reference.h"

#include <algorithm>
#include <vector>

#include "kernels/gdn_chunk/gdn_common.h"
#include "kernels/gdn_chunk/gdn_reference_exp.h"
#include "tgk/convert.h"

namespace tgk {

void GdnWuReference(const GdnWuShape& s, const bf16* k, const bf16* v, const float* beta,
                    const float* g_cumsum, const float* a_inv, bf16* w, bf16* u) {
  constexpr uint32_t BT = gdn::kChunk;
  const uint32_t ratio = s.H / s.Hg;
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t n = 0; n < gdn::Chunks(s.T); ++n) {
      const uint32_t t0 = n * BT;
      const uint32_t rows = std::min(BT, s.T - t0);
      for (uint32_t h = 0; h < s.H; ++h) {
        const uint32_t kk = h / ratio;
        const auto gate = [&](uint32_t i) { return (size_t{b} * s.T + t0 + i) * s.H + h; };
        // vb[m][x] = bf16(v·β), kb[m][c] = bf16((k·β)·e^G)
        std::vector<float> vb(size_t{rows} * s.V), kb(size_t{rows} * s.K);
        for (uint32_t m = 0; m < rows; ++m) {
          const float beta_m = beta[gate(m)];
          const float e_m = gdn::ReferenceExp(g_cumsum[gate(m)]);
          for (uint32_t x = 0; x < s.V; ++x) {
            vb[size_t{m} * s.V + x] = RoundToBF16(F32FromBF16(v[gate(m) * s.V + x]) * beta_m);
          }
          const size_t k_row = ((size_t{b} * s.T + t0 + m) * s.Hg + kk) * s.K;
          for (uint32_t c = 0; c < s.K; ++c) {
            const float scaled = F32FromBF16(k[k_row + c]) * beta_m;
            kb[size_t{m} * s.K + c] = RoundToBF16(scaled * e_m);
          }
        }
        for (uint32_t i = 0; i < rows; ++i) {
          const float* ai = a_inv + gate(i) * BT;
          for (uint32_t x = 0; x < s.V; ++x) {
            float acc = 0.0f;
            for (uint32_t m = 0; m < rows; ++m) {
              const float product = ai[m] * vb[size_t{m} * s.V + x];
              acc = acc + product;
            }
            u[gate(i) * s.V + x] = BF16FromF32(acc);
          }
          for (uint32_t c = 0; c < s.K; ++c) {
            float acc = 0.0f;
            for (uint32_t m = 0; m < rows; ++m) {
              const float product = ai[m] * kb[size_t{m} * s.K + c];
              acc = acc + product;
            }
            w[gate(i) * s.K + c] = BF16FromF32(acc);
          }
        }
      }
    }
  }
}

}  // namespace tgk
