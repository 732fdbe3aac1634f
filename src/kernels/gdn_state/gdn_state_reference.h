// Plain sequential reference of stage 6 (gated_delta_net_chunk_inter_state_bf16), for the
// tests.
#pragma once

#include "tgk/dtype.h"
#include "tgk/kernels/gdn_state.h"

namespace tgk {

void GdnStateReference(const GdnStateShape& s, const bf16* k, const bf16* w, const bf16* u,
                       const float* g_cumsum, const float* h0, bf16* h, bf16* v_new,
                       float* final_state);

}  // namespace tgk
