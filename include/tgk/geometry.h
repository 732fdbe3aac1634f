// Dispatch geometry: a 3-D grid of groups, each of up to 1024 lanes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace tgk {

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

inline constexpr uint32_t kMaxGroupSize = 1024;
inline constexpr uint32_t kSimdWidth = 32;  // lanes per simdgroup
inline constexpr uint32_t kMaxArenas = 8;
// Per-arena ceiling: far above any GPU's threadgroup memory, small enough that a typo in a
// size is caught before it allocates gigabytes on every thread.
inline constexpr size_t kMaxArenaBytes = size_t{64} << 20;

// Sizes in bytes of the threadgroup memory arenas of one dispatch (Metal's
// setThreadgroupMemoryLength:atIndex:), index 0 first.
class ArenaSizes {
 public:
  ArenaSizes() = default;
  ArenaSizes(std::initializer_list<size_t> bytes);
  uint32_t count() const { return count_; }
  size_t operator[](uint32_t i) const { return bytes_[i]; }

 private:
  std::array<size_t, kMaxArenas> bytes_{};
  uint32_t count_ = 0;
};

}  // namespace tgk
