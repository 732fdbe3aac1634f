// Simdgroup collectives over lane-state rows (one value per lane, lanes [0, group_size)): the
// scalar definitions, which the scalar lanes run and collectives-inl.h's per-target versions
// must equal bit for bit. The combination order is the canonical order of docs/spec/README.md.
// Lanes past the end of the group (a partial last simdgroup) take no part: a tree step that would
// add a missing lane is skipped.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "tgk/geometry.h"

namespace tgk::detail {

// maxNum with -0 < +0: the canonical simd_max.
inline float CanonicalMax(float a, float b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

// The canonical tree over the `lanes` values at x: x[l] combined with x[l + off] for off = 16,
// 8, ..., 1, a step skipped where lane l + off does not exist; the result is what lane 0 holds.
template <class Combine>
inline float SimdTreeOf(const float* x, uint32_t lanes, Combine combine) {
  float y[kSimdWidth];
  std::copy(x, x + lanes, y);
  for (uint32_t offset = kSimdWidth / 2; offset >= 1; offset /= 2) {
    for (uint32_t l = 0; l < offset && l + offset < lanes; ++l) y[l] = combine(y[l], y[l + offset]);
  }
  return y[0];
}

inline float Plus(float a, float b) { return a + b; }

template <class Combine>
inline void SimdTree(float* values, uint32_t group_size, Combine combine) {
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    std::fill(values + base, values + base + lanes, SimdTreeOf(values + base, lanes, combine));
  }
}

inline void SimdSum(float* values, uint32_t group_size) { SimdTree(values, group_size, Plus); }
inline void SimdMax(float* values, uint32_t group_size) {
  SimdTree(values, group_size, CanonicalMax);
}

// The multi-value sum of one simdgroup (lanes [base, base + lanes) of the group): lane base + i
// receives the canonical sum over the simdgroup of row i, the row at in + i·stride. `out` is
// not one of the rows.
inline void SimdSumRowsOf(const float* in, size_t stride, float* out, uint32_t base,
                          uint32_t lanes) {
  for (uint32_t i = 0; i < lanes; ++i)
    out[base + i] = SimdTreeOf(in + i * stride + base, lanes, Plus);
}

inline void SimdSumRows(const float* in, size_t stride, float* out, uint32_t group_size) {
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    SimdSumRowsOf(in, stride, out, base, std::min(kSimdWidth, group_size - base));
  }
}

// The unnormalised Walsh–Hadamard butterfly across the `lanes` values at x (one simdgroup):
// stages m = 1, 2, 4, 8, 16 in this order, each replacing x[l], x[l + m] (l & m == 0) by
// x[l] + x[l + m], x[l] − x[l + m]. A lane whose partner is past the group keeps its value.
inline void SimdHadamardOf(float* x, uint32_t lanes) {
  for (uint32_t m = 1; m < kSimdWidth; m *= 2) {
    for (uint32_t l = 0; l + m < lanes; ++l) {
      if (l & m) continue;
      const float lower = x[l], upper = x[l + m];
      x[l] = lower + upper;
      x[l + m] = lower - upper;
    }
  }
}

// The butterfly on each of `n` rows (the row at rows + r·stride) of every simdgroup.
inline void SimdHadamardRows(float* rows, size_t stride, uint32_t n, uint32_t group_size) {
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    for (uint32_t r = 0; r < n; ++r) SimdHadamardOf(rows + r * stride + base, lanes);
  }
}

template <class T>
inline void SimdShuffleXor(T* values, uint32_t group_size, uint32_t mask) {
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    T x[kSimdWidth];
    std::copy(values + base, values + base + lanes, x);
    for (uint32_t l = 0; l < lanes; ++l) {
      const uint32_t source = l ^ (mask & (kSimdWidth - 1));
      values[base + l] = source < lanes ? x[source] : x[l];
    }
  }
}

template <class T>
inline void SimdBroadcast(T* values, uint32_t group_size, uint32_t source) {
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    const uint32_t from = source % kSimdWidth;
    if (from >= lanes) continue;  // the source lane is past the group: nothing to broadcast
    std::fill(values + base, values + base + lanes, values[base + from]);
  }
}

}  // namespace tgk::detail
