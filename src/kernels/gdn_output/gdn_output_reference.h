// Plain sequential reference of stage 7 (gated_delta_net_chunk_o_bf16), for the tests.
#pragma once

#include "tgk/dtype.h"
#include "tgk/kernels/gdn_output.h"

namespace tgk {

void GdnOutputReference(const GdnOutputShape& s, const bf16* q, const bf16* k, const bf16* v_new,
                        const bf16* h, const float* g_cumsum, float scale, bf16* o);

}  // namespace tgk
