// The plain reference of the tq_kv family (docs/spec/tq_kv.md): the spec's steps as sequential
// loops, independent of the kernels' lane structure (in-place butterflies, the canonical tree as
// a loop, boundary counts), with IEEE sqrt and division. Bit-exact by construction; the
// encoders, dequantisers and inverse rotation on every target and thread count must give its
// bits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tgk::reference::tq {

// r_D: 2^-k for D = 4^k, 2^-k·(binary32 nearest 1/√2) for D = 2·4^k (r_512 = 0x3D3504F3),
// and for other D the binary32 nearest 1/√D.
float RD(uint32_t d);
// σ_j of the SRHT sign table of D = 256 or 512.
float Sigma(uint32_t d, size_t j);
// The unnormalised butterfly: stages s = 1, 2, ..., D/2, in place, the lower index gets the sum.
void Fwht(std::vector<float>& y);
// The canonical halving tree over x (any power-of-two size).
float Tree(std::vector<float> x);
// idx_b(v) = #{i : v > T_b[i]}.
uint32_t Index(float v, uint32_t bits);

// One encoded vector: its indices and its norms (1 for D = 256 and the fallback, 2 for 512).
struct Encoded {
  std::vector<uint32_t> q;
  std::vector<float> norms;
};
// The fast and higher-bit encoders: D = 256 or 512, `bits` 4, 5, 6 or 8.
Encoded EncodeFast(const float* x, uint32_t d, uint32_t bits, float sf);
// The fallback 4-bit encoder: other power-of-two D, no signs, a division.
Encoded EncodeFallback(const float* x, uint32_t d);
// The encoder the 4-bit dispatcher (bits 4) or the higher-bit one uses for D.
Encoded Encode(const float* x, uint32_t d, uint32_t bits, float sf);
// Writes an encoded vector into cache row `row` (= h·cap + p) of the format of `bits`.
void Store(const Encoded& e, uint32_t d, uint32_t bits, uint64_t row, std::vector<uint8_t>& packed,
           std::vector<float>& norms);
// The dequantised value of element j of cache row `row`.
float Decode(const std::vector<uint8_t>& packed, const std::vector<float>& norms, uint32_t d,
             uint32_t bits, uint64_t row, size_t j, float sf);
// x̂ = σ ⊙ H(ŷ) for D = 256, 512; H(ŷ) otherwise, for one vector of D floats.
std::vector<float> InverseRotate(const float* in, uint32_t d);

}  // namespace tgk::reference::tq
