// tgk's conversions between f32 and the 16-bit float formats: the scalar definitions that
// every SIMD path reproduces bit for bit (tests compare all targets against these).
//
// - Widening (bf16 -> f32, f16 -> f32) is exact; a NaN stays NaN with its payload and becomes
//   quiet.
// - Narrowing rounds to nearest, ties to even; a NaN stays NaN (payload truncated, made quiet);
//   overflow goes to infinity; subnormals are produced and consumed, never flushed.
// Highway 1.0.3's DemoteTo truncates bf16 and, without F16C, f16: it is never used for these.
#pragma once

#include <cstdint>
#include <cstring>

#include "tgk/dtype.h"

namespace tgk {

inline uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float FloatFromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float F32FromBF16(bf16 h) {
  uint32_t u = uint32_t{h.bits} << 16;
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) u |= 0x00400000u;  // quiet a signalling NaN
  return FloatFromBits(u);
}

inline bf16 BF16FromF32(float f) {
  const uint32_t u = BitsOf(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return bf16{uint16_t((u >> 16) | 0x0040u)};
  const uint32_t rounding_bias = 0x7FFFu + ((u >> 16) & 1u);
  return bf16{uint16_t((u + rounding_bias) >> 16)};
}

// The f32 value nearest-even to `f` that bf16 can hold (what a bf16 store and reload gives).
inline float RoundToBF16(float f) { return F32FromBF16(BF16FromF32(f)); }

inline float F32FromF16(f16 h) {
  const uint32_t sign = uint32_t(h.bits & 0x8000u) << 16;
  const uint32_t exponent = (h.bits >> 10) & 0x1Fu;
  const uint32_t mantissa = h.bits & 0x3FFu;
  if (exponent == 0x1Fu) {  // Inf, or NaN made quiet
    return FloatFromBits(sign | 0x7F800000u | (mantissa << 13) | (mantissa ? 0x00400000u : 0u));
  }
  if (exponent != 0) return FloatFromBits(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24 is exact in f32.
  const float magnitude = float(mantissa) * 0x1p-24f;
  return FloatFromBits(sign | BitsOf(magnitude));
}

inline f16 F16FromF32(float f) {
  const uint32_t u = BitsOf(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t magnitude = u & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) {  // NaN: keep the top payload bits, make it quiet
    return f16{uint16_t(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu))};
  }
  if (magnitude >= 0x477FF000u) return f16{uint16_t(sign | 0x7C00u)};  // rounds to >= 2^16
  if (magnitude >= 0x38800000u) {  // normal f16 (|f| >= 2^-14)
    const uint32_t rounding_bias = 0xFFFu + ((magnitude >> 13) & 1u);
    return f16{uint16_t(sign | ((magnitude - 0x38000000u + rounding_bias) >> 13))};
  }
  // Subnormal or zero: f16 value = round(|f| * 2^24) units of 2^-24; the product is exact and
  // the float-to-int step below rounds to nearest even through the magic-number addition.
  const float scaled = FloatFromBits(magnitude) * 0x1p24f + 0x1p23f;
  return f16{uint16_t(sign | (BitsOf(scaled) - 0x4B000000u))};
}

}  // namespace tgk
