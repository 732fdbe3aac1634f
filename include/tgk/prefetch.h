// Cache hints for kernels: ask for a line before a lane body reads or writes it. A hint never
// changes a result, so it has no scalar definition to test against; the scalar oracle issues the
// same hints. Kernels call these instead of a compiler builtin, so that a kernel file names only
// the model's operations. They are always inlined: Clang 14 had made PrefetchRows a call, and a
// call from a lane body spills every live vector register (all are caller-saved).
#pragma once

#include <hwy/base.h>

#include <cstddef>
#include <cstdint>

#include "tgk/geometry.h"

namespace tgk {

// How soon the line is used again once it arrives: kOnce (L2 and beyond: streamed data read
// ahead of its group), kSoon (all cache levels but the first: the next block's rows), kFirst
// (every level, the first included: rows that the next group reads in its first phase).
enum class Reuse { kOnce = 1, kSoon = 2, kFirst = 3 };

namespace detail {
// The empty volatile asm that takes the address keeps the hint a side effect. Without it GCC 12
// at -O3 dropped whole loops of hints (its interprocedural mod-ref analysis: -fno-ipa-modref
// kept them): those of kkt, gdn_solve and gdn_output, and after an unrelated change every hint
// of flash_attn_vec, 35% slower from memory with the same bits (perf/RESULTS.md).
template <int kWrite, Reuse kReuse>
HWY_INLINE void Prefetch(const void* p) {
  __builtin_prefetch(p, kWrite, int(kReuse));
  asm volatile("" : : "r"(p));
}
}  // namespace detail

// The cache line holding `p`, to be read. An address given as an integer may lie past the end
// of a tensor, where a pointer may not point: a hint for it never faults.
template <Reuse kReuse = Reuse::kSoon>
HWY_INLINE void PrefetchRead(const void* p) {
  detail::Prefetch<0, kReuse>(p);
}
template <Reuse kReuse = Reuse::kSoon>
HWY_INLINE void PrefetchRead(uintptr_t address) {
  PrefetchRead<kReuse>(reinterpret_cast<const void*>(address));
}

// The cache line holding `p`, to be written (fetched for ownership).
template <Reuse kReuse = Reuse::kSoon>
HWY_INLINE void PrefetchWrite(const void* p) {
  detail::Prefetch<1, kReuse>(p);
}
template <Reuse kReuse = Reuse::kSoon>
HWY_INLINE void PrefetchWrite(uintptr_t address) {
  PrefetchWrite<kReuse>(reinterpret_cast<const void*>(address));
}

// The group after this one in the grid (x fastest, then y, then z), if any: the one a thread
// usually runs next (the runtime hands each thread a run of consecutive groups), whose rows a
// group can ask for while it computes. Rows that lie a page or more apart (a head's rows of a
// [T, H, D] tensor) are ones the hardware prefetchers do not follow.
template <class Group>
inline bool NextGroup(const Group& g, Dim3& next) {
  const Dim3 id = g.group_id(), grid = g.grid_size();
  next = id;
  if (++next.x < grid.x) return true;
  next.x = 0;
  if (++next.y < grid.y) return true;
  next.y = 0;
  return ++next.z < grid.z;
}

// Rows of a tensor that a later phase or group will read or write: `rows` rows of `bytes`
// bytes, `stride` bytes apart, from `base`.
struct RowRun {
  uintptr_t base = 0;
  size_t stride = 0;
  size_t bytes = 0;
  uint32_t rows = 0;
  bool write = false;
};

// `rows` rows of `count` elements, `stride` elements apart. Addresses as integers: a run may
// lie past the end of a tensor, where a pointer may not point.
template <class T>
inline RowRun RowRunOf(const T* base, size_t stride, uint32_t rows, size_t count,
                       bool write = false) {
  return RowRun{reinterpret_cast<uintptr_t>(base), stride * sizeof(T), count * sizeof(T), rows,
                write};
}

// Asks for share `part` of `parts` of every run's rows (rows [rows·part/parts,
// rows·(part + 1)/parts)), for reading or for writing. Spread over the packs or calls of a
// phase, so that few requests wait at a time.
template <Reuse kReuse = Reuse::kSoon, size_t N>
HWY_INLINE void PrefetchRows(const RowRun (&runs)[N], uint32_t part, uint32_t parts) {
  for (const RowRun& run : runs) {
    const uint32_t first = uint32_t(uint64_t{run.rows} * part / parts);
    const uint32_t last = uint32_t(uint64_t{run.rows} * (part + 1) / parts);
    for (uint32_t r = first; r < last; ++r) {
      const uintptr_t row = run.base + r * run.stride;
      for (size_t at = 0; at < run.bytes; at += 64) {
        if (run.write) {
          PrefetchWrite<kReuse>(row + at);
        } else {
          PrefetchRead<kReuse>(row + at);
        }
      }
    }
  }
}

}  // namespace tgk
