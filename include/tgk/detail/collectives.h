// Simdgroup collectives over one lane-state row (one value per lane, lanes [0, group_size)).
// Plain scalar code shared by every target, so the combination order is the same everywhere:
// the canonical order of docs/spec/README.md. Lanes past the end of the group (a partial last
// simdgroup) take no part: a tree step that would add a missing lane is skipped.
#pragma once

#include <algorithm>
#include <cmath>
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

template <class Combine>
inline void SimdTree(float* values, uint32_t group_size, Combine combine) {
  for (uint32_t base = 0; base < group_size; base += kSimdWidth) {
    const uint32_t lanes = std::min(kSimdWidth, group_size - base);
    float x[kSimdWidth];
    std::copy(values + base, values + base + lanes, x);
    for (uint32_t offset = kSimdWidth / 2; offset >= 1; offset /= 2) {
      for (uint32_t l = 0; l < offset && l + offset < lanes; ++l) x[l] = combine(x[l], x[l + offset]);
    }
    std::fill(values + base, values + base + lanes, x[0]);
  }
}

inline void SimdSum(float* values, uint32_t group_size) {
  SimdTree(values, group_size, [](float a, float b) { return a + b; });
}
inline void SimdMax(float* values, uint32_t group_size) {
  SimdTree(values, group_size, CanonicalMax);
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
