// The scalar exp the Gated DeltaNet references use: tgk's Exp (tgk/math-inl.h) on one float,
// the definition every kernel path shares, so the references are bit-exact by construction.
#pragma once

#include <hwy/highway.h>

#include "tgk/math-inl.h"

namespace tgk::gdn {

inline float ReferenceExp(float x) { return HWY_NAMESPACE::Exp(x); }

}  // namespace tgk::gdn
