// tgk's exponential for code outside the group model (references, tools, host code): the same
// function as the Exp of math-inl.h that kernels call, so that its bits are the kernels' bits on
// every target. Compiled once, into the library.
#pragma once

namespace tgk {

// exp(x) in f32 by tgk's method (math-inl.h): within 0.94 ulp, identical on every target.
float Exp(float x);

}  // namespace tgk
