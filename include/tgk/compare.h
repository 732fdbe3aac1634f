// Comparison of a kernel's output with a reference: the statistics and the pass/fail decision
// of a parity check (`tgk run --ref`, and tgk.compare in Python).
//
// Rules, element by element (a = actual, r = reference):
// - Equal: the bit patterns are equal, or both are NaN (the NaN payload is not compared, as
//   the README's exception to bit identity allows). An element that is not equal "differs".
// - A NaN against a non-NaN is a NaN mismatch; otherwise an Inf against any other value is an
//   Inf mismatch. Both always fail and are counted apart, so that they never stand in for (or
//   hide) the finite errors: max_abs, max_rel and max_ulp are taken over the pairs in which
//   both values are finite.
// - A finite differing element is accepted when
//     ulp(a, r) <= max_ulp, or
//     (atol > 0 or rtol > 0) and |a - r| <= atol + rtol * |r|   (computed in double).
//   The all-zero default therefore accepts nothing that differs: bitwise equality.
// - ULP distance is measured at the views' dtype: each bit pattern maps to an integer in the
//   order of the number line (sign-magnitude to two's complement, -0 just below +0), and the
//   distance is the difference of the two integers. So +0 and -0 are 1 ULP apart, and a
//   distance of 0 means equal bits.
// - Integer dtypes (u8, u32, i32) are compared exactly; the tolerances do not apply to them.
//   Their ULP distance is the distance between the integers.
// The comparison passes when every element is equal or accepted.
#pragma once

#include <cstdint>
#include <string>

#include "tgk/view.h"

namespace tgk {

struct Tolerance {
  double atol = 0;  // absolute tolerance, finite and >= 0
  double rtol = 0;  // relative tolerance (of |reference|), finite and >= 0
  uint64_t max_ulp = 0;
};

struct Comparison {
  uint64_t count = 0;      // elements compared
  uint64_t differing = 0;  // elements that are not equal (NaN and Inf mismatches included)
  // Largest |a - r| and |a - r| / |r| over finite pairs, each with the index of the first
  // element that reaches it (0 when nothing differs). |a - r| / |r| is infinite where r = 0 and
  // a != 0, and 0 where a and r are equal in value (+0 against -0).
  double max_abs = 0;
  uint64_t max_abs_index = 0;
  double max_rel = 0;
  uint64_t max_rel_index = 0;
  uint64_t max_ulp = 0;
  uint64_t max_ulp_index = 0;
  uint64_t nan_mismatches = 0;  // NaN against a number, either way round
  uint64_t inf_mismatches = 0;  // Inf against a different finite value or the other Inf
  bool passed = true;

  // One line: "PASS"/"FAIL", the counts and the maxima with their indices.
  std::string Summary() const;
};

// Compares `actual` with `reference`, element by element, under `tolerance` (rules above).
// Throws tgk::Error (kInvalidArgument) when the dtypes or counts differ, a view with elements
// has no data, or a tolerance is negative, NaN or infinite.
Comparison Compare(ConstView actual, ConstView reference, const Tolerance& tolerance = {});

}  // namespace tgk
