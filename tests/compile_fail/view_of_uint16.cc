// Must not compile: uint16_t is not a tgk dtype (16-bit floats go in tgk::f16 or tgk::bf16).
// tests/CMakeLists.txt compiles it and expects view.h's static_assert message.
#include <cstdint>

#include "tgk/view.h"

int main() {
  uint16_t x[2] = {};
  return tgk::ConstView::Of<uint16_t>(x, 2).count() == 2 ? 0 : 1;
}
