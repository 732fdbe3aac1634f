// tgk's exponential: one source for the scalar lanes (float) and every Highway target (vectors).
// It uses only operations whose results are fully specified (IEEE add/mul, fused Fma, integer
// bit manipulation), so every path returns the same bits.
//
// Method: k = round(x·log2 e) by the 1.5·2^23 addition trick; r = x − k·ln2 with ln2 split in
// two and each step fused; e^r ≈ 1 + r·(1 + r·(1/2 + r·(1/6 + … + r/5040))), the degree-7
// Taylor polynomial in Horner form with every step fused, so that the last step, 1 + r·(…),
// rounds once (1 + (r + r²·q) rounds twice: up to 1.06 ulp); the result is scaled by 2^k in two
// exact halves (2^⌊k/2⌋ then 2^(k−⌊k/2⌋)) so that overflow and gradual underflow round once,
// correctly. On AVX-512 the scaling is one VSCALEFPS, p·2^k rounded once: the same bits.
// Accuracy (tests/math_test.cc, exhaustive over all 2^32 f32 inputs, against the fp64 exp):
// every finite non-zero result is within 0.9387 ulp of the exact value (the maximum, at
// x = 26.688921 = 0x41D582E9); 10,239,483 of the 2,239,849,421 such results (0.46%) are not
// correctly rounded. exp(±0) = 1, exp(+inf) = +inf, exp(-inf) = +0, exp(NaN) = NaN; results
// below half the smallest subnormal (x < -103.972076) are +0 and above FLT_MAX
// (x > 88.7228317) are +inf.

#if defined(TGK_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_MATH_INL_H_
#undef TGK_MATH_INL_H_
#else
#define TGK_MATH_INL_H_
#endif

#include <hwy/highway.h>

#include "tgk/ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

namespace impl {
// Uniform constants become varying values of the operand's kind.
HWY_API float Broadcast(float, float c) { return c; }
HWY_API uint32_t Broadcast(float, uint32_t c) { return c; }
template <class V>
HWY_API V Broadcast(V, float c) {
  return hn::Set(hn::DFromV<V>(), c);
}
template <class V>
HWY_API auto Broadcast(V, uint32_t c) {
  return hn::Set(hn::RebindToUnsigned<hn::DFromV<V>>(), c);
}

// x clamped to [lo, hi]. What a NaN x becomes is unspecified: Exp replaces its result. Vectors
// take Max and Min (two operations where the selects take four).
HWY_API float Clamp(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }
template <class V>
HWY_API V Clamp(V x, float lo, float hi) {
  const hn::DFromV<V> d;
  return hn::Min(hn::Max(x, hn::Set(d, lo)), hn::Set(d, hi));
}

// p·2^k rounded once, for k an integer in [−150, 128] that also sits in the low mantissa bits
// of t = 1.5·2^23 + k: scaled by 2^⌊k/2⌋, exactly (p is near 1), then by 2^(k−⌊k/2⌋), which
// rounds overflow and gradual underflow once, correctly.
template <class VF>
HWY_API VF ScaleByPowerOfTwo(VF p, VF /*k*/, VF t) {
  const auto u = [p](uint32_t value) HWY_ATTR { return Broadcast(p, value); };
  const auto k_int = AsSigned(BitsOf(t) - u(0x4B400000u));
  const auto k_half = Sar<1>(k_int);
  const auto scale_bias = AsSigned(u(127u));
  const VF scale1 = FloatFromBits(Shl<23>(AsUnsigned(k_half + scale_bias)));
  const VF scale2 = FloatFromBits(Shl<23>(AsUnsigned(k_int - k_half + scale_bias)));
  return (p * scale1) * scale2;
}
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
// AVX-512: VSCALEFPS rounds p·2^k once as well (tgk runs with the default MXCSR: no
// flush to zero), one operation for the nine above.
HWY_API hn::Vec512<float> ScaleByPowerOfTwo(hn::Vec512<float> p, hn::Vec512<float> k,
                                            hn::Vec512<float> /*t*/) {
  return hn::Vec512<float>{_mm512_scalef_ps(p.raw, k.raw)};
}
#endif
}  // namespace impl

template <class VF>
HWY_API VF Exp(VF x) {
  const auto c = [x](float value) HWY_ATTR { return impl::Broadcast(x, value); };

  // Beyond these bounds the result is +inf or +0 anyway; clamping keeps k in range.
  const VF xc = impl::Clamp(x, -104.0f, 89.0f);

  const VF shifter = c(0x1.8p23f);
  const VF t = xc * c(1.44269502f) + shifter;  // log2(e) rounded to f32
  const VF k = t - shifter;
  VF r = Fma(k, c(-0.693145752f), xc);  // ln2 high part, 0x3F317200 (exact product for |k|<2^9)
  r = Fma(k, c(-1.42860677e-06f), r);   // ln2 - high part

  VF q = c(1.0f / 5040.0f);
  q = Fma(q, r, c(1.0f / 720.0f));
  q = Fma(q, r, c(1.0f / 120.0f));
  q = Fma(q, r, c(1.0f / 24.0f));
  q = Fma(q, r, c(1.0f / 6.0f));
  q = Fma(q, r, c(0.5f));
  q = Fma(q, r, c(1.0f));
  const VF p = Fma(q, r, c(1.0f));

  return Select(IsNaN(x), x + x, impl::ScaleByPowerOfTwo(p, k, t));
}

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_MATH_INL_H_
