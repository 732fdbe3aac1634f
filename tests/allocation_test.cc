// Heap allocations of the runtime, counted by replacing the global operator new (this test
// program's only): a warm queue records and runs dispatches without one, and a queue's
// scratch follows the team it uses, not the thread count it was given.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "tgk/convert.h"
#include "tgk/kernels/gdn_chunk.h"
#include "tgk/kernels/gdn_recurrent.h"
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

// Inputs of one kkt, one sdpa (f32 and bf16) and one problem of each gated delta net path
// (chunked, recurrent, both also as a variable-length batch), made before any counting starts.
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
  // The chunked forward: T = 100 ends in a partial chunk; the variable-length batch splits it
  // into sequences of 30 and 70 rows. g and beta are kkt's (the same T and H); the other
  // buffers are sized for use_qk_l2norm's scratch and the two sequences' states, and each call
  // views what it needs.
  GdnChunkShape chunk{.B = 1, .T = 100, .Hg = 1, .H = 2, .K = 64, .V = 40};
  std::vector<uint64_t> chunk_cu_seqlens{0, 30, 100};
  std::vector<bf16> chunk_qk = std::vector<bf16>(size_t{100} * 64, BF16FromF32(0.125f));
  std::vector<bf16> chunk_v = std::vector<bf16>(size_t{100} * 2 * 40, BF16FromF32(0.5f));
  std::vector<float> chunk_h0 = std::vector<float>(size_t{2} * 2 * 40 * 64, 0.25f);
  std::vector<bf16> chunk_o = std::vector<bf16>(chunk_v.size());
  std::vector<float> chunk_final = std::vector<float>(chunk_h0.size());
  std::vector<uint8_t> chunk_scratch = std::vector<uint8_t>(
      GdnChunkVarlenScratchBytes(chunk, chunk_cu_seqlens, /*use_qk_l2norm=*/true));

  // The recurrent path: 2 sequences of 3 tokens; as a variable-length batch, of 1 and 2 tokens.
  GdnRecurrentShape recurrent{.Sn = 2, .T = 3, .Hk = 1, .Hv = 2, .Dk = 64, .Dv = 8};
  std::vector<int32_t> recurrent_cu_seqlens{0, 1, 3};
  std::vector<float> recurrent_qk = std::vector<float>(size_t{2} * 3 * 64, 0.125f);
  std::vector<float> recurrent_v = std::vector<float>(size_t{2} * 3 * 2 * 8, 0.5f);
  std::vector<float> recurrent_gb = std::vector<float>(size_t{2} * 3 * 2, 0.25f);
  std::vector<float> recurrent_h0 = std::vector<float>(size_t{2} * 2 * 8 * 64, 0.25f);
  std::vector<float> recurrent_o = std::vector<float>(recurrent_v.size());
  std::vector<float> recurrent_final = std::vector<float>(recurrent_h0.size());

  void RecordGdnChunk(Queue& queue, bool use_qk_l2norm) {
    const size_t keys = size_t{chunk.T} * chunk.K, values = size_t{chunk.T} * chunk.H * chunk.V;
    const size_t rows = size_t{chunk.T} * chunk.H, state = size_t{chunk.H} * chunk.V * chunk.K;
    GatedDeltaRuleChunkForward(
        queue, chunk, ConstView::Of<bf16>(chunk_qk.data(), keys),
        ConstView::Of<bf16>(chunk_qk.data(), keys), ConstView::Of<bf16>(chunk_v.data(), values),
        ConstView::Of<float>(g.data(), rows), ConstView::Of<float>(beta.data(), rows), 0.125f,
        ConstView::Of<float>(chunk_h0.data(), state), View::Of<bf16>(chunk_o.data(), values),
        View::Of<float>(chunk_final.data(), state),
        View::Of<uint8_t>(chunk_scratch.data(), chunk_scratch.size()), use_qk_l2norm);
  }
  void RecordGdnChunkVarlen(Queue& queue, bool use_qk_l2norm) {
    const size_t rows = size_t{chunk.T} * chunk.H;
    GatedDeltaRuleChunkForwardVarlen(
        queue, chunk, chunk_cu_seqlens, ConstView::Of<bf16>(chunk_qk.data(), chunk_qk.size()),
        ConstView::Of<bf16>(chunk_qk.data(), chunk_qk.size()),
        ConstView::Of<bf16>(chunk_v.data(), chunk_v.size()), ConstView::Of<float>(g.data(), rows),
        ConstView::Of<float>(beta.data(), rows), 0.125f,
        ConstView::Of<float>(chunk_h0.data(), chunk_h0.size()),
        View::Of<bf16>(chunk_o.data(), chunk_o.size()),
        View::Of<float>(chunk_final.data(), chunk_final.size()),
        View::Of<uint8_t>(chunk_scratch.data(), chunk_scratch.size()), use_qk_l2norm);
  }
  // The layer's entry point with each kernel's reductions, then the kernels' own entry points.
  void RecordGdnRecurrent(Queue& queue) {
    const auto in = [](const std::vector<float>& x) {
      return ConstView::Of<float>(x.data(), x.size());
    };
    const View o = View::Of<float>(recurrent_o.data(), recurrent_o.size());
    const View final_state = View::Of<float>(recurrent_final.data(), recurrent_final.size());
    for (GdnRecurrentKernel kernel : {GdnRecurrentKernel::kSerial, GdnRecurrentKernel::kDecode}) {
      GatedDeltaRuleRecurrent(queue, recurrent, in(recurrent_qk), in(recurrent_qk), in(recurrent_v),
                              in(recurrent_gb), in(recurrent_gb), 0.125f, in(recurrent_h0), o,
                              final_state, kernel);
      queue.memory_barrier();
    }
    GatedDeltaNet(queue, recurrent, in(recurrent_qk), in(recurrent_qk), in(recurrent_v),
                  in(recurrent_gb), in(recurrent_gb), in(recurrent_h0), o, final_state);
    queue.memory_barrier();
    GatedDeltaNetDecode(queue, recurrent, in(recurrent_qk), in(recurrent_qk), in(recurrent_v),
                        in(recurrent_gb), in(recurrent_gb), in(recurrent_h0), o, final_state);
  }
  // The same tokens as 2 sequences of 1 and 2 tokens: T = 3 rows of one packed batch.
  void RecordGdnRecurrentVarlen(Queue& queue) {
    const size_t keys = size_t{recurrent.T} * recurrent.Hk * recurrent.Dk;
    const size_t values = size_t{recurrent.T} * recurrent.Hv * recurrent.Dv;
    const size_t rows = size_t{recurrent.T} * recurrent.Hv;
    const auto in = [](const std::vector<float>& x, size_t n) {
      return ConstView::Of<float>(x.data(), n);
    };
    const auto record = [&](GdnRecurrentKernel kernel) {
      GatedDeltaRuleRecurrentVarlen(
          queue, recurrent,
          ConstView::Of<int32_t>(recurrent_cu_seqlens.data(), recurrent_cu_seqlens.size()),
          in(recurrent_qk, keys), in(recurrent_qk, keys), in(recurrent_v, values),
          in(recurrent_gb, rows), in(recurrent_gb, rows), 0.125f,
          in(recurrent_h0, recurrent_h0.size()), View::Of<float>(recurrent_o.data(), values),
          View::Of<float>(recurrent_final.data(), recurrent_final.size()), kernel);
    };
    record(GdnRecurrentKernel::kSerial);
    queue.memory_barrier();
    record(GdnRecurrentKernel::kDecode);
  }

  void RecordAll(Queue& queue) {
    RecordKkt(queue);
    RecordSdpa(queue);
    queue.memory_barrier();
    RecordSdpaBF16(queue);
  }
};

enum class Work {
  kKkt,
  kSdpa,
  kSdpaBF16,
  kAll,
  kGdnChunk,
  kGdnChunkL2Norm,
  kGdnChunkVarlen,
  kGdnRecurrent,
  kGdnRecurrentVarlen
};

struct Case {
  Work work;
  int threads;
  bool scalar;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  static const char* const kNames[] = {"Kkt",
                                       "Sdpa",
                                       "SdpaBF16",
                                       "All",
                                       "GdnChunk",
                                       "GdnChunkL2Norm",
                                       "GdnChunkVarlen",
                                       "GdnRecurrent",
                                       "GdnRecurrentVarlen"};
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
      case Work::kGdnChunk:
        p.RecordGdnChunk(queue, false);
        break;
      case Work::kGdnChunkL2Norm:
        p.RecordGdnChunk(queue, true);
        break;
      case Work::kGdnChunkVarlen:
        p.RecordGdnChunkVarlen(queue, false);
        queue.memory_barrier();
        p.RecordGdnChunkVarlen(queue, true);
        break;
      case Work::kGdnRecurrent:
        p.RecordGdnRecurrent(queue);
        break;
      case Work::kGdnRecurrentVarlen:
        p.RecordGdnRecurrentVarlen(queue);
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
  for (Work work : {Work::kKkt, Work::kSdpa, Work::kSdpaBF16, Work::kAll, Work::kGdnChunk,
                    Work::kGdnChunkL2Norm, Work::kGdnChunkVarlen, Work::kGdnRecurrent,
                    Work::kGdnRecurrentVarlen}) {
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
