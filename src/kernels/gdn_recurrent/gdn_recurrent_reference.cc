// The recurrent gated delta net in sequential loops that read like the spec. Compiled once,
// with tgk's host Exp (the kernels' Exp, the same bits on every target).
#include "kernels/gdn_recurrent/gdn_recurrent_reference.h"

#include <cstdint>
#include <vector>

#include "tgk/math.h"

namespace tgk {

void GdnRecurrentReference(GdnRecurrentKernel kernel, const GdnRecurrentShape& s, const float* q,
                           const float* k, const float* v, const float* g, const float* beta,
                           float scale, const float* state_in, float* output, float* state_out,
                           const int32_t* cu_seqlens) {
  const bool decode = kernel == GdnRecurrentKernel::kDecode;
  // Serial: one chain over all Dk columns. Decode: 32 simdgroup lanes, lane l summing its
  // NSG = Dk/32 contiguous cells, then the halving tree over the 32 lane sums.
  const uint32_t lanes = decode ? 32 : 1;
  const uint32_t nsg = s.Dk / lanes;
  const auto dot = [&](const float* row, const float* vec, float vec_scale) {
    std::vector<float> part(lanes, 0.0f);
    for (uint32_t l = 0; l < lanes; ++l) {
      for (uint32_t j = 0; j < nsg; ++j) {
        const uint32_t c = l * nsg + j;
        const float product = row[c] * (vec[c] * vec_scale);
        part[l] = part[l] + product;
      }
    }
    for (uint32_t off = lanes / 2; off >= 1; off /= 2) {
      for (uint32_t l = 0; l < off; ++l) part[l] = part[l] + part[l + off];
    }
    return part[0];
  };

  std::vector<float> S(s.Dk);  // one state row
  for (uint32_t seq = 0; seq < s.Sn; ++seq) {
    for (uint32_t h = 0; h < s.Hv; ++h) {
      const uint32_t kh = h % s.Hk;  // tiled GQA
      for (uint32_t x = 0; x < s.Dv; ++x) {
        const size_t row = ((size_t{seq} * s.Hv + h) * s.Dv + x) * s.Dk;
        for (uint32_t c = 0; c < s.Dk; ++c) S[c] = state_in[row + c];
        const size_t first = cu_seqlens ? size_t(cu_seqlens[seq]) : size_t{seq} * s.T;
        const size_t end = cu_seqlens ? size_t(cu_seqlens[seq + 1]) : first + s.T;
        for (size_t token = first; token < end; ++token) {
          const size_t gate = token * s.Hv + h;
          const float* kt = k + (token * s.Hk + kh) * s.Dk;
          const float* qt = q + (token * s.Hk + kh) * s.Dk;
          const float alpha = Exp(-g[gate]);
          for (uint32_t c = 0; c < s.Dk; ++c) S[c] = S[c] * alpha;
          const float sk = dot(S.data(), kt, 1.0f);
          const float delta = beta[gate] * (v[gate * s.Dv + x] - sk);
          for (uint32_t c = 0; c < s.Dk; ++c) S[c] = S[c] + delta * kt[c];
          output[gate * s.Dv + x] = dot(S.data(), qt, scale);
        }
        for (uint32_t c = 0; c < s.Dk; ++c) state_out[row + c] = S[c];
      }
    }
  }
}

}  // namespace tgk
