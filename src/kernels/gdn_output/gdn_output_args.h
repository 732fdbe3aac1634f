// The stage-7 kernel's arguments, as the host entry point hands them to the functor.
#pragma once

#include <cstdint>

#include "tgk/dtype.h"

namespace tgk {

struct GdnOutputArgs {
  const bf16* q;
  const bf16* k;
  const bf16* v_new;
  const bf16* h;
  const float* g;
  bf16* o;
  float scale;
  uint32_t B, T, Hg, H, K, V;
};

}  // namespace tgk
