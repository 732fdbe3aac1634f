#include "kernels/gdn_cumsum/gdn_cumsum_reference.h"

#include <cstddef>
#include <cstdint>

namespace tgk {

void GdnCumsumReference(const GdnCumsumShape& s, const float* g, float* g_cumsum) {
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t h = 0; h < s.H; ++h) {
      for (uint32_t t0 = 0; t0 < s.T; t0 += kGdnCumsumChunk) {
        float sum = 0.0f;
        for (uint32_t t = t0; t < s.T && t < t0 + kGdnCumsumChunk; ++t) {
          const size_t at = (size_t{b} * s.T + t) * s.H + h;
          sum = sum + g[at];
          g_cumsum[at] = sum;
        }
      }
    }
  }
}

}  // namespace tgk
