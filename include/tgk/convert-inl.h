// bf16 and f16 conversions for lane bodies, per Highway target. The vector versions compute
// exactly the scalar definitions of convert.h (tests/convert_test.cc checks every 16-bit
// pattern and the rounding boundaries on every compiled target). Values travel as u32 lanes
// holding the 16-bit pattern in their low half.
//
// On AVX-512 targets, where the CPU has AVX512_BF16 (detail/cpu.h), NarrowBF16 and RoundBF16
// convert with its VCVTNEPS2BF16: it rounds to nearest even and quiets a NaN (keeping the top
// of its payload) exactly as BF16FromF32 does, but it reads a subnormal input as zero. A vector
// without subnormals takes it (5 operations for RoundBF16 instead of 10: kkt's staging of k·β,
// 5% of its time in cache on Zen 4); a vector with any takes the integer path.

#if defined(TGK_CONVERT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_CONVERT_INL_H_
#undef TGK_CONVERT_INL_H_
#else
#define TGK_CONVERT_INL_H_
#endif

#include <hwy/highway.h>

#include "tgk/convert.h"
#include "tgk/detail/cpu.h"
#include "tgk/ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

HWY_API float WidenBF16(uint32_t bits) { return F32FromBF16(bf16{uint16_t(bits)}); }
HWY_API uint32_t NarrowBF16(float f) { return BF16FromF32(f).bits; }
HWY_API float RoundBF16(float f) { return RoundToBF16(f); }
HWY_API float WidenF16(uint32_t bits) { return F32FromF16(f16{uint16_t(bits)}); }
HWY_API uint32_t NarrowF16(float f) { return F16FromF32(f).bits; }
HWY_API float RoundF16(float f) { return F32FromF16(F16FromF32(f)); }

template <class VU, hwy::EnableIf<!hwy::IsFloat<hn::TFromV<VU>>()>* = nullptr>
HWY_API auto WidenBF16(VU bits) {
  const VU u = hn::ShiftLeft<16>(bits);
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR
  // x86's multiplication by one quiets a signalling NaN as F32FromBF16 does (the quiet bit set,
  // the payload kept) and returns every other value as it is (subnormals too: tgk runs without
  // flush to zero): one operation where the NaN test and select below take four. The one is
  // the library's (detail/cpu.h): a compiler that sees the constant folds x·1 to x.
  const hn::Rebind<float, hn::DFromV<VU>> df;
  return hn::Mul(hn::BitCast(df, u), hn::Set(df, detail::kOpaqueOne));
#else
  const hn::DFromV<VU> du;
  const auto is_nan = hn::Gt(hn::And(u, hn::Set(du, 0x7FFFFFFFu)), hn::Set(du, 0x7F800000u));
  return FloatFromBits(hn::IfThenElse(is_nan, hn::Or(u, hn::Set(du, 0x00400000u)), u));
#endif
}

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
namespace convert_detail {
// The CPU's conversion of f to bf16 patterns (16 u16 lanes) into `narrow`; false, with `narrow`
// unset, where the CPU has none or f holds a subnormal (fpclass category 0x20).
HWY_INLINE bool NarrowBF16ByCpu(__m512 f, __m256i& narrow) {
  if (!detail::kCpuHasAvx512Bf16 || _mm512_fpclass_ps_mask(f, 0x20) != 0) return false;
  // Inline assembly: the AVX3 targets' functions are not compiled for AVX512_BF16, so its
  // intrinsic cannot be called from them.
  asm("vcvtneps2bf16 {%1, %0|%0, %1}" : "=v"(narrow) : "v"(f));
  return true;
}
}  // namespace convert_detail
#endif

template <class VF, hwy::EnableIf<hwy::IsFloat<hn::TFromV<VF>>()>* = nullptr>
HWY_API auto NarrowBF16(VF f) {
  const hn::RebindToUnsigned<hn::DFromV<VF>> du;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  if constexpr (sizeof(VF) == 64) {
    __m256i narrow;
    if (convert_detail::NarrowBF16ByCpu(f.raw, narrow)) {
      return decltype(hn::Zero(du)){_mm512_cvtepu16_epi32(narrow)};
    }
  }
#endif
  const auto u = BitsOf(f);
  const auto upper = hn::ShiftRight<16>(u);
  const auto is_nan = hn::Gt(hn::And(u, hn::Set(du, 0x7FFFFFFFu)), hn::Set(du, 0x7F800000u));
  const auto bias = hn::Add(hn::Set(du, 0x7FFFu), hn::And(upper, hn::Set(du, 1u)));
  const auto rounded = hn::ShiftRight<16>(hn::Add(u, bias));
  return hn::IfThenElse(is_nan, hn::Or(upper, hn::Set(du, 0x0040u)), rounded);
}

template <class VF, hwy::EnableIf<hwy::IsFloat<hn::TFromV<VF>>()>* = nullptr>
HWY_API VF RoundBF16(VF f) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  if constexpr (sizeof(VF) == 64) {
    __m256i narrow;
    if (convert_detail::NarrowBF16ByCpu(f.raw, narrow)) {
      // Pattern k into the upper half of lane k: one word permute, the lower halves zeroed.
      const __m512i upper_words =
          _mm512_set_epi16(15, 0, 14, 0, 13, 0, 12, 0, 11, 0, 10, 0, 9, 0, 8, 0, 7, 0, 6, 0, 5, 0,
                           4, 0, 3, 0, 2, 0, 1, 0, 0, 0);
      return VF{_mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(
          0xAAAAAAAAu, upper_words, _mm512_castsi256_si512(narrow)))};
    }
  }
#endif
  return FloatFromBits(hn::ShiftLeft<16>(NarrowBF16(f)));
}

template <class VU, hwy::EnableIf<!hwy::IsFloat<hn::TFromV<VU>>()>* = nullptr>
HWY_API auto WidenF16(VU bits) {
  const hn::DFromV<VU> du;
  const hn::Rebind<float, decltype(du)> df;
  const hn::RebindToSigned<decltype(du)> di;
  const auto sign = hn::ShiftLeft<16>(hn::And(bits, hn::Set(du, 0x8000u)));
  const auto exponent = hn::And(hn::ShiftRight<10>(bits), hn::Set(du, 0x1Fu));
  const auto mantissa = hn::And(bits, hn::Set(du, 0x3FFu));
  const auto mantissa_f32 = hn::ShiftLeft<13>(mantissa);

  const auto normal = hn::Or(hn::ShiftLeft<23>(hn::Add(exponent, hn::Set(du, 112u))), mantissa_f32);
  const auto quiet = hn::IfThenElseZero(hn::Ne(mantissa, hn::Zero(du)), hn::Set(du, 0x00400000u));
  const auto special = hn::Or(hn::Or(hn::Set(du, 0x7F800000u), mantissa_f32), quiet);
  const auto subnormal =
      BitsOf(hn::Mul(hn::ConvertTo(df, hn::BitCast(di, mantissa)), hn::Set(df, 0x1p-24f)));

  auto magnitude = hn::IfThenElse(hn::Eq(exponent, hn::Set(du, 0x1Fu)), special, normal);
  magnitude = hn::IfThenElse(hn::Eq(exponent, hn::Zero(du)), subnormal, magnitude);
  return FloatFromBits(hn::Or(sign, magnitude));
}

template <class VF, hwy::EnableIf<hwy::IsFloat<hn::TFromV<VF>>()>* = nullptr>
HWY_API auto NarrowF16(VF f) {
  const hn::DFromV<VF> df;
  const hn::RebindToUnsigned<decltype(df)> du;
  const auto u = BitsOf(f);
  const auto sign = hn::And(hn::ShiftRight<16>(u), hn::Set(du, 0x8000u));
  const auto magnitude = hn::And(u, hn::Set(du, 0x7FFFFFFFu));

  const auto nan =
      hn::Or(hn::Set(du, 0x7E00u), hn::And(hn::ShiftRight<13>(magnitude), hn::Set(du, 0x3FFu)));
  const auto bias =
      hn::Add(hn::Set(du, 0xFFFu), hn::And(hn::ShiftRight<13>(magnitude), hn::Set(du, 1u)));
  const auto normal =
      hn::ShiftRight<13>(hn::Add(hn::Sub(magnitude, hn::Set(du, 0x38000000u)), bias));
  const auto scaled =
      hn::Add(hn::Mul(FloatFromBits(magnitude), hn::Set(df, 0x1p24f)), hn::Set(df, 0x1p23f));
  const auto subnormal = hn::Sub(BitsOf(scaled), hn::Set(du, 0x4B000000u));

  // Highway 1.0.3 has no unsigned >= on x86: m >= c is written m > c - 1.
  auto result = hn::IfThenElse(hn::Gt(magnitude, hn::Set(du, 0x387FFFFFu)), normal, subnormal);
  result =
      hn::IfThenElse(hn::Gt(magnitude, hn::Set(du, 0x477FEFFFu)), hn::Set(du, 0x7C00u), result);
  result = hn::IfThenElse(hn::Gt(magnitude, hn::Set(du, 0x7F800000u)), nan, result);
  return hn::Or(sign, result);
}

// f32 → nearest f16 (ties to even) → f32: the value a store to f16 and a reload give.
template <class VF, hwy::EnableIf<hwy::IsFloat<hn::TFromV<VF>>()>* = nullptr>
HWY_API VF RoundF16(VF f) {
  return WidenF16(NarrowF16(f));
}

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_CONVERT_INL_H_
