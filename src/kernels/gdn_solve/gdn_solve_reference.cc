// Stage 4 as the spec writes it: per block, column by column, forward substitution with the
// product rounded before each subtraction.
#include "kernels/gdn_solve/gdn_solve_reference.h"

#include <algorithm>
#include <vector>

#include "kernels/gdn_chunk/gdn_common.h"

namespace tgk {

void GdnSolveReference(const GdnSolveShape& s, const float* a_strict, float* a_inv) {
  constexpr uint32_t BT = gdn::kChunk;
  std::vector<float> x(BT * BT);
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t n = 0; n < gdn::Chunks(s.T); ++n) {
      const uint32_t t0 = n * BT;
      const uint32_t rows = std::min(BT, s.T - t0);
      for (uint32_t h = 0; h < s.H; ++h) {
        const auto row = [&](uint32_t i) { return ((size_t{b} * s.T + t0 + i) * s.H + h) * BT; };
        for (uint32_t j = 0; j < BT; ++j) {
          for (uint32_t i = 0; i < rows; ++i) {
            float acc = i == j ? 1.0f : 0.0f;
            for (uint32_t m = 0; m < i; ++m) {
              const float product = a_strict[row(i) + m] * x[m * BT + j];
              acc = acc - product;
            }
            x[i * BT + j] = acc;
          }
        }
        for (uint32_t i = 0; i < rows; ++i) {
          for (uint32_t j = 0; j < BT; ++j) a_inv[row(i) + j] = x[i * BT + j];
        }
      }
    }
  }
}

}  // namespace tgk
