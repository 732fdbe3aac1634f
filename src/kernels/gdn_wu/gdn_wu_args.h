// The stage-5 kernel's arguments, as the host entry point hands them to the functor.
#pragma once

#include <cstdint>

#include "tgk/dtype.h"

namespace tgk {

struct GdnWuArgs {
  const bf16* k;
  const bf16* v;
  const float* beta;
  const float* g;
  const float* a_inv;
  bf16* w;
  bf16* u;
  uint32_t B, T, Hg, H, K, V;
};

}  // namespace tgk
