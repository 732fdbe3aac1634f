// The plain reference of the chunk-local cumsum (docs/spec/gdn_cumsum.md): the
// spec's loop, compiled once. Its bits are the kernel's by construction. Tests hold the scalar
// instantiation and every Highway target to it. Not part of the installed API.
#pragma once

#include "tgk/kernels/gdn_cumsum.h"

namespace tgk {

// g, g_cumsum: f32 [B, T, H], sizes already valid.
void GdnCumsumReference(const GdnCumsumShape& shape, const float* g, float* g_cumsum);

}  // namespace tgk
