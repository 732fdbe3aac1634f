// The chunk-local cumsum kernel's arguments and launch facts, shared by the host entry point
// and the functor.
#pragma once

#include <cstdint>

namespace tgk {

// Heads per group (one lane per head); fewer when H is smaller.
inline constexpr uint32_t kGdnCumsumHeadsPerGroup = 256;

enum GdnCumsumArena : uint32_t {
  kGdnCumsumStagingArena = 0,  // f32 [heads per group]: a pack's sums on their way out
};

struct GdnCumsumArgs {
  const float* g;
  float* g_cumsum;
  uint32_t B, T, H;
  uint32_t heads;  // heads per group (the group size)
};

}  // namespace tgk
