// The plain reference of gated_delta_net_kkt (docs/spec/kkt.md): the spec's loops, one output
// cell at a time, in the spec's order, with tgk's conversions and Exp. Bit-exact by
// construction; the kernel on every target and thread count must give its bits.
#pragma once

#include <vector>

#include "tgk/dtype.h"
#include "tgk/kernels/kkt.h"

namespace tgk::reference {

// A[B, T, H, 64] for k bf16 [B, T, Hg, K], beta and g f32 [B, T, H], under tgk's extension of
// the spec (any K multiple of 64, a partial last chunk). Elements of a row past T's chunk end
// are +0, as the kernel writes them.
std::vector<float> Kkt(const KktShape& shape, const std::vector<bf16>& k,
                       const std::vector<float>& beta, const std::vector<float>& g);

}  // namespace tgk::reference
