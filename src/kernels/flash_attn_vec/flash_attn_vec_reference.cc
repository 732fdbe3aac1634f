#include "kernels/flash_attn_vec/flash_attn_vec_reference.h"

#include <cmath>
#include <cstdint>

#include "tgk/convert.h"
#include "tgk/detail/collectives.h"
#include "tgk/math.h"

namespace tgk::reference {
namespace {

constexpr uint32_t kLanes = 32;                      // NL: one simdgroup
constexpr uint32_t kC = kFlashAttnVecBlock;          // positions per block
constexpr float kMaskedScore = -65504.0f;            // −max half
const float kInitialM = FloatFromBits(0xFEFFFFFFu);  // −FLT_MAX/2

// The canonical halving tree over 32 values (docs/spec/README.md).
template <class Combine>
float Tree(float x[kLanes], Combine combine) {
  for (uint32_t off = kLanes / 2; off >= 1; off /= 2) {
    for (uint32_t l = 0; l < off; ++l) x[l] = combine(x[l], x[l + off]);
  }
  return x[0];
}
float Sum(float x[kLanes]) {
  return Tree(x, [](float a, float b) { return a + b; });
}
float Max(float x[kLanes]) { return Tree(x, detail::CanonicalMax); }

// Section 2.1.
bool Visible(const FlashAttnVecParams& p, uint32_t pos) {
  if (pos >= p.kv_seq_len) return false;
  const uint32_t logical = (pos - p.ring_start + p.kv_capacity) % p.kv_capacity;
  const uint32_t w0 = p.mask_type == 2 && p.sliding_window > 0 && p.kv_seq_len > p.sliding_window
                          ? p.kv_seq_len - p.sliding_window
                          : 0;
  return !(logical >= p.kv_seq_len || logical < w0);
}

// One workgroup's state after its blocks (section 4).
struct State {
  float S = 0.0f;
  float M = kInitialM;
  std::vector<float> O;
};

// Workgroup w of `nwg` for head h: blocks w, w + nwg, ... in increasing order.
State Workgroup(const FlashAttnVecParams& p, const float* Q, const f16* K, const f16* V, uint32_t h,
                uint32_t w, uint32_t nwg) {
  const uint32_t hd = p.head_dim;
  const uint32_t kvh = h / (p.num_heads / p.num_kv_heads);
  std::vector<float> q(hd);
  for (uint32_t d = 0; d < hd; ++d) q[d] = F32FromF16(F16FromF32(Q[size_t{h} * hd + d]));
  const auto row = [&](uint32_t pos) { return (size_t{kvh} * p.kv_capacity + pos) * hd; };
  State st;
  st.O.assign(hd, 0.0f);
  for (uint32_t bi = w; size_t{bi} * kC < p.kv_seq_len; bi += nwg) {
    float m[kC];
    bool any_visible = false;
    for (uint32_t c = 0; c < kC; ++c) {
      const bool visible = Visible(p, bi * kC + c);
      m[c] = visible ? 0.0f : kMaskedScore;
      any_visible |= visible;
    }
    if (!any_visible) continue;
    // Step 1: Q·K, lane l's dims 128·j + 4·l + e, chunks j in order, then the tree over lanes.
    float s[kC];
    for (uint32_t c = 0; c < kC; ++c) {
      const uint32_t pos = bi * kC + c;
      float qk = 0.0f;
      if (pos < p.kv_seq_len) {
        float part[kLanes];
        for (uint32_t l = 0; l < kLanes; ++l) {
          part[l] = 0.0f;
          for (uint32_t j = 0; j < hd / 128; ++j) {
            const uint32_t d = 128 * j + 4 * l;
            const f16* k = K + row(pos) + d;
            const float dot4 = ((F32FromF16(k[0]) * q[d] + F32FromF16(k[1]) * q[d + 1]) +
                                F32FromF16(k[2]) * q[d + 2]) +
                               F32FromF16(k[3]) * q[d + 3];
            part[l] = part[l] + dot4;
          }
        }
        qk = Sum(part);
      }
      // Step 2: the score, one fused rounding.
      s[c] = std::fma(qk, p.scale, m[c]);
    }
    // Step 3: online softmax.
    const float M_old = st.M;
    float block[kC];
    std::copy(s, s + kC, block);
    st.M = detail::CanonicalMax(M_old, Max(block));
    const float ms = Exp(M_old - st.M);
    float v[kC];
    for (uint32_t c = 0; c < kC; ++c) v[c] = Exp(s[c] - st.M);
    std::copy(v, v + kC, block);
    st.S = st.S * ms + Sum(block);
    for (float& o : st.O) o = o * ms;
    // Step 4: P·V, positions in order; the tail past kv_seq_len adds nothing.
    for (uint32_t d = 0; d < hd; ++d) {
      float lo = 0.0f;
      for (uint32_t c = 0; c < kC; ++c) {
        const uint32_t pos = bi * kC + c;
        if (pos < p.kv_seq_len) lo = lo + F32FromF16(V[row(pos) + d]) * v[c];
      }
      st.O[d] = st.O[d] + lo;
    }
  }
  return st;
}

}  // namespace

std::vector<float> FlashAttnVec(const FlashAttnVecParams& p, const float* q, const f16* k,
                                const f16* v) {
  const uint32_t hd = p.head_dim;
  std::vector<float> out(size_t{p.num_heads} * hd);
  for (uint32_t h = 0; h < p.num_heads; ++h) {
    const State st = Workgroup(p, q, k, v, h, 0, 1);
    const float inv = st.S == 0.0f ? 0.0f : 1.0f / st.S;
    for (uint32_t d = 0; d < hd; ++d) out[size_t{h} * hd + d] = st.O[d] * inv;
  }
  return out;
}

std::vector<float> FlashAttnVecNwg32Tmp(const FlashAttnVecParams& p, const float* q, const f16* k,
                                        const f16* v) {
  const uint32_t hd = p.head_dim, nwg = kFlashAttnVecNwg;
  std::vector<float> tmp(FlashAttnVecNwg32TmpBytes(p.num_heads, hd) / sizeof(float));
  const size_t sm = size_t{p.num_heads} * hd * nwg;  // where the (S, M) pairs start
  for (uint32_t h = 0; h < p.num_heads; ++h) {
    for (uint32_t w = 0; w < nwg; ++w) {
      const State st = Workgroup(p, q, k, v, h, w, nwg);
      for (uint32_t i = 0; i < hd / 4; ++i) {
        for (uint32_t e = 0; e < 4; ++e) {
          tmp[((size_t{h} * (hd / 4) + i) * nwg + w) * 4 + e] = st.O[4 * i + e];
        }
      }
      tmp[sm + size_t{h} * 2 * nwg + 2 * w] = st.S;
      tmp[sm + size_t{h} * 2 * nwg + 2 * w + 1] = st.M;
    }
  }
  return tmp;
}

std::vector<float> FlashAttnVecReduce(const FlashAttnVecParams& p, const std::vector<float>& tmp) {
  const uint32_t hd = p.head_dim, nwg = kFlashAttnVecNwg;
  static_assert(kFlashAttnVecNwg == kLanes, "lane w of the reduce holds workgroup w");
  std::vector<float> out(size_t{p.num_heads} * hd);
  const size_t sm = size_t{p.num_heads} * hd * nwg;
  for (uint32_t h = 0; h < p.num_heads; ++h) {
    float x[kLanes], ms[kLanes];
    for (uint32_t w = 0; w < nwg; ++w) x[w] = tmp[sm + size_t{h} * 2 * nwg + 2 * w + 1];
    const float m = Max(x);
    for (uint32_t w = 0; w < nwg; ++w) {
      ms[w] = Exp(tmp[sm + size_t{h} * 2 * nwg + 2 * w + 1] - m);
      x[w] = tmp[sm + size_t{h} * 2 * nwg + 2 * w] * ms[w];
    }
    const float S = Sum(x);
    const float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (uint32_t i = 0; i < hd / 4; ++i) {
      for (uint32_t e = 0; e < 4; ++e) {
        for (uint32_t w = 0; w < nwg; ++w) {
          x[w] = tmp[((size_t{h} * (hd / 4) + i) * nwg + w) * 4 + e] * ms[w];
        }
        out[size_t{h} * hd + 4 * i + e] = Sum(x) * inv;
      }
    }
  }
  return out;
}

}  // namespace tgk::reference
