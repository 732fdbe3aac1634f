// Cache hints for kernels: ask for a line before a lane body reads or writes it. A hint never
// changes a result, so it has no scalar definition to test against; the scalar oracle issues the
// same hints. Kernels call these instead of a compiler builtin, so that a kernel file names only
// the model's operations.
#pragma once

#include <cstdint>

namespace tgk {

// How soon the line is used again once it arrives: kOnce (L2 and beyond: streamed data read
// ahead of its group), kSoon (all cache levels but the first: the next block's rows).
enum class Reuse { kOnce = 1, kSoon = 2 };

// The cache line holding `p`, to be read. An address given as an integer may lie past the end
// of a tensor, where a pointer may not point: a hint for it never faults.
template <Reuse kReuse = Reuse::kSoon>
inline void PrefetchRead(const void* p) {
  __builtin_prefetch(p, 0, int(kReuse));
}
template <Reuse kReuse = Reuse::kSoon>
inline void PrefetchRead(uintptr_t address) {
  PrefetchRead<kReuse>(reinterpret_cast<const void*>(address));
}

// The cache line holding `p`, to be written (fetched for ownership).
template <Reuse kReuse = Reuse::kSoon>
inline void PrefetchWrite(const void* p) {
  __builtin_prefetch(p, 1, int(kReuse));
}
template <Reuse kReuse = Reuse::kSoon>
inline void PrefetchWrite(uintptr_t address) {
  PrefetchWrite<kReuse>(reinterpret_cast<const void*>(address));
}

}  // namespace tgk
