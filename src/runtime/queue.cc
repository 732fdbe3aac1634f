#include "tgk/queue.h"

#include <omp.h>

#include <algorithm>
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
  std::shared_ptr<const void> args;
};

ArenaSizes::ArenaSizes(std::initializer_list<size_t> bytes) {
  if (bytes.size() > kMaxArenas) {
    ThrowInvalidArgument("arena count (" + std::to_string(bytes.size()) + ") must be at most " +
                         std::to_string(kMaxArenas));
  }
  for (size_t b : bytes) bytes_[count_++] = b;
}

Queue::Queue(QueueOptions options)
    : options_(options), target_(options.target.value_or(BestTarget())) {
  if (options_.threads < 0) {
    ThrowInvalidArgument("threads (" + std::to_string(options_.threads) +
                         ") must be >= 0 (0: the OpenMP default)");
  }
  if (options_.check_races && !target_.is_scalar()) {
    ThrowInvalidArgument("check_races needs the scalar target (got target " + target_.name() + ")");
  }
  if (!target_.is_scalar()) {
    const auto available = AvailableTargets();
    if (std::find(available.begin(), available.end(), target_) == available.end()) {
      ThrowInvalidArgument("target " + target_.name() + " is not compiled in or not supported here");
    }
  }
  if (options_.check_races) race_log_ = std::make_unique<detail::RaceLog>();
}

Queue::~Queue() = default;

int Queue::threads() const {
  if (options_.caller_thread_only) return 1;
  return options_.threads > 0 ? options_.threads : omp_get_max_threads();
}

void Queue::Record(const detail::KernelEntry& kernel, Dim3 grid, uint32_t group_size,
                   ArenaSizes arenas, std::shared_ptr<const void> args) {
  const std::string name = kernel.name;
  if (group_size < 1 || group_size > kMaxGroupSize) {
    ThrowInvalidArgument("dispatch of " + name + ": group_size (" + std::to_string(group_size) +
                         ") must be in [1, " + std::to_string(kMaxGroupSize) + "]");
  }
  for (uint32_t i = 0; i < arenas.count(); ++i) {
    if (arenas[i] > kMaxArenaBytes) {
      ThrowInvalidArgument("dispatch of " + name + ": arena " + std::to_string(i) + " size (" +
                           std::to_string(arenas[i]) + " bytes) must be at most " +
                           std::to_string(kMaxArenaBytes) + " bytes");
    }
  }
  Command command;
  command.kernel_name = kernel.name;
  if (target_.is_scalar()) {
    command.runner = kernel.scalar;
  } else {
    command.runner = kernel.simd_table[detail::DispatchTableIndex(target_.hwy_bit())];
  }
  command.geometry.grid = grid;
  command.geometry.group_size = group_size;
  command.geometry.arenas = arenas;
  command.args = std::move(args);
  commands_.push_back(std::move(command));
}

void Queue::memory_barrier() {
  Command barrier;
  barrier.is_barrier = true;
  commands_.push_back(std::move(barrier));
}

void Queue::commit_and_wait() {
  std::vector<Command> commands = std::exchange(commands_, {});
  race_reports_.clear();
  const int team = threads();
  if (scratch_.size() < size_t(team)) scratch_.resize(team);
  for (auto& s : scratch_) {
    if (!s) s = std::make_unique<detail::ThreadScratch>();
  }
  const Command* begin = commands.data();
  const Command* const end = commands.data() + commands.size();
  while (begin != end) {
    const Command* segment_end = std::find_if(begin, end, [](const Command& c) { return c.is_barrier; });
    if (segment_end != begin) RunSegment(begin, segment_end, team);
    begin = segment_end == end ? end : segment_end + 1;
  }
  if (race_log_) {
    race_reports_ = race_log_->Take();
    if (!race_reports_.empty()) {
      std::string message = std::to_string(race_reports_.size()) + " report(s); first: " +
                             race_reports_.front().ToString();
      throw Error(ErrorKind::kRace, message);
    }
  }
}

void Queue::RunSegment(const Command* begin, const Command* end, int team_size) {
  // The segment's groups form one index space: [offset[c], offset[c+1]) belongs to command c.
  const size_t n = size_t(end - begin);
  std::vector<uint64_t> offset(n + 1, 0);
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
      detail::GroupBatch batch{command.args.get(),  command.kernel_name,
                               &command.geometry,   first - offset[c],
                               stop - offset[c],    &scratch,
                               race_log_ ? &checker : nullptr};
      command.runner(batch);
      first = stop;
    }
  };

  const int team = int(std::min<uint64_t>(uint64_t(team_size), total));
  if (team <= 1) {
    run(0, 0, total);
    return;
  }
  // Chunks of a few groups keep the per-chunk overhead small while still balancing load;
  // which thread runs a group never affects its result.
  const uint64_t chunk = std::max<uint64_t>(1, total / (uint64_t(team) * 16));
  const int64_t chunks = int64_t((total + chunk - 1) / chunk);
#pragma omp parallel num_threads(team)
  {
    const int thread = omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < chunks; ++i) {
      const uint64_t first = uint64_t(i) * chunk;
      run(thread, first, std::min(total, first + chunk));
    }
  }
}

}  // namespace tgk
