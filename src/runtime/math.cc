#include "tgk/math.h"

#include "tgk/math-inl.h"

namespace tgk {

// The float overload of the kernels' Exp uses only scalar IEEE operations and std::fma, so
// whichever target this translation unit is compiled for, the bits are those of every target.
float Exp(float x) { return HWY_NAMESPACE::Exp(x); }

}  // namespace tgk
