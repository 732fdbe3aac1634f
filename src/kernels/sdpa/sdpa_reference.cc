#include "kernels/sdpa/sdpa_reference.h"

#include <algorithm>
#include <limits>

#include "tgk/convert.h"
#include "tgk/detail/collectives.h"
#include "tgk/math.h"

namespace tgk::reference {
namespace {

float Widen(float x) { return x; }
float Widen(bf16 x) { return F32FromBF16(x); }
void Store(float o, float& out) { out = o; }
void Store(float o, bf16& out) { out = BF16FromF32(o); }

// Section 3, for one dtype: O[b, h, q, d] = acc[d] · (1 / L) after the keys p < n_q.
template <class T>
std::vector<T> Attention(const SdpaParams& p, const std::vector<T>& Q, const std::vector<T>& K,
                         const std::vector<T>& V) {
  const size_t hd = p.head_dim;
  const uint32_t capacity = p.kv_capacity ? p.kv_capacity : p.kv_seq_len;
  std::vector<T> O(size_t{p.batch} * p.n_heads * p.seq_len * hd);
  std::vector<float> acc(hd);
  for (uint32_t b = 0; b < p.batch; ++b) {
    for (uint32_t h = 0; h < p.n_heads; ++h) {
      const uint32_t kh = h / (p.n_heads / p.n_kv_heads);
      const size_t kv = (size_t{b} * p.n_kv_heads + kh) * capacity * hd;
      for (uint32_t q = 0; q < p.seq_len; ++q) {
        const size_t row = ((size_t{b} * p.n_heads + h) * p.seq_len + q) * hd;
        // Section 2: queries aligned to the end of the keys, in u32 arithmetic.
        const uint32_t n_q = std::min(p.kv_seq_len - p.seq_len + q + 1, p.kv_seq_len);
        float M = -std::numeric_limits<float>::infinity(), L = 0.0f;
        std::fill(acc.begin(), acc.end(), 0.0f);
        for (uint32_t key = 0; key < n_q; ++key) {
          float dot = 0.0f;
          for (size_t d = 0; d < hd; ++d) {
            dot = dot + Widen(Q[row + d]) * Widen(K[kv + key * hd + d]);
          }
          const float s = dot * p.scale;
          const float M_old = M;
          M = detail::CanonicalMax(M, s);
          const float corr = Exp(M_old - M);
          L = L * corr + Exp(s - M);
          const float w = Exp(s - M);
          for (size_t d = 0; d < hd; ++d) {
            acc[d] = acc[d] * corr + w * Widen(V[kv + key * hd + d]);
          }
        }
        const float inv = 1.0f / L;
        for (size_t d = 0; d < hd; ++d) Store(acc[d] * inv, O[row + d]);
      }
    }
  }
  return O;
}

}  // namespace

std::vector<float> Sdpa(const SdpaParams& p, const std::vector<float>& q,
                        const std::vector<float>& k, const std::vector<float>& v) {
  return Attention(p, q, k, v);
}

std::vector<bf16> SdpaBF16(const SdpaParams& p, const std::vector<bf16>& q,
                           const std::vector<bf16>& k, const std::vector<bf16>& v) {
  return Attention(p, q, k, v);
}

}  // namespace tgk::reference
