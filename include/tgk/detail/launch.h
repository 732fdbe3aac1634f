// What the runtime hands to a kernel's per-target runner: the geometry of a dispatch and the
// range of groups one OpenMP thread runs, with that thread's scratch memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tgk/geometry.h"

namespace tgk::detail {

class ThreadScratch;
class RaceChecker;

struct LaunchGeometry {
  Dim3 grid;
  uint32_t group_size = 1;
  ArenaSizes arenas;

  uint64_t group_count() const { return uint64_t{grid.x} * grid.y * grid.z; }
  Dim3 GroupId(uint64_t linear) const {
    return Dim3{uint32_t(linear % grid.x), uint32_t(linear / grid.x % grid.y),
                uint32_t(linear / grid.x / grid.y)};
  }
};

// Groups [begin, end) of one dispatch, run in order on the calling thread.
struct GroupBatch {
  const void* args;
  const char* kernel_name;
  const LaunchGeometry* geometry;
  uint64_t begin, end;
  ThreadScratch* scratch;
  RaceChecker* checker;  // non-null only in the checked scalar mode
};

using GroupRunner = void (*)(const GroupBatch&);

// A kernel as the runtime sees it: its name, the scalar-lane runner and the Highway dispatch
// table (one runner per compiled target, indexed like HWY_DYNAMIC_DISPATCH's table).
struct KernelEntry {
  const char* name;
  GroupRunner scalar;
  const GroupRunner* simd_table;
};

}  // namespace tgk::detail
