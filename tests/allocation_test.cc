// Heap allocations of the runtime, counted by replacing the global operator new (this test
// program's only): a warm queue records and runs dispatches without one, and a queue's
// scratch follows the team it uses, not the thread count it was given.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "tgk/convert.h"
#include "tgk/kernels/kkt.h"
#include "tgk/kernels/sdpa.h"
#include "tgk/queue.h"
#include "tgk/view.h"

namespace {

std::atomic<long> allocations{0};

void* Allocate(std::size_t bytes, std::size_t alignment) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t size = bytes == 0 ? 1 : bytes;
  void* p = alignment <= alignof(std::max_align_t)
                ? std::malloc(size)
                : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Not inlined: GCC would see operator new's memory reach free() and call it a mismatch.
[[gnu::noinline]] void Deallocate(void* p) noexcept { std::free(p); }

}  // namespace

void* operator new(std::size_t bytes) { return Allocate(bytes, 0); }
void* operator new[](std::size_t bytes) { return Allocate(bytes, 0); }
void* operator new(std::size_t bytes, std::align_val_t a) { return Allocate(bytes, size_t(a)); }
void* operator new[](std::size_t bytes, std::align_val_t a) { return Allocate(bytes, size_t(a)); }
void operator delete(void* p) noexcept { Deallocate(p); }
void operator delete[](void* p) noexcept { Deallocate(p); }
void operator delete(void* p, std::size_t) noexcept { Deallocate(p); }
void operator delete[](void* p, std::size_t) noexcept { Deallocate(p); }
void operator delete(void* p, std::align_val_t) noexcept { Deallocate(p); }
void operator delete[](void* p, std::align_val_t) noexcept { Deallocate(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { Deallocate(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { Deallocate(p); }

namespace tgk {
namespace {

// Inputs of one kkt and one sdpa problem (f32 and bf16), made before any counting starts.
struct Problems {
  KktShape kkt{.B = 1, .T = 100, .Hg = 1, .H = 2, .K = 128};
  std::vector<bf16> k = std::vector<bf16>(size_t{100} * 128, BF16FromF32(0.25f));
  std::vector<float> beta = std::vector<float>(200, 0.5f), g = std::vector<float>(200, -0.1f);
  std::vector<float> A = std::vector<float>(size_t{200} * 64);

  SdpaParams sdpa{.n_heads = 4,
                  .n_kv_heads = 2,
                  .head_dim = 64,
                  .seq_len = 40,
                  .kv_seq_len = 70,
                  .scale = 0.125f};
  std::vector<float> q = std::vector<float>(size_t{4} * 40 * 64, 0.5f);
  std::vector<float> kv = std::vector<float>(size_t{2} * 70 * 64, 0.25f);
  std::vector<float> out = std::vector<float>(q.size());
  std::vector<bf16> q16 = std::vector<bf16>(q.size(), BF16FromF32(0.5f));
  std::vector<bf16> kv16 = std::vector<bf16>(kv.size(), BF16FromF32(0.25f));
  std::vector<bf16> out16 = std::vector<bf16>(q.size());

  void RecordKkt(Queue& queue) {
    GatedDeltaNetKkt(queue, kkt, ConstView::Of<bf16>(k.data(), k.size()),
                     ConstView::Of<float>(beta.data(), beta.size()),
                     ConstView::Of<float>(g.data(), g.size()), View::Of<float>(A.data(), A.size()));
  }
  // The buffers are sized for the largest problem a test sets; each call views exactly what
  // its shape needs (the exact-size rule).
  void RecordSdpa(Queue& queue) {
    const SdpaElements n = SdpaRequiredElements(sdpa);
    Sdpa(queue, sdpa, ConstView::Of<float>(q.data(), n.Q), ConstView::Of<float>(kv.data(), n.K),
         ConstView::Of<float>(kv.data(), n.V), View::Of<float>(out.data(), n.out));
  }
  void RecordSdpaBF16(Queue& queue) {
    const SdpaElements n = SdpaRequiredElements(sdpa);
    Sdpa(queue, sdpa, ConstView::Of<bf16>(q16.data(), n.Q), ConstView::Of<bf16>(kv16.data(), n.K),
         ConstView::Of<bf16>(kv16.data(), n.V), View::Of<bf16>(out16.data(), n.out));
  }
  void RecordAll(Queue& queue) {
    RecordKkt(queue);
    RecordSdpa(queue);
    queue.memory_barrier();
    RecordSdpaBF16(queue);
  }
};

enum class Work { kKkt, kSdpa, kSdpaBF16, kAll };

struct Case {
  Work work;
  int threads;
  bool scalar;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  static const char* const kNames[] = {"Kkt", "Sdpa", "SdpaBF16", "All"};
  return std::string(kNames[int(info.param.work)]) + (info.param.scalar ? "_scalar" : "_best") +
         "_threads" + std::to_string(info.param.threads);
}

class SteadyState : public ::testing::TestWithParam<Case> {};

TEST_P(SteadyState, AWarmQueueAllocatesNothing) {
  const Case c = GetParam();
  Problems p;
  Queue queue(
      QueueOptions{.threads = c.threads, .target = c.scalar ? Target::Scalar() : BestTarget()});
  const auto record = [&] {
    switch (c.work) {
      case Work::kKkt:
        p.RecordKkt(queue);
        break;
      case Work::kSdpa:
        p.RecordSdpa(queue);
        break;
      case Work::kSdpaBF16:
        p.RecordSdpaBF16(queue);
        break;
      case Work::kAll:
        p.RecordAll(queue);
        break;
    }
  };
  record();
  queue.commit_and_wait();  // warms the queue: command list, scratch, the team's threads
  const long before = allocations.load();
  for (int i = 0; i < 5; ++i) {
    record();
    queue.commit_and_wait();
  }
  EXPECT_EQ(allocations.load() - before, 0);
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (Work work : {Work::kKkt, Work::kSdpa, Work::kSdpaBF16, Work::kAll}) {
    for (int threads : {1, 2}) {
      for (bool scalar : {false, true}) cases.push_back({work, threads, scalar});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Kernels, SteadyState, ::testing::ValuesIn(AllCases()), CaseName);

// The allocations of a queue's first commit: the same for a queue of kMaxQueueThreads threads
// as for one of exactly as many threads as the dispatch has groups.
long FirstCommitAllocations(int threads, uint32_t heads) {
  Problems p;
  p.sdpa.n_heads = p.sdpa.n_kv_heads = heads;
  p.sdpa.seq_len = 32;  // one group per head
  const long before = allocations.load();
  {
    Queue queue(QueueOptions{.threads = threads});
    p.RecordSdpa(queue);
    queue.commit_and_wait();
  }
  return allocations.load() - before;
}

TEST(Scratch, FollowsTheTeamNotTheThreadCount) {
  for (uint32_t groups : {1u, 2u}) {
    SCOPED_TRACE(std::to_string(groups) + " group(s)");
    FirstCommitAllocations(int(groups), groups);  // starts this thread's team once
    EXPECT_EQ(FirstCommitAllocations(kMaxQueueThreads, groups),
              FirstCommitAllocations(int(groups), groups));
  }
}

}  // namespace
}  // namespace tgk
