// Internal: where a Highway target's runner sits in a kernel's HWY_EXPORT table.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tgk::detail {

size_t DispatchTableIndex(int64_t hwy_bit);

}  // namespace tgk::detail
