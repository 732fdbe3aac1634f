#include "tgk/detail/scratch.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace tgk::detail {
namespace {

size_t RoundUp(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

std::byte* AlignedAllocate(size_t bytes) {
  void* p = std::aligned_alloc(kScratchAlignment, RoundUp(bytes, kScratchAlignment));
  if (!p) throw std::bad_alloc();
  return static_cast<std::byte*>(p);
}

constexpr size_t kMinStateBlock = size_t{256} << 10;

}  // namespace

struct ThreadScratch::Block {
  explicit Block(size_t bytes) : data(AlignedAllocate(bytes)), size(bytes) {}
  ~Block() { std::free(data); }
  std::byte* data;
  size_t size;
};

ThreadScratch::ThreadScratch() = default;
ThreadScratch::~ThreadScratch() { std::free(arena_storage_); }

size_t ThreadScratch::ArenaBytes(const LaunchGeometry& geometry) {
  size_t total = 0;
  for (uint32_t i = 0; i < geometry.arenas.count(); ++i) {
    total += RoundUp(geometry.arenas[i], kScratchAlignment) + kScratchPadding;
  }
  return total;
}

void ThreadScratch::Reserve(size_t arena_bytes, size_t lane_state_bytes) {
  if (arena_bytes > arena_capacity_) {
    std::free(arena_storage_);
    arena_storage_ = nullptr;
    arena_capacity_ = 0;
    arena_storage_ = AlignedAllocate(arena_bytes);
    arena_capacity_ = arena_bytes;
  }
  // A group's lane state then fits in the first block, and AllocateLaneState never grows.
  if (lane_state_bytes > 0 &&
      (state_blocks_.empty() || state_blocks_.front()->size < lane_state_bytes)) {
    state_blocks_.clear();
    state_blocks_.push_back(std::make_unique<Block>(std::max(lane_state_bytes, kMinStateBlock)));
  }
}

void ThreadScratch::PrepareArenas(const LaunchGeometry& geometry) {
  const size_t total = ArenaBytes(geometry);
  size_t offsets[kMaxArenas] = {};
  for (uint32_t i = 1; i < geometry.arenas.count(); ++i) {
    offsets[i] =
        offsets[i - 1] + RoundUp(geometry.arenas[i - 1], kScratchAlignment) + kScratchPadding;
  }
  Reserve(total, 0);
  for (uint32_t i = 0; i < kMaxArenas; ++i) {
    arena_base_[i] = i < geometry.arenas.count() ? arena_storage_ + offsets[i] : nullptr;
  }
}

void* ThreadScratch::AllocateLaneState(size_t bytes, Fill fill) {
  const size_t need = RoundUp(bytes, kScratchAlignment) + kScratchPadding;
  while (state_block_index_ < state_blocks_.size() &&
         state_block_used_ + need > state_blocks_[state_block_index_]->size) {
    ++state_block_index_;
    state_block_used_ = 0;
  }
  if (state_block_index_ == state_blocks_.size()) {
    state_blocks_.push_back(std::make_unique<Block>(std::max(need, kMinStateBlock)));
    state_block_used_ = 0;
  }
  std::byte* p = state_blocks_[state_block_index_]->data + state_block_used_;
  state_block_used_ += need;
  group_state_bytes_ += need;
  lane_state_peak_ = std::max(lane_state_peak_, group_state_bytes_);
  if (fill == Fill::kZero) std::memset(p, 0, need);
  return p;
}

void ThreadScratch::ReleaseLaneState() {
  state_block_index_ = 0;
  state_block_used_ = 0;
  group_state_bytes_ = 0;
}

}  // namespace tgk::detail
