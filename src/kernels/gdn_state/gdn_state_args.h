// The stage-6 kernel's arguments, as the host entry point hands them to the functor.
#pragma once

#include <cstdint>

#include "tgk/dtype.h"

namespace tgk {

struct GdnStateArgs {
  const bf16* k;
  const bf16* w;
  const bf16* u;
  const float* g;
  const float* h0;
  bf16* h;
  bf16* v_new;
  float* final_state;
  uint32_t B, T, Hg, H, K, V;
};

}  // namespace tgk
