// Buffers on 64-byte cache lines, as a server allocates its own: std::vector's default
// alignment (16 bytes from glibc) puts a kernel's 64-byte stores across two lines, and a
// benchmark would time that instead of the kernel (kkt_bench on Zen 4, 2 threads: 6.4-8.0 ms in
// std::vectors, 5.7-6.1 ms on cache lines, as `tgk run kkt`). Header-only, part of
// tgk_testing_inputs: the tool's tensors, the benchmarks' buffers.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace tgk::test {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlignment); }
  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) { return true; }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

// A copy of `values` on cache lines (Random::Vector's draws, say).
template <class T>
AlignedVector<T> Aligned(const std::vector<T>& values) {
  return AlignedVector<T>(values.begin(), values.end());
}

}  // namespace tgk::test
