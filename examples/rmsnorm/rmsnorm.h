// RMSNorm, a kernel family written outside tgk against its installed package: for each row of
// d floats, out = x / sqrt(mean(x²) + eps) · w. rmsnorm.cc is the kernel and its reference,
// main.cc the test that holds every target and thread count to the reference, bit for bit.
#pragma once

#include <cstdint>

#include "tgk/queue.h"

constexpr uint32_t kRmsNormLanes = 128;  // four simdgroups per group, one group per row

struct RmsNormArgs {
  const float *x, *w;  // x: [rows, d], w: [d]
  float* out;          // [rows, d]
  uint32_t d;          // a multiple of kRmsNormLanes
  float eps;
};

// Records the dispatch of `rows` rows on `queue`.
void RmsNorm(tgk::Queue& queue, uint32_t rows, const RmsNormArgs& args);
// Plain sequential loops in the kernel's order of operations.
void RmsNormReference(uint32_t rows, const RmsNormArgs& args);
