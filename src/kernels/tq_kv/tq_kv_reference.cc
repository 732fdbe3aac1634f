#include "kernels/tq_kv/tq_kv_reference.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "kernels/tq_kv/tq_codebooks.h"

namespace tgk::reference::tq {

// r_D: 2^-k for D = 4^k, 2^-k·(binary32 nearest 1/√2) for D = 2·4^k (r_512 = 0x3D3504F3),
// and for other D the binary32 nearest 1/√D through long double.
float RD(uint32_t d) {
  if (std::has_single_bit(d)) {
    const int e = std::countr_zero(d);
    if (e % 2 == 0) return std::ldexp(1.0f, -e / 2);
    return std::ldexp(std::bit_cast<float>(0x3F3504F3u), -(e - 1) / 2);
  }
  return float(1.0L / std::sqrt((long double)d));
}

float Sigma(uint32_t d, size_t j) {
  const uint8_t* s = d == 256 ? kTqSigns256 : kTqSigns512;
  return ((s[j >> 3] >> (j & 7)) & 1) ? -1.0f : 1.0f;
}

// FWHT, spec section 1: stages s = 1, 2, ..., D/2, in place, the lower index gets the sum.
void Fwht(std::vector<float>& y) {
  for (size_t s = 1; s < y.size(); s *= 2) {
    for (size_t j = 0; j < y.size(); ++j) {
      if (j & s) continue;
      const float a = y[j], b = y[j + s];
      y[j] = a + b;
      y[j + s] = a - b;
    }
  }
}

// The halving tree (README's canonical simd_sum, and the fallback's shared-memory tree).
float Tree(std::vector<float> x) {
  for (size_t off = x.size() / 2; off >= 1; off /= 2) {
    for (size_t l = 0; l < off; ++l) x[l] = x[l] + x[l + off];
  }
  return x[0];
}

// idx_b(v) = #{i : v > T_b[i]}.
uint32_t Index(float v, uint32_t bits) {
  const TqTable t = TqTableFor(bits);
  uint32_t count = 0;
  for (uint32_t i = 0; i + 1 < t.levels; ++i) count += v > t.boundaries[i];
  return count;
}

// Section 3.1: D = 256 or 512.
Encoded EncodeFast(const float* x, uint32_t d, uint32_t bits, float sf) {
  std::vector<float> y(d);
  for (size_t j = 0; j < d; ++j) y[j] = x[j] * Sigma(d, j);
  Fwht(y);
  for (float& v : y) v = v * RD(d);
  const uint32_t e = d / 32;
  std::vector<float> lane_sums(32);
  for (uint32_t l = 0; l < 32; ++l) {
    float a = 0.0f;
    for (uint32_t i = 0; i < e; ++i) a = a + y[l * e + i] * y[l * e + i];
    lane_sums[l] = a;
  }
  Encoded out;
  std::vector<float> c;
  if (d == 256) {
    const float n = std::sqrt(Tree(lane_sums));
    const float inv = n > 1e-10f ? 1.0f / n : 0.0f;
    c.push_back(inv * 16.0f);
    out.norms.push_back(n);
  } else {
    for (uint32_t b = 0; b < 2; ++b) {
      const std::vector<float> block(lane_sums.begin() + 16 * b, lane_sums.begin() + 16 * b + 16);
      const float n = std::sqrt(Tree(block) / 256.0f);
      const float inv = n > 1e-10f ? 1.0f / n : 0.0f;
      c.push_back(inv * sf);
      out.norms.push_back(n);
    }
  }
  for (size_t j = 0; j < d; ++j) out.q.push_back(Index(y[j] * c[j / 256], bits));
  return out;
}

// Spec 3.3: other power-of-two D, no signs, a division.
Encoded EncodeFallback(const float* x, uint32_t d) {
  std::vector<float> y(x, x + d);
  Fwht(y);
  std::vector<float> v(d), squares(d);
  for (size_t j = 0; j < d; ++j) {
    v[j] = y[j] * RD(d);
    squares[j] = v[j] * v[j];
  }
  const float n = std::sqrt(Tree(squares));
  Encoded out;
  out.norms.push_back(n);
  for (size_t j = 0; j < d; ++j) {
    const float u = n > 1e-10f ? v[j] / n : 0.0f;
    out.q.push_back(Index(u * std::sqrt(float(d)), 4));
  }
  return out;
}

Encoded Encode(const float* x, uint32_t d, uint32_t bits, float sf) {
  return d == 256 || d == 512 ? EncodeFast(x, d, bits, sf) : EncodeFallback(x, d);
}

// Writes an encoded vector into cache row `row` (spec section 2).
void Store(const Encoded& e, uint32_t d, uint32_t bits, uint64_t row, std::vector<uint8_t>& packed,
           std::vector<float>& norms) {
  if (bits == 4) {
    for (size_t j = 0; j < d; j += 2) {
      packed[row * (d / 2) + j / 2] = uint8_t(e.q[j] | (e.q[j + 1] << 4));  // even j: low nibble
    }
  } else {
    for (size_t j = 0; j < d; ++j) packed[row * d + j] = uint8_t(e.q[j]);
  }
  // The fast encoders write npp norms per row; the fallback one norm at row (stride 1).
  for (size_t b = 0; b < e.norms.size(); ++b) norms[row * e.norms.size() + b] = e.norms[b];
}

// Spec sections 4 and 5: element j of head h at cache row `row`.
float Decode(const std::vector<uint8_t>& packed, const std::vector<float>& norms, uint32_t d,
             uint32_t bits, uint64_t row, size_t j, float sf) {
  uint32_t q;
  if (bits == 4) {
    const uint8_t byte = packed[row * (d / 2) + j / 2];
    q = j % 2 == 0 ? byte & 0xF : byte >> 4;
  } else {
    q = packed[row * d + j] & (bits == 5 ? 0x1F : bits == 6 ? 0x3F : 0xFF);
  }
  const uint32_t npp = std::max(1u, d / 256);
  const float sn = d <= 256 ? norms[row * npp] * RD(d)
                            : norms[row * npp + std::min<size_t>(j / 256, npp - 1)] / sf;
  return TqTableFor(bits).codebook[q] * sn;
}

// x̂ = σ ⊙ H(ŷ) for D = 256, 512; H(ŷ) otherwise.
std::vector<float> InverseRotate(const float* in, uint32_t d) {
  std::vector<float> y(in, in + d);
  Fwht(y);
  for (size_t j = 0; j < d; ++j) {
    y[j] = y[j] * RD(d);
    if (d == 256 || d == 512) y[j] = y[j] * Sigma(d, j);
  }
  return y;
}

}  // namespace tgk::reference::tq
