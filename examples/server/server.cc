// A C++ server's use of tgk: N worker threads, one tgk::Queue each, serving requests that run
// two kernels (kkt and sdpa). To show that it is safe, every result is also computed by the
// scalar oracle and compared bit for bit; a real server drops that part.
//
//   server [WORKERS [REQUESTS_PER_WORKER]]    exit status 0 when every result matched
//
// One queue per worker: a Queue is not thread-safe, and queues share nothing, so workers
// never contend. caller_thread_only: the server already runs one worker per core, and an
// OpenMP team inside each worker would put WORKERS x team threads on those cores; this way
// every group of a request runs on its worker thread, without OpenMP. (A server with few,
// large requests would rather give a queue a team, QueueOptions::threads.)
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/kernels/kkt.h"
#include "tgk/kernels/sdpa.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/version.h"

namespace {

constexpr tgk::KktShape kKkt{.B = 1, .T = 128, .Hg = 2, .H = 4, .K = 128};
constexpr tgk::SdpaParams kSdpa{.n_heads = 8,
                                .n_kv_heads = 2,
                                .head_dim = 64,
                                .seq_len = 16,
                                .kv_seq_len = 200,
                                .scale = 0.125f};

// One request's inputs and outputs. A worker allocates them once and reuses them, so that
// after its first request neither the server nor tgk allocates.
struct Request {
  std::vector<tgk::bf16> k = std::vector<tgk::bf16>(size_t{kKkt.T} * kKkt.Hg * kKkt.K);
  std::vector<float> beta = std::vector<float>(size_t{kKkt.T} * kKkt.H), g = beta;
  std::vector<float> A = std::vector<float>(size_t{kKkt.T} * kKkt.H * 64);
  std::vector<float> q = std::vector<float>(size_t{kSdpa.n_heads} * kSdpa.seq_len * 64);
  std::vector<float> kv = std::vector<float>(size_t{kSdpa.n_kv_heads} * kSdpa.kv_seq_len * 64);
  std::vector<float> out = std::vector<float>(q.size());

  // Stands in for reading a request: deterministic values from its id.
  void Fill(uint32_t id) {
    uint32_t s = id * 2654435761u + 1;
    const auto next = [&s](float scale) {
      s = s * 1664525u + 1013904223u;
      return float(int32_t(s) >> 8) * scale;
    };
    for (auto& x : k) x = tgk::BF16FromF32(next(0x1p-23f));
    for (auto& x : beta) x = next(0x1p-24f) + 0.5f;
    for (size_t i = 0; i < g.size(); ++i) g[i] = (i < kKkt.H ? 0 : g[i - kKkt.H]) - 0.01f;
    for (auto& x : q) x = next(0x1p-23f);
    for (auto& x : kv) x = next(0x1p-23f);
  }
};

// Records both kernels and runs them. They are independent: no memory_barrier between them.
// A validation error leaves nothing recorded (tgk::Error is thrown before recording), but
// if the second kernel is rejected the first one is recorded already: discard() drops it, so
// that it does not run with the next request (or get reported when the queue is destroyed).
void Serve(tgk::Queue& queue, Request& r) {
  try {
    tgk::GatedDeltaNetKkt(queue, kKkt, tgk::ConstView::Of<tgk::bf16>(r.k.data(), r.k.size()),
                          tgk::ConstView::Of<float>(r.beta.data(), r.beta.size()),
                          tgk::ConstView::Of<float>(r.g.data(), r.g.size()),
                          tgk::View::Of<float>(r.A.data(), r.A.size()));
    const auto kv = tgk::ConstView::Of<float>(r.kv.data(), r.kv.size());
    tgk::Sdpa(queue, kSdpa, tgk::ConstView::Of<float>(r.q.data(), r.q.size()), kv, kv,
              tgk::View::Of<float>(r.out.data(), r.out.size()));
  } catch (const tgk::Error&) {
    queue.discard();
    throw;
  }
  queue.commit_and_wait();
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int workers = argc > 1 ? std::atoi(argv[1]) : 4;
  const int requests = argc > 2 ? std::atoi(argv[2]) : 20;
  std::atomic<int> served{0}, mismatches{0}, errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      try {
        tgk::Queue queue({.caller_thread_only = true});  // the best target this CPU runs
        tgk::Queue oracle({.caller_thread_only = true, .target = tgk::Target::Scalar()});
        Request request, check;
        for (int i = 0; i < requests; ++i) {
          const uint32_t id = uint32_t(w * requests + i);
          request.Fill(id);
          Serve(queue, request);
          check.Fill(id);
          Serve(oracle, check);
          if (!SameBits(request.A, check.A) || !SameBits(request.out, check.out)) ++mismatches;
          ++served;
        }
      } catch (const tgk::Error& e) {  // a bad shape or option: report it, as a server would
        std::fprintf(stderr, "worker %d: %s\n", w, e.what());
        ++errors;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::printf(
      "tgk %s on %s: %d workers served %d requests, %d differ from the scalar oracle, "
      "%d errors\n",
      tgk::Version(), tgk::BestTarget().name().c_str(), workers, served.load(), mismatches.load(),
      errors.load());
  return mismatches == 0 && errors == 0 && served == workers * requests ? 0 : 1;
}
