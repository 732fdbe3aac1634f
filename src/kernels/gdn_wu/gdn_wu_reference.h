// Plain sequential reference of stage 5 (gated_delta_net_recompute_wu_bf16), for the tests.
#pragma once

#include "tgk/dtype.h"
#include "tgk/kernels/gdn_wu.h"

namespace tgk {

void GdnWuReference(const GdnWuShape& s, const bf16* k, const bf16* v, const float* beta,
                    const float* g_cumsum, const float* a_inv, bf16* w, bf16* u);

}  // namespace tgk
