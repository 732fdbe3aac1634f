// The plain reference of sdpa and sdpa_bf16 (docs/spec/sdpa.md): one query row at a time, the
// spec's single-pass online softmax in its order, every product and sum rounded as written,
// tgk's conversions and Exp. Bit-exact by construction; the kernel on every target and thread
// count must give its bits.
#pragma once

#include <vector>

#include "tgk/dtype.h"
#include "tgk/kernels/sdpa.h"

namespace tgk::reference {

// O [batch, n_heads, seq_len, head_dim] for Q of that shape and K, V
// [batch, n_kv_heads, capacity, head_dim] (capacity = kv_capacity, or kv_seq_len when 0).
std::vector<float> Sdpa(const SdpaParams& p, const std::vector<float>& q,
                        const std::vector<float>& k, const std::vector<float>& v);
// sdpa_bf16: the same f32 arithmetic on the exactly widened inputs; the one rounding to bf16 is
// the store.
std::vector<bf16> SdpaBF16(const SdpaParams& p, const std::vector<bf16>& q,
                           const std::vector<bf16>& k, const std::vector<bf16>& v);

}  // namespace tgk::reference
