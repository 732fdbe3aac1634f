// The encoder/queue: dispatches recorded in order, explicit memory barriers between dependent
// dispatches, and commit_and_wait() to run them on an OpenMP team.
//
// Execution: a dispatch's groups are spread over the queue's threads; a whole group runs on one
// thread, in the default floating-point modes whatever the caller set (no flush-to-zero, round
// to nearest): no result depends on scheduling or the caller. Dispatches not separated by
// memory_barrier() may run concurrently, as on a GPU: one that reads what another wrote needs it.
//
// Threads: `threads` sets the team size of this queue's parallel regions through a
// num_threads clause; the process-wide OpenMP settings are never changed. 0 means the OpenMP
// default (OMP_NUM_THREADS, else the number of cores), capped at kMaxQueueThreads. A segment
// of dispatches (the work between two barriers) runs on min(threads, its group count)
// threads, and only those get scratch memory. OMP_PROC_BIND and OMP_PLACES apply as the
// OpenMP runtime implements them. Inside an enclosing parallel region OpenMP runs the team on
// one thread (unless the caller enabled nesting). A server that brings its own threads uses
// caller_thread_only: every group then runs on the calling thread, without OpenMP.
//
// Thread creation: OpenMP runtimes end the process when they cannot start a thread. So before
// a calling thread first runs a team larger than any it ran before, the queue starts that many
// threads itself, with the stack size OpenMP will give them (OMP_STACKSIZE, else the pthread
// default), and throws tgk::Error if it cannot; the recorded work then stays recorded.
//
// Memory: a warm queue (one that already ran dispatches of the same shapes and thread count)
// records and runs without a heap allocation: kernel arguments are stored inline (at most
// kMaxKernelArgsBytes), and the queue reuses its command list and scratch.
//
// Lifetime: a Queue is movable, not copyable; a moved-from queue may only be destroyed or
// assigned to. Work recorded and not committed when a queue is destroyed (or assigned over)
// does not run: its buffers may be gone by then. The destructor reports it, one line on
// stderr naming the first kernel, because dropping work is a bug in the caller; discard()
// drops it on purpose, silently (after a failed validation, say).
//
// A Queue is not thread-safe; use one queue per server thread. Queues share no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "tgk/detail/launch.h"
#include "tgk/detail/race_check.h"
#include "tgk/geometry.h"
#include "tgk/target.h"

namespace tgk {

// The largest team a queue runs; QueueOptions::threads above it is an error.
inline constexpr int kMaxQueueThreads = 1024;
// Kernel arguments are copied into the queue, inline; larger data goes through a buffer.
inline constexpr size_t kMaxKernelArgsBytes = 512;
inline constexpr size_t kMaxKernelArgsAlignment = alignof(std::max_align_t);

// Every member has a default, so that designated initializers that name some of them
// (QueueOptions{.caller_thread_only = true}) compile without -Wmissing-field-initializers.
struct QueueOptions {
  int threads = 0;  // 0..kMaxQueueThreads
  bool caller_thread_only = false;
  // Which instantiation runs the kernels; BestTarget() when unset.
  std::optional<Target> target = std::nullopt;
  // Debug mode of the scalar target: track every arena access and report missing barriers
  // (see RaceReport). Requires the scalar target.
  bool check_races = false;
};

class Queue {
 public:
  explicit Queue(QueueOptions options = {});
  ~Queue();
  Queue(Queue&& other) noexcept;
  Queue& operator=(Queue&& other) noexcept;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;

  Target target() const { return target_; }
  // The largest team commit_and_wait() uses; a segment runs on min(threads(), its groups).
  int threads() const;

  // Records a dispatch of `kernel` over `grid` groups of `group_size` lanes with threadgroup
  // arenas of `arenas` bytes; `args` (trivially copyable) is copied. Throws tgk::Error, and
  // records nothing, when group_size is outside [1, 1024] or an arena is too large.
  template <class Args>
  void dispatch(const detail::KernelEntry& kernel, Dim3 grid, uint32_t group_size,
                ArenaSizes arenas, const Args& args) {
    static_assert(std::is_trivially_copyable_v<Args>, "kernel arguments are copied as bytes");
    static_assert(sizeof(Args) <= kMaxKernelArgsBytes,
                  "kernel arguments are stored inline, at most tgk::kMaxKernelArgsBytes (512) "
                  "bytes: pass larger data through a buffer");
    static_assert(alignof(Args) <= kMaxKernelArgsAlignment,
                  "kernel arguments may be aligned to at most tgk::kMaxKernelArgsAlignment");
    Record(kernel, grid, group_size, arenas, &args, sizeof(Args));
  }

  // Everything recorded before the barrier completes before anything recorded after it.
  void memory_barrier();

  // Runs every recorded dispatch and returns when all have finished. In the checked mode, throws
  // tgk::Error (kind kRace) if the race checker reported anything; race_reports() has the list.
  void commit_and_wait();

  // Dispatches recorded and not yet committed.
  size_t pending() const;
  // Drops the recorded work without running it.
  void discard();

  const std::vector<RaceReport>& race_reports() const { return race_reports_; }

 private:
  struct Command;
  void Record(const detail::KernelEntry& kernel, Dim3 grid, uint32_t group_size, ArenaSizes arenas,
              const void* args, size_t args_bytes);
  // Gives threads [0, team) arenas of `arena_bytes` and the most lane state any thread's group
  // has taken, before and after a commit's runs (see detail::ThreadScratch::Reserve).
  void ReserveScratch(int team, size_t arena_bytes);
  void RunSegment(const Command* begin, const Command* end, int team_size);
  void ReportDroppedWork() const;

  QueueOptions options_;
  Target target_;
  std::vector<Command> commands_;
  std::vector<uint64_t> segment_offsets_;  // RunSegment's, kept for its capacity
  std::vector<std::unique_ptr<detail::ThreadScratch>> scratch_;
  std::unique_ptr<detail::RaceLog> race_log_;
  std::vector<RaceReport> race_reports_;
};

}  // namespace tgk
