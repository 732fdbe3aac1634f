// The kkt kernel's arguments, as the host entry point hands them to the functor.
#pragma once

#include <cstdint>

#include "tgk/dtype.h"

namespace tgk {

struct KktArgs {
  const bf16* k;
  const float* beta;
  const float* g;
  float* A;
  uint32_t B, T, Hg, H, K;
};

}  // namespace tgk
