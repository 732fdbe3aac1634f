// The stage-4 kernel's arguments, as the host entry point hands them to the functor.
#pragma once

#include <cstdint>

namespace tgk {

struct GdnSolveArgs {
  const float* a_strict;
  float* a_inv;
  uint32_t B, T, H;
};

}  // namespace tgk
