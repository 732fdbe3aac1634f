// Varying-value operations for kernel lane bodies, per Highway target. Every operation has an
// overload for the scalar lane's types (float, uint32_t, int32_t, bool masks) and one for
// Highway vectors, with the same result bits: the scalar overload is the definition.
//
// Arithmetic uses the ordinary operators (+ - * / and comparisons) on both kinds; they are
// IEEE single operations, never contracted (-ffp-contract=off). What needs care is here:
//   Fma          fused on every path (hardware FMA, or std::fma per lane on the fallback)
//   Max, Min     canonical: a NaN operand is ignored (maxNum/minNum), and -0 < +0
//   Select       per-lane choice under a mask
//   AndMask/OrMask/NotMask, BitsOf/FloatFromBits, Shl/Shr, ToFloat
//
// Per-target header: include it after hwy/highway.h, inside a foreach_target pass.

#if defined(TGK_OPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_OPS_INL_H_
#undef TGK_OPS_INL_H_
#else
#define TGK_OPS_INL_H_
#endif

#include <cmath>
#include <cstdint>
#include <cstring>

#include <hwy/highway.h>

#include "tgk/convert.h"
#include "tgk/detail/collectives.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using tgk::BitsOf;
using tgk::FloatFromBits;

// ---- scalar overloads: the definitions -------------------------------------------------

HWY_API float Fma(float a, float b, float c) { return std::fma(a, b, c); }

template <class T>
HWY_API T Select(bool m, T yes, T no) {
  return m ? yes : no;
}
HWY_API bool AndMask(bool a, bool b) { return a && b; }
HWY_API bool OrMask(bool a, bool b) { return a || b; }
HWY_API bool NotMask(bool a) { return !a; }
HWY_API bool IsNaN(float a) { return std::isnan(a); }

template <int kBits>
HWY_API uint32_t Shl(uint32_t v) {
  return v << kBits;
}
template <int kBits>
HWY_API uint32_t Shr(uint32_t v) {
  return v >> kBits;
}
template <int kBits>
HWY_API int32_t Sar(int32_t v) {
  return v >> kBits;  // arithmetic shift (C++20)
}
HWY_API float ToFloat(int32_t v) { return static_cast<float>(v); }
HWY_API int32_t AsSigned(uint32_t v) { return static_cast<int32_t>(v); }
HWY_API uint32_t AsUnsigned(int32_t v) { return static_cast<uint32_t>(v); }

// ---- vector overloads -------------------------------------------------------------------

template <class D>
using VecF = hn::Vec<D>;

template <class V, hwy::EnableIf<hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
HWY_API V Fma(V a, V b, V c) {
#if HWY_NATIVE_FMA
  return hn::MulAdd(a, b, c);
#else
  // The fallback targets have no fused instruction; std::fma per lane is exact.
  const hn::DFromV<V> d;
  HWY_ALIGN float la[hn::MaxLanes(d)], lb[hn::MaxLanes(d)], lc[hn::MaxLanes(d)];
  hn::Store(a, d, la);
  hn::Store(b, d, lb);
  hn::Store(c, d, lc);
  for (size_t i = 0; i < hn::Lanes(d); ++i) la[i] = std::fma(la[i], lb[i], lc[i]);
  return hn::Load(d, la);
#endif
}

template <class V, hwy::EnableIf<hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
HWY_API auto IsNaN(V v) {
  return hn::IsNaN(v);  // not Ne(v, v): x86's != is an ordered compare, false for NaN
}

// Max and Min are function objects, not overload sets: on Highway vectors an unqualified
// Max(a, b) would also find hn::Max by argument-dependent lookup, a non-template that beats
// any template here and has the instruction's rules (x86 maxps returns its second operand
// when either is NaN, and whichever zero is second). Lookup that finds an object does no
// argument-dependent lookup, so kernels always get these.
struct MaxFn {
  HWY_INLINE HWY_ATTR float operator()(float a, float b) const {
    return tgk::detail::CanonicalMax(a, b);
  }
  HWY_INLINE HWY_ATTR uint32_t operator()(uint32_t a, uint32_t b) const { return a > b ? a : b; }
  template <class V, hwy::EnableIf<hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
  HWY_INLINE HWY_ATTR V operator()(V a, V b) const {
    const hn::DFromV<V> d;
    const hn::RebindToSigned<decltype(d)> di;
    const auto both_zero = hn::And(hn::Eq(a, hn::Zero(d)), hn::Eq(b, hn::Zero(d)));
    // +0 unless both are -0.
    const auto zero_max = hn::BitCast(d, hn::And(hn::BitCast(di, a), hn::BitCast(di, b)));
    V m = hn::IfThenElse(hn::Gt(b, a), b, a);
    m = hn::IfThenElse(both_zero, zero_max, m);
    // A NaN operand loses; when both are NaN the result is b, as in the scalar definition.
    m = hn::IfThenElse(hn::IsNaN(b), a, m);
    return hn::IfThenElse(hn::IsNaN(a), b, m);
  }
  template <class V, hwy::EnableIf<!hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
  HWY_INLINE HWY_ATTR V operator()(V a, V b) const {
    return hn::Max(a, b);
  }
};

struct MinFn {
  HWY_INLINE HWY_ATTR float operator()(float a, float b) const {
    if (std::isnan(a)) return b;
    if (std::isnan(b)) return a;
    if (a == b) return std::signbit(a) ? a : b;  // -0 beats +0
    return a < b ? a : b;
  }
  HWY_INLINE HWY_ATTR uint32_t operator()(uint32_t a, uint32_t b) const { return a < b ? a : b; }
  template <class V, hwy::EnableIf<hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
  HWY_INLINE HWY_ATTR V operator()(V a, V b) const {
    const hn::DFromV<V> d;
    const hn::RebindToSigned<decltype(d)> di;
    const auto both_zero = hn::And(hn::Eq(a, hn::Zero(d)), hn::Eq(b, hn::Zero(d)));
    // -0 unless both are +0.
    const auto zero_min = hn::BitCast(d, hn::Or(hn::BitCast(di, a), hn::BitCast(di, b)));
    V m = hn::IfThenElse(hn::Lt(b, a), b, a);
    m = hn::IfThenElse(both_zero, zero_min, m);
    m = hn::IfThenElse(hn::IsNaN(b), a, m);
    return hn::IfThenElse(hn::IsNaN(a), b, m);
  }
  template <class V, hwy::EnableIf<!hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
  HWY_INLINE HWY_ATTR V operator()(V a, V b) const {
    return hn::Min(a, b);
  }
};

inline constexpr MaxFn Max{};
inline constexpr MinFn Min{};

// The mask may come from a comparison of another 32-bit lane type (u32 ids selecting f32s).
template <class M, class V>
HWY_API V Select(M m, V yes, V no) {
  return hn::IfThenElse(hn::RebindMask(hn::DFromV<V>(), m), yes, no);
}
template <class M>
HWY_API M AndMask(M a, M b) {
  return hn::And(a, b);
}
template <class M>
HWY_API M OrMask(M a, M b) {
  return hn::Or(a, b);
}
template <class M>
HWY_API M NotMask(M a) {
  return hn::Not(a);
}

template <class V, hwy::EnableIf<hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
HWY_API auto BitsOf(V v) {
  return hn::BitCast(hn::RebindToUnsigned<hn::DFromV<V>>(), v);
}
template <class V, hwy::EnableIf<!hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
HWY_API auto FloatFromBits(V v) {
  return hn::BitCast(hn::Rebind<float, hn::DFromV<V>>(), v);
}
template <int kBits, class V, hwy::EnableIf<!hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
HWY_API V Shl(V v) {
  return hn::ShiftLeft<kBits>(v);
}
template <int kBits, class V, hwy::EnableIf<!hwy::IsSigned<hn::TFromV<V>>()>* = nullptr>
HWY_API V Shr(V v) {
  return hn::ShiftRight<kBits>(v);
}
template <int kBits, class V, hwy::EnableIf<hwy::IsSigned<hn::TFromV<V>>()>* = nullptr>
HWY_API V Sar(V v) {
  return hn::ShiftRight<kBits>(v);
}
template <class V, hwy::EnableIf<!hwy::IsFloat<hn::TFromV<V>>() &&
                                 hwy::IsSigned<hn::TFromV<V>>()>* = nullptr>
HWY_API auto ToFloat(V v) {
  return hn::ConvertTo(hn::Rebind<float, hn::DFromV<V>>(), v);
}
template <class V, hwy::EnableIf<!hwy::IsSigned<hn::TFromV<V>>()>* = nullptr>
HWY_API auto AsSigned(V v) {
  return hn::BitCast(hn::RebindToSigned<hn::DFromV<V>>(), v);
}
template <class V, hwy::EnableIf<hwy::IsSigned<hn::TFromV<V>>() &&
                                 !hwy::IsFloat<hn::TFromV<V>>()>* = nullptr>
HWY_API auto AsUnsigned(V v) {
  return hn::BitCast(hn::RebindToUnsigned<hn::DFromV<V>>(), v);
}

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_OPS_INL_H_
