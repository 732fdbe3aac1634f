#include "tgk/queue.h"

#include <omp.h>
#include <pthread.h>
#include <xmmintrin.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <utility>

#include "runtime/target_index.h"
#include "tgk/detail/scratch.h"
#include "tgk/error.h"

namespace tgk {

struct Queue::Command {
  bool is_barrier = false;
  const char* kernel_name = "";
  detail::GroupRunner runner = nullptr;
  detail::LaunchGeometry geometry;
  alignas(kMaxKernelArgsAlignment) std::byte args[kMaxKernelArgsBytes];
};

namespace {

// The stack size OpenMP gives its threads: OMP_STACKSIZE (a number with an optional B, K, M or
// G suffix, K when none), else the pthread default, which libgomp uses and which is at least
// libomp's 4 MiB wherever RLIMIT_STACK keeps its usual 8 MiB.
size_t OpenMpStackSize() {
  pthread_attr_t attr;
  size_t bytes = 0;
  pthread_attr_init(&attr);
  pthread_attr_getstacksize(&attr, &bytes);
  pthread_attr_destroy(&attr);
  const char* env = std::getenv("OMP_STACKSIZE");
  if (env == nullptr) return bytes;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(env, &end, 10);
  if (errno != 0 || end == env) return bytes;
  while (*end == ' ') ++end;
  static constexpr char kUnits[] = "bBkKmMgG";
  int shift = 10;
  if (*end != '\0') {
    const char* unit = std::strchr(kUnits, *end);
    if (unit == nullptr) return bytes;
    shift = int(unit - kUnits) / 2 * 10;
  }
  if (value > (~0ull >> shift)) return bytes;
  return std::max<size_t>(bytes, size_t(value << shift));
}

struct ParkingGate {
  std::mutex mutex;
  std::condition_variable opened;
  bool open = false;
};

void* Park(void* gate_pointer) {
  auto& gate = *static_cast<ParkingGate*>(gate_pointer);
  std::unique_lock lock(gate.mutex);
  gate.opened.wait(lock, [&] { return gate.open; });
  return nullptr;
}

// Starts the team's `team - 1` worker threads so that all exist at once, as OpenMP's would,
// then ends them; throws tgk::Error (kind kResource) when one cannot start. OpenMP runtimes
// exit the process in that case, so this check is the only point where it can be reported.
void CheckTeamCanStart(int team) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, OpenMpStackSize());
  ParkingGate gate;
  std::vector<pthread_t> started;
  started.reserve(size_t(team - 1));
  int rc = 0;
  while (rc == 0 && int(started.size()) < team - 1) {
    pthread_t thread;
    rc = pthread_create(&thread, &attr, Park, &gate);
    if (rc == 0) started.push_back(thread);
  }
  pthread_attr_destroy(&attr);
  {
    std::lock_guard lock(gate.mutex);
    gate.open = true;
  }
  gate.opened.notify_all();
  for (pthread_t thread : started) pthread_join(thread, nullptr);
  if (rc != 0) {
    throw Error(ErrorKind::kResource,
                "threads: a team of " + std::to_string(team) + " cannot start here (worker " +
                    std::to_string(started.size() + 1) + " failed: " + std::strerror(rc) +
                    "); use fewer threads or raise the limit that stopped it");
  }
}

// Kernels run in the default floating-point environment (round to nearest, subnormals kept,
// exceptions masked) whatever the thread had set: the startup code of a program linked with
// -ffast-math turns on flush-to-zero for the whole process, and tgk's bits must not change.
// The thread gets its own modes back afterwards.
class DefaultFloatEnvironment {
 public:
  DefaultFloatEnvironment() : saved_(_mm_getcsr()) {
    if ((saved_ & ~kFlags) != kDefault) _mm_setcsr(kDefault);
  }
  ~DefaultFloatEnvironment() {
    if ((saved_ & ~kFlags) != kDefault) _mm_setcsr(saved_ | (_mm_getcsr() & kFlags));
  }
  DefaultFloatEnvironment(const DefaultFloatEnvironment&) = delete;
  DefaultFloatEnvironment& operator=(const DefaultFloatEnvironment&) = delete;

 private:
  static constexpr unsigned kDefault = 0x1F80;  // every exception masked, nearest, no FTZ/DAZ
  static constexpr unsigned kFlags = 0x3F;      // the sticky exception flags
  unsigned saved_;
};

// The largest team the calling thread has started: OpenMP keeps a finished team's threads for
// the next region of the same master, so a team up to this size starts no thread.
thread_local int largest_started_team = 1;

}  // namespace

ArenaSizes::ArenaSizes(std::initializer_list<size_t> bytes) {
  if (bytes.size() > kMaxArenas) {
    ThrowInvalidArgument("arena count (" + std::to_string(bytes.size()) + ") must be at most " +
                         std::to_string(kMaxArenas));
  }
  for (size_t b : bytes) bytes_[count_++] = b;
}

Queue::Queue(QueueOptions options)
    : options_(options), target_(options.target.value_or(BestTarget())) {
  if (options_.threads < 0 || options_.threads > kMaxQueueThreads) {
    ThrowInvalidArgument("threads (" + std::to_string(options_.threads) + ") must be in [0, " +
                         std::to_string(kMaxQueueThreads) + "] (0: the OpenMP default)");
  }
  if (options_.check_races && !target_.is_scalar()) {
    ThrowInvalidArgument("check_races needs the scalar target (got target " + target_.name() + ")");
  }
  if (!target_.is_scalar()) {
    const auto available = AvailableTargets();
    if (std::find(available.begin(), available.end(), target_) == available.end()) {
      ThrowInvalidArgument("target " + target_.name() +
                           " is not compiled in or not supported here");
    }
  }
  if (options_.check_races) race_log_ = std::make_unique<detail::RaceLog>();
}

Queue::~Queue() {
  if (pending() > 0) ReportDroppedWork();
}

Queue::Queue(Queue&& other) noexcept = default;

Queue& Queue::operator=(Queue&& other) noexcept {
  if (this != &other) {
    if (pending() > 0) ReportDroppedWork();
    options_ = other.options_;
    target_ = other.target_;
    commands_ = std::move(other.commands_);
    other.commands_.clear();
    segment_offsets_ = std::move(other.segment_offsets_);
    scratch_ = std::move(other.scratch_);
    race_log_ = std::move(other.race_log_);
    race_reports_ = std::move(other.race_reports_);
  }
  return *this;
}

void Queue::ReportDroppedWork() const {
  const auto first = std::find_if(commands_.begin(), commands_.end(),
                                  [](const Command& c) { return !c.is_barrier; });
  std::fprintf(stderr,
               "tgk: a Queue was destroyed with %zu recorded dispatch(es) not committed "
               "(first: %s); they did not run\n",
               pending(), first->kernel_name);
}

int Queue::threads() const {
  if (options_.caller_thread_only) return 1;
  return options_.threads > 0 ? options_.threads
                              : std::min(omp_get_max_threads(), kMaxQueueThreads);
}

size_t Queue::pending() const {
  return size_t(std::count_if(commands_.begin(), commands_.end(),
                              [](const Command& c) { return !c.is_barrier; }));
}

void Queue::discard() { commands_.clear(); }

void Queue::Record(const detail::KernelEntry& kernel, Dim3 grid, uint32_t group_size,
                   ArenaSizes arenas, const void* args, size_t args_bytes) {
  if (group_size < 1 || group_size > kMaxGroupSize) {
    ThrowInvalidArgument("dispatch of " + std::string(kernel.name) + ": group_size (" +
                         std::to_string(group_size) + ") must be in [1, " +
                         std::to_string(kMaxGroupSize) + "]");
  }
  for (uint32_t i = 0; i < arenas.count(); ++i) {
    if (arenas[i] > kMaxArenaBytes) {
      ThrowInvalidArgument("dispatch of " + std::string(kernel.name) + ": arena " +
                           std::to_string(i) + " size (" + std::to_string(arenas[i]) +
                           " bytes) must be at most " + std::to_string(kMaxArenaBytes) + " bytes");
    }
  }
  Command& command = commands_.emplace_back();
  command.kernel_name = kernel.name;
  if (target_.is_scalar()) {
    command.runner = kernel.scalar;
  } else {
    command.runner = kernel.simd_table[detail::DispatchTableIndex(target_.hwy_bit())];
  }
  command.geometry.grid = grid;
  command.geometry.group_size = group_size;
  command.geometry.arenas = arenas;
  std::memcpy(command.args, args, args_bytes);
}

void Queue::memory_barrier() { commands_.emplace_back().is_barrier = true; }

void Queue::commit_and_wait() {
  race_reports_.clear();
  // The largest team any segment runs: min(threads, the segment's groups).
  const uint64_t threads_wanted = uint64_t(threads());
  uint64_t largest_team = 1, segment_groups = 0;
  for (const Command& command : commands_) {
    segment_groups = command.is_barrier ? 0 : segment_groups + command.geometry.group_count();
    largest_team = std::max(largest_team, std::min(threads_wanted, segment_groups));
  }
  const int team = int(largest_team);
  if (team > largest_started_team) {
    CheckTeamCanStart(team);
    largest_started_team = team;
  }
  if (scratch_.size() < size_t(team)) scratch_.resize(size_t(team));
  size_t arena_bytes = 0;
  for (const Command& command : commands_) {
    if (!command.is_barrier) {
      arena_bytes = std::max(arena_bytes, detail::ThreadScratch::ArenaBytes(command.geometry));
    }
  }
  ReserveScratch(team, arena_bytes);

  const Command* begin = commands_.data();
  const Command* const end = commands_.data() + commands_.size();
  while (begin != end) {
    const Command* segment_end =
        std::find_if(begin, end, [](const Command& c) { return c.is_barrier; });
    if (segment_end != begin) RunSegment(begin, segment_end, team);
    begin = segment_end == end ? end : segment_end + 1;
  }
  commands_.clear();
  // Now that the groups' lane state is known, every thread of the team gets room for it, so
  // that the next commit allocates nothing whichever groups its threads run.
  ReserveScratch(team, arena_bytes);
  if (race_log_) {
    race_reports_ = race_log_->Take();
    if (!race_reports_.empty()) {
      std::string message = std::to_string(race_reports_.size()) +
                            " report(s); first: " + race_reports_.front().ToString();
      throw Error(ErrorKind::kRace, message);
    }
  }
}

void Queue::ReserveScratch(int team, size_t arena_bytes) {
  size_t lane_state_bytes = 0;
  for (const auto& scratch : scratch_) {
    if (scratch) lane_state_bytes = std::max(lane_state_bytes, scratch->lane_state_peak());
  }
  for (int t = 0; t < team; ++t) {
    if (!scratch_[size_t(t)]) scratch_[size_t(t)] = std::make_unique<detail::ThreadScratch>();
    scratch_[size_t(t)]->Reserve(arena_bytes, lane_state_bytes);
  }
}

void Queue::RunSegment(const Command* begin, const Command* end, int team_size) {
  // The segment's groups form one index space: [offset[c], offset[c+1]) belongs to command c.
  const size_t n = size_t(end - begin);
  std::vector<uint64_t>& offset = segment_offsets_;
  offset.assign(n + 1, 0);
  for (size_t c = 0; c < n; ++c) offset[c + 1] = offset[c] + begin[c].geometry.group_count();
  const uint64_t total = offset[n];
  if (total == 0) return;

  auto run = [&](int thread, uint64_t first, uint64_t last) {
    detail::ThreadScratch& scratch = *scratch_[size_t(thread)];
    detail::RaceChecker checker(race_log_.get());
    size_t c = size_t(std::upper_bound(offset.begin(), offset.end(), first) - offset.begin()) - 1;
    const Command* prepared = nullptr;
    while (first < last) {
      while (offset[c + 1] <= first) ++c;
      const Command& command = begin[c];
      if (prepared != &command) {
        scratch.PrepareArenas(command.geometry);
        prepared = &command;
      }
      const uint64_t stop = std::min(last, offset[c + 1]);
      detail::GroupBatch batch{command.args,
                               command.kernel_name,
                               &command.geometry,
                               first - offset[c],
                               stop - offset[c],
                               &scratch,
                               race_log_ ? &checker : nullptr};
      command.runner(batch);
      first = stop;
    }
  };

  const int team = int(std::min<uint64_t>(uint64_t(team_size), total));
  if (team <= 1) {
    const DefaultFloatEnvironment environment;
    run(0, 0, total);
    return;
  }
  // Chunks of a few groups keep the per-chunk overhead small while still balancing load;
  // which thread runs a group never affects its result.
  const uint64_t chunk = std::max<uint64_t>(1, total / (uint64_t(team) * 16));
  const int64_t chunks = int64_t((total + chunk - 1) / chunk);
#pragma omp parallel num_threads(team)
  {
    const DefaultFloatEnvironment environment;
    const int thread = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < chunks; ++i) {
      const uint64_t first = uint64_t(i) * chunk;
      run(thread, first, std::min(total, first + chunk));
    }
  }
}

}  // namespace tgk
