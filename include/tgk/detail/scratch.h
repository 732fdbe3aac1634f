// Per-thread scratch memory: threadgroup arenas and per-lane state. Allocated once per OpenMP
// thread of a queue, 64-byte aligned, grown on demand and reused across groups and dispatches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tgk/detail/launch.h"

namespace tgk::detail {

inline constexpr size_t kScratchAlignment = 64;
// Arenas and lane state are padded so that a full vector (up to 64 bytes) read at any valid
// element never leaves the allocation.
inline constexpr size_t kScratchPadding = 64;

class ThreadScratch {
 public:
  ThreadScratch();
  ~ThreadScratch();
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;

  // The bytes PrepareArenas needs for `geometry`'s arenas.
  static size_t ArenaBytes(const LaunchGeometry& geometry);
  // Makes the arenas at least as large as `geometry` asks; contents are unspecified.
  void PrepareArenas(const LaunchGeometry& geometry);

  // Grows the storage, before a parallel region, to what any thread of the team has needed:
  // arenas of `arena_bytes` and one group's lane state of `lane_state_bytes`. Which thread runs
  // which group varies from run to run; with every thread reserved alike, a warm queue
  // allocates nothing whichever groups a thread gets.
  void Reserve(size_t arena_bytes, size_t lane_state_bytes);
  // The most lane state one group has taken on this thread (what Reserve's second argument
  // must cover).
  size_t lane_state_peak() const { return lane_state_peak_; }
  std::byte* arena(uint32_t index) const { return arena_base_[index]; }

  // 64-byte aligned storage that lives until ReleaseLaneState(), zero-filled or left as it is.
  enum class Fill { kZero, kNone };
  void* AllocateLaneState(size_t bytes, Fill fill = Fill::kZero);
  void ReleaseLaneState();

 private:
  struct Block;
  std::byte* arena_base_[kMaxArenas] = {};
  std::byte* arena_storage_ = nullptr;
  size_t arena_capacity_ = 0;
  std::vector<std::unique_ptr<Block>> state_blocks_;
  size_t state_block_index_ = 0;
  size_t state_block_used_ = 0;
  size_t group_state_bytes_ = 0;  // lane state taken since the last ReleaseLaneState
  size_t lane_state_peak_ = 0;
};

}  // namespace tgk::detail
