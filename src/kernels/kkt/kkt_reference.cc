#include "kernels/kkt/kkt_reference.h"

#include "tgk/convert.h"
#include "tgk/math.h"

namespace tgk::reference {

std::vector<float> Kkt(const KktShape& s, const std::vector<bf16>& k,
                       const std::vector<float>& beta, const std::vector<float>& g) {
  std::vector<float> A(size_t{s.B} * s.T * s.H * kKktChunk);
  const uint32_t ratio = s.H / s.Hg;
  const auto key = [&](uint32_t b, uint32_t t, uint32_t hk, uint32_t c) {
    return F32FromBF16(k[((size_t{b} * s.T + t) * s.Hg + hk) * s.K + c]);
  };
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t h = 0; h < s.H; ++h) {
      const uint32_t hk = h / ratio;
      for (uint32_t t = 0; t < s.T; ++t) {
        const uint32_t t0 = t / kKktChunk * kKktChunk;
        const uint32_t i = t - t0;
        const size_t row = (size_t{b} * s.T + t) * s.H + h;
        for (uint32_t j = 0; j < kKktChunk; ++j) {
          if (j >= i) continue;  // strict lower triangle; the rest stays +0
          const size_t col = (size_t{b} * s.T + t0 + j) * s.H + h;
          // Section 3, steps 1 and 2: per BK tile a serial sum from +0, tiles added in order.
          float acc = 0.0f;
          for (uint32_t q = 0; q < s.K / kKktTile; ++q) {
            float d = 0.0f;
            for (uint32_t c = q * kKktTile; c < (q + 1) * kKktTile; ++c) {
              const float kb = RoundToBF16(key(b, t, hk, c) * beta[row]);
              d = d + kb * key(b, t0 + j, hk, c);
            }
            acc = acc + d;
          }
          // Step 3: the gate after the full reduction.
          A[row * kKktChunk + j] = acc * Exp(g[row] - g[col]);
        }
      }
    }
  }
  return A;
}

}  // namespace tgk::reference
