// The L2-norm kernel's arguments and launch facts, shared by the host entry point and the
// functor.
#pragma once

#include <algorithm>
#include <cstdint>

namespace tgk {

// The spec's ε, 1e−6 rounded to f32 (0x358637BD), as the host writes it.
inline constexpr float kGdnL2NormEps = 1e-6f;

// Rows per group: the lanes loop over them, so that a group does enough work.
inline constexpr uint32_t kGdnL2NormRowsPerGroup = 8;

// The spec's lane count tg = min(256, next_pow2(dim)): the group size.
inline constexpr uint32_t GdnL2NormLanes(uint32_t dim) {
  uint32_t tg = 1;
  while (tg < dim && tg < 256) tg *= 2;
  return tg;
}

// Floats a row's partial sums take in the parts arena: tg, at least 16 so that a lane pack's
// full-width store of the tree's last levels stays inside its row.
inline constexpr uint32_t GdnL2NormPartStride(uint32_t dim) {
  return std::max(GdnL2NormLanes(dim), 16u);
}

enum GdnL2NormArena : uint32_t {
  kGdnL2NormPartsArena = 0,    // f32 [rows per group][part stride] (+16): the partial sums
  kGdnL2NormStagingArena = 1,  // f32 [tg + 16]: a pack's values on their way to a row's tail
};

template <class T>
struct GdnL2NormArgs {
  const T* input;
  T* output;
  uint64_t rows;
  uint32_t dim;
};

}  // namespace tgk
