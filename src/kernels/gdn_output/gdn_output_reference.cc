// Stage 7 as the spec writes it: per (batch, chunk, head) and row, the inter-chunk term from
// the bf16 snapshot, the masked, gated, rounded intra-chunk scores, and one chain over the
// chunk's rows continuing from the gated inter-chunk term, scaled once.
#include "kernels/gdn_output/gdn_output_reference.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/gdn_chunk/gdn_common.h"
#include "kernels/gdn_chunk/gdn_reference_exp.h"
#include "tgk/convert.h"

namespace tgk {

void GdnOutputReference(const GdnOutputShape& s, const bf16* q, const bf16* k, const bf16* v_new,
                        const bf16* h, const float* g_cumsum, float scale, bf16* o) {
  constexpr uint32_t BT = gdn::kChunk;
  const uint32_t ratio = s.H / s.Hg;
  const uint32_t chunks = gdn::Chunks(s.T);
  std::vector<float> bo(s.V), ab(BT);
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t n = 0; n < chunks; ++n) {
      const uint32_t t0 = n * BT;
      const uint32_t rows = std::min(BT, s.T - t0);
      for (uint32_t hv = 0; hv < s.H; ++hv) {
        const uint32_t kk = hv / ratio;
        const auto row = [&](uint32_t i) { return (size_t{b} * s.T + t0 + i) * s.H + hv; };
        const auto key = [&](uint32_t i) { return ((size_t{b} * s.T + t0 + i) * s.Hg + kk) * s.K; };
        const bf16* snapshot = h + ((size_t{b} * chunks + n) * s.H + hv) * s.V * s.K;
        for (uint32_t i = 0; i < rows; ++i) {
          const float g_i = g_cumsum[row(i)];
          for (uint32_t x = 0; x < s.V; ++x) {
            float acc = 0.0f;
            for (uint32_t c = 0; c < s.K; ++c) {
              acc = std::fma(F32FromBF16(q[key(i) + c]), F32FromBF16(snapshot[size_t{x} * s.K + c]),
                             acc);
            }
            bo[x] = acc * gdn::ReferenceExp(g_i);
          }
          for (uint32_t j = 0; j < rows; ++j) {
            float acc = 0.0f;
            for (uint32_t c = 0; c < s.K; ++c) {
              acc = std::fma(F32FromBF16(q[key(i) + c]), F32FromBF16(k[key(j) + c]), acc);
            }
            const float gated = acc * gdn::ReferenceExp(g_i - g_cumsum[row(j)]);
            ab[j] = RoundToBF16(i >= j ? gated : 0.0f);
          }
          for (uint32_t x = 0; x < s.V; ++x) {
            float acc = bo[x];
            for (uint32_t j = 0; j < rows; ++j) {
              acc = std::fma(ab[j], F32FromBF16(v_new[row(j) * s.V + x]), acc);
            }
            o[row(i) * s.V + x] = BF16FromF32(acc * scale);
          }
        }
      }
    }
  }
}

}  // namespace tgk
