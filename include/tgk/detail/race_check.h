// The checked scalar mode's race detector. It shadows every byte of every arena with the lane
// that last wrote it and the lane(s) that read it, with the phases of those accesses. A lane
// that reads or overwrites a byte another lane wrote in the same phase, or overwrites a byte
// another lane read in the same phase, would race on a GPU, where lanes run concurrently
// between barriers. Reads of bytes that no lane wrote in this group are reported too, since
// arena memory starts undefined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "tgk/detail/launch.h"

namespace tgk {

struct RaceReport {
  enum class Kind {
    kReadAfterWrite,
    kWriteAfterWrite,
    kWriteAfterRead,
    kUninitializedRead,
    kOutOfBounds
  };
  Kind kind;
  std::string kernel;
  uint32_t arena;
  size_t byte_offset;
  uint32_t phase;        // phases count from 0; each barrier starts the next one
  int32_t lane;          // the lane making the access (-1: group-level code)
  int32_t other_lane;    // the lane that wrote (read, for kWriteAfterRead) the byte in the same
                         // phase; RaceChecker::kSeveralLanes when more than one read it
  Dim3 group;

  std::string ToString() const;
};

namespace detail {

// Reports from every thread of one commit; the queue owns it.
class RaceLog {
 public:
  void Add(RaceReport report);
  std::vector<RaceReport> Take();

 private:
  std::mutex mutex_;
  std::vector<RaceReport> reports_;
};

class RaceChecker {
 public:
  static constexpr int32_t kGroupLevel = -1;
  static constexpr int32_t kNobody = -2;
  static constexpr int32_t kSeveralLanes = -3;

  explicit RaceChecker(RaceLog* log) : log_(log) {}

  void BeginGroup(const char* kernel, const LaunchGeometry& geometry, Dim3 group);
  void SetLane(int32_t lane) { lane_ = lane; }
  void Barrier() { ++phase_; }

  // Return false when the access must be skipped (out of bounds).
  bool OnRead(uint32_t arena, size_t byte_offset, size_t bytes);
  bool OnWrite(uint32_t arena, size_t byte_offset, size_t bytes);

 private:
  struct Shadow {
    std::vector<int32_t> writer;
    std::vector<uint32_t> phase;
    std::vector<int32_t> reader;
    std::vector<uint32_t> read_phase;
  };
  void Report(RaceReport::Kind kind, uint32_t arena, size_t offset, int32_t other);

  RaceLog* log_;
  const char* kernel_ = "";
  Dim3 group_;
  uint32_t phase_ = 0;
  int32_t lane_ = kGroupLevel;
  std::vector<Shadow> shadows_;
  size_t reports_in_group_ = 0;
};

}  // namespace detail
}  // namespace tgk
