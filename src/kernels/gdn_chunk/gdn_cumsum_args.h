// The stage-2 kernel's arguments, as the chunked forward hands them to the functor.
#pragma once

#include <cstdint>

namespace tgk {

struct GdnCumsumArgs {
  const float* g;
  float* g_cumsum;
  uint32_t B, T, H;
};

}  // namespace tgk
