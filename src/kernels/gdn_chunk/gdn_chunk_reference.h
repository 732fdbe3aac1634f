// Plain sequential reference of the chunked Gated DeltaNet forward, for the tests: the spec's
// stages composed from the families' plain references, every intermediate kept.
#pragma once

#include <cstdint>
#include <vector>

#include "tgk/dtype.h"

namespace tgk {

struct GdnReferenceShape {
  uint32_t B = 1, T = 0, Hg = 0, H = 0, K = 0, V = 0;
};

struct GdnReferenceResult {
  std::vector<bf16> q_n, k_n;  // stage 1's outputs; empty without use_qk_l2norm
  std::vector<float> g_cumsum, A, A_inv;
  std::vector<bf16> w, u, h, v_new, o;
  std::vector<float> final_state;
};

// Stage 3 (spec/gated_delta_net_kkt.md): 64-wide tiles of K (the last one shorter), each a
// chain from +0, tiles added in order, then the gate and the strict lower mask.
std::vector<float> GdnKktReference(const GdnReferenceShape& s, const bf16* k, const float* beta,
                                   const float* g_cumsum);

GdnReferenceResult GdnChunkReference(const GdnReferenceShape& s, const bf16* q, const bf16* k,
                                     const bf16* v, const float* g, const float* beta, float scale,
                                     const float* h0, bool use_qk_l2norm = false);

}  // namespace tgk
