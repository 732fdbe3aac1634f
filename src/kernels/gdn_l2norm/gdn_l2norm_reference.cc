#include "kernels/gdn_l2norm/gdn_l2norm_reference.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/gdn_l2norm/gdn_l2norm_args.h"
#include "tgk/convert.h"

namespace tgk {
namespace {

float Widen(float x) { return x; }
float Widen(bf16 x) { return F32FromBF16(x); }
float Widen(f16 x) { return F32FromF16(x); }
void Narrow(float v, float* p) { *p = v; }
void Narrow(float v, bf16* p) { *p = BF16FromF32(v); }
void Narrow(float v, f16* p) { *p = F16FromF32(v); }

template <class T>
void L2Norm(const GdnL2NormShape& s, const T* input, T* output) {
  const uint32_t tg = GdnL2NormLanes(s.dim);
  std::vector<float> part(tg);
  for (uint64_t r = 0; r < s.rows; ++r) {
    const T* x = input + r * s.dim;
    T* y = output + r * s.dim;
    for (uint32_t l = 0; l < tg; ++l) {
      part[l] = 0.0f;
      for (uint32_t i = l; i < s.dim; i += tg) part[l] = part[l] + Widen(x[i]) * Widen(x[i]);
    }
    for (uint32_t off = tg / 2; off >= 1; off /= 2) {
      for (uint32_t l = 0; l < off; ++l) part[l] = part[l] + part[l + off];
    }
    const float inv = float(1.0 / std::sqrt(double(part[0] + kGdnL2NormEps)));
    for (uint32_t i = 0; i < s.dim; ++i) Narrow(Widen(x[i]) * inv, &y[i]);
  }
}

}  // namespace

void GdnL2NormReference(const GdnL2NormShape& s, const bf16* input, bf16* output) {
  L2Norm(s, input, output);
}
void GdnL2NormReference(const GdnL2NormShape& s, const float* input, float* output) {
  L2Norm(s, input, output);
}
void GdnL2NormReference(const GdnL2NormShape& s, const f16* input, f16* output) {
  L2Norm(s, input, output);
}

}  // namespace tgk
