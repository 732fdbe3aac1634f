// The plain reference of flash_attn_vec (docs/spec/flash_attn_vec.md): one head and one
// workgroup at a time, the spec's blocks of 32 positions, per-lane dot4 partials and canonical
// halving trees, the online-softmax update and the P·V sums in the spec's order, with tgk's
// conversions and Exp, and tgk's treatment of the last block's tail (a position at or past
// kv_seq_len has Q·K = +0 and adds nothing to O). Bit-exact by construction; the kernels on
// every target and thread count must give its bits.
#pragma once

#include <vector>

#include "kernels/flash_attn_vec/flash_attn_vec.h"
#include "tgk/dtype.h"

namespace tgk::reference {

// NWG = 1: out [num_heads, head_dim]. q: [num_heads, head_dim]; k, v:
// [num_kv_heads, kv_capacity, head_dim].
std::vector<float> FlashAttnVec(const FlashAttnVecParams& p, const float* q, const f16* k,
                                const f16* v);
// NWG = 32, vector kernel: the unnormalised partials and (S, M) pairs, in tmp's layout
// (FlashAttnVecNwg32TmpBytes / 4 floats).
std::vector<float> FlashAttnVecNwg32Tmp(const FlashAttnVecParams& p, const float* q, const f16* k,
                                        const f16* v);
// NWG = 32, reduce kernel: out [num_heads, head_dim] from tmp.
std::vector<float> FlashAttnVecReduce(const FlashAttnVecParams& p, const std::vector<float>& tmp);

}  // namespace tgk::reference
