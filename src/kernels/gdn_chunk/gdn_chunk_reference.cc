#include "kernels/gdn_chunk/gdn_chunk_reference.h"

#include <algorithm>
#include <cmath>

#include "kernels/gdn_chunk/gdn_common.h"
#include "kernels/gdn_chunk/gdn_reference_exp.h"
#include "kernels/gdn_cumsum/gdn_cumsum_reference.h"
#include "kernels/gdn_l2norm/gdn_l2norm_reference.h"
#include "kernels/gdn_output/gdn_output_reference.h"
#include "kernels/gdn_solve/gdn_solve_reference.h"
#include "kernels/gdn_state/gdn_state_reference.h"
#include "kernels/gdn_wu/gdn_wu_reference.h"
#include "tgk/convert.h"

namespace tgk {

std::vector<float> GdnKktReference(const GdnReferenceShape& s, const bf16* k, const float* beta,
                                   const float* g_cumsum) {
  constexpr uint32_t BT = gdn::kChunk;
  std::vector<float> a(size_t{s.B} * s.T * s.H * BT);
  const uint32_t ratio = s.H / s.Hg;
  for (uint32_t b = 0; b < s.B; ++b) {
    for (uint32_t t = 0; t < s.T; ++t) {
      const uint32_t t0 = t / BT * BT;
      const uint32_t rows = std::min(BT, s.T - t0);
      for (uint32_t h = 0; h < s.H; ++h) {
        const size_t row = (size_t{b} * s.T + t) * s.H + h;
        const bf16* key_i = k + ((size_t{b} * s.T + t) * s.Hg + h / ratio) * s.K;
        for (uint32_t j = 0; j < BT; ++j) {
          float value = 0.0f;
          if (j < rows && t0 + j < t) {
            const bf16* key_j = k + ((size_t{b} * s.T + t0 + j) * s.Hg + h / ratio) * s.K;
            float acc = 0.0f;
            for (uint32_t c0 = 0; c0 < s.K; c0 += 64) {
              float d = 0.0f;
              for (uint32_t c = c0; c < std::min(s.K, c0 + 64); ++c) {
                const float kb = RoundToBF16(F32FromBF16(key_i[c]) * beta[row]);
                d = std::fma(kb, F32FromBF16(key_j[c]), d);
              }
              acc = acc + d;
            }
            const size_t col = (size_t{b} * s.T + t0 + j) * s.H + h;
            value = acc * gdn::ReferenceExp(g_cumsum[row] - g_cumsum[col]);
          }
          a[row * BT + j] = value;
        }
      }
    }
  }
  return a;
}

GdnReferenceResult GdnChunkReference(const GdnReferenceShape& s, const bf16* q, const bf16* k,
                                     const bf16* v, const float* g, const float* beta, float scale,
                                     const float* h0, bool use_qk_l2norm) {
  GdnReferenceResult r;
  const size_t rows = size_t{s.B} * s.T * s.H;
  const size_t state = size_t{s.B} * s.H * s.V * s.K;
  if (use_qk_l2norm) {
    const GdnL2NormShape norm{size_t{s.B} * s.T * s.Hg, s.K};
    r.q_n.resize(norm.rows * s.K);
    r.k_n.resize(norm.rows * s.K);
    GdnL2NormReference(norm, q, r.q_n.data());
    GdnL2NormReference(norm, k, r.k_n.data());
    q = r.q_n.data();
    k = r.k_n.data();
  }
  r.g_cumsum.resize(rows);
  GdnCumsumReference(GdnCumsumShape{s.B, s.T, s.H}, g, r.g_cumsum.data());
  r.A = GdnKktReference(s, k, beta, r.g_cumsum.data());
  r.A_inv.resize(rows * gdn::kChunk);
  GdnSolveReference({s.B, s.T, s.H}, r.A.data(), r.A_inv.data());
  r.w.resize(rows * s.K);
  r.u.resize(rows * s.V);
  GdnWuReference({s.B, s.T, s.Hg, s.H, s.K, s.V}, k, v, beta, r.g_cumsum.data(), r.A_inv.data(),
                 r.w.data(), r.u.data());
  r.h.resize(size_t{gdn::Chunks(s.T)} * state);
  r.v_new.resize(rows * s.V);
  r.final_state.resize(state);
  GdnStateReference({s.B, s.T, s.Hg, s.H, s.K, s.V}, k, r.w.data(), r.u.data(), r.g_cumsum.data(),
                    h0, r.h.data(), r.v_new.data(), r.final_state.data());
  r.o.resize(rows * s.V);
  GdnOutputReference({s.B, s.T, s.Hg, s.H, s.K, s.V}, q, k, r.v_new.data(), r.h.data(),
                     r.g_cumsum.data(), scale, r.o.data());
  return r;
}

}  // namespace tgk
