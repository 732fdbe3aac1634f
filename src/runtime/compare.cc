#include "tgk/compare.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "tgk/convert.h"
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {
namespace {

// One element as the rules see it: its bits, its value, and its position on the number line.
struct Element {
  uint32_t bits;
  double value;
  int64_t ordinal;  // ULP ordinal: consecutive representable values differ by 1
  bool is_nan;
  bool is_inf;
};

// Sign-magnitude bits to an integer that grows with the value: -0 maps to -1, +0 to 0.
int64_t FloatOrdinal(uint32_t bits, uint32_t sign_bit) {
  const int64_t magnitude = int64_t{bits & (sign_bit - 1)};
  return (bits & sign_bit) ? -magnitude - 1 : magnitude;
}

Element Load(ConstView view, size_t i) {
  switch (view.dtype()) {
    case DType::kF32: {
      const uint32_t bits = BitsOf(view.as<float>()[i]);
      const float f = FloatFromBits(bits);
      return {bits, double(f), FloatOrdinal(bits, 0x80000000u), std::isnan(f), std::isinf(f)};
    }
    case DType::kF16: {
      const f16 h = view.as<f16>()[i];
      const float f = F32FromF16(h);
      return {h.bits, double(f), FloatOrdinal(h.bits, 0x8000u), std::isnan(f), std::isinf(f)};
    }
    case DType::kBF16: {
      const bf16 h = view.as<bf16>()[i];
      const float f = F32FromBF16(h);
      return {h.bits, double(f), FloatOrdinal(h.bits, 0x8000u), std::isnan(f), std::isinf(f)};
    }
    case DType::kU8: {
      const uint8_t v = view.as<uint8_t>()[i];
      return {v, double(v), int64_t{v}, false, false};
    }
    case DType::kU32: {
      const uint32_t v = view.as<uint32_t>()[i];
      return {v, double(v), int64_t{v}, false, false};
    }
    case DType::kI32: {
      const int32_t v = view.as<int32_t>()[i];
      return {uint32_t(v), double(v), int64_t{v}, false, false};
    }
  }
  ThrowInvalidArgument("Compare: unknown dtype");
}

bool IsFloat(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

std::string Format(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

void CheckTolerance(const char* name, double value) {
  if (!std::isfinite(value) || value < 0) {
    ThrowInvalidArgument(std::string("Compare: tolerance ") + name + " = " + Format("%g", value) +
                         " must be finite and >= 0");
  }
}

}  // namespace

Comparison Compare(ConstView actual, ConstView reference, const Tolerance& tolerance) {
  if (actual.dtype() != reference.dtype()) {
    ThrowInvalidArgument("Compare: actual dtype " + std::string(Name(actual.dtype())) +
                         " != reference dtype " + std::string(Name(reference.dtype())) +
                         "; both must have the same dtype");
  }
  if (actual.count() != reference.count()) {
    ThrowInvalidArgument("Compare: actual has " + std::to_string(actual.count()) +
                         " elements, reference " + std::to_string(reference.count()) +
                         "; both must have the same count");
  }
  if (actual.count() != 0 && (actual.data() == nullptr || reference.data() == nullptr)) {
    ThrowInvalidArgument("Compare: a view of " + std::to_string(actual.count()) +
                         " elements has no data");
  }
  CheckTolerance("atol", tolerance.atol);
  CheckTolerance("rtol", tolerance.rtol);
  const bool is_float = IsFloat(actual.dtype());
  const bool value_tolerance = tolerance.atol > 0 || tolerance.rtol > 0;

  Comparison c;
  c.count = actual.count();
  for (size_t i = 0; i < actual.count(); ++i) {
    const Element a = Load(actual, i);
    const Element r = Load(reference, i);
    if (a.bits == r.bits || (a.is_nan && r.is_nan)) continue;
    ++c.differing;
    if (a.is_nan || r.is_nan) {
      ++c.nan_mismatches;
      continue;
    }
    if (a.is_inf || r.is_inf) {
      ++c.inf_mismatches;
      continue;
    }
    const double abs_error = std::fabs(a.value - r.value);
    const double rel_error = abs_error == 0 ? 0.0
                             : r.value == 0 ? INFINITY
                                            : abs_error / std::fabs(r.value);
    const uint64_t ulp =
        uint64_t(a.ordinal > r.ordinal ? a.ordinal - r.ordinal : r.ordinal - a.ordinal);
    if (abs_error > c.max_abs) {
      c.max_abs = abs_error;
      c.max_abs_index = i;
    }
    if (rel_error > c.max_rel) {
      c.max_rel = rel_error;
      c.max_rel_index = i;
    }
    if (ulp > c.max_ulp) {
      c.max_ulp = ulp;
      c.max_ulp_index = i;
    }
    const bool accepted =
        is_float &&
        (ulp <= tolerance.max_ulp ||
         (value_tolerance && abs_error <= tolerance.atol + tolerance.rtol * std::fabs(r.value)));
    if (!accepted) c.passed = false;
  }
  if (c.nan_mismatches != 0 || c.inf_mismatches != 0) c.passed = false;
  return c;
}

std::string Comparison::Summary() const {
  std::string s = passed ? "PASS: " : "FAIL: ";
  s += std::to_string(differing) + " of " + std::to_string(count) + " elements differ";
  s += "; max abs " + Format("%.9g", max_abs) + " at [" + std::to_string(max_abs_index) + "]";
  s += "; max rel " + Format("%.9g", max_rel) + " at [" + std::to_string(max_rel_index) + "]";
  s += "; max ulp " + std::to_string(max_ulp) + " at [" + std::to_string(max_ulp_index) + "]";
  s += "; NaN mismatches " + std::to_string(nan_mismatches);
  s += "; Inf mismatches " + std::to_string(inf_mismatches);
  return s;
}

}  // namespace tgk
