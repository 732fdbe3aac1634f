#include "tgk/detail/race_check.h"

#include <algorithm>
#include <sstream>
#include <utility>

namespace tgk {
namespace {

constexpr size_t kMaxReportsPerGroup = 8;

std::string LaneName(int32_t lane) {
  if (lane == detail::RaceChecker::kGroupLevel) return "group-level code";
  if (lane == detail::RaceChecker::kSeveralLanes) return "several lanes";
  return "lane " + std::to_string(lane);
}

}  // namespace

std::string RaceReport::ToString() const {
  std::ostringstream out;
  out << "kernel " << kernel << ", group (" << group.x << ", " << group.y << ", " << group.z
      << "), arena " << arena << ", byte offset " << byte_offset << ", phase " << phase << ": ";
  switch (kind) {
    case Kind::kReadAfterWrite:
      out << LaneName(lane) << " reads a byte that " << LaneName(other_lane)
          << " wrote in the same phase (missing barrier)";
      break;
    case Kind::kWriteAfterWrite:
      out << LaneName(lane) << " overwrites a byte that " << LaneName(other_lane)
          << " wrote in the same phase (missing barrier)";
      break;
    case Kind::kWriteAfterRead:
      out << LaneName(lane) << " overwrites a byte that " << LaneName(other_lane)
          << " read in the same phase (missing barrier)";
      break;
    case Kind::kUninitializedRead:
      out << LaneName(lane) << " reads a byte that no lane of this group has written";
      break;
    case Kind::kOutOfBounds:
      out << LaneName(lane) << " accesses past the end of the arena";
      break;
  }
  return out.str();
}

namespace detail {

void RaceLog::Add(RaceReport report) {
  std::lock_guard<std::mutex> lock(mutex_);
  reports_.push_back(std::move(report));
}

std::vector<RaceReport> RaceLog::Take() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(reports_, {});
}

void RaceChecker::BeginGroup(const char* kernel, const LaunchGeometry& geometry, Dim3 group) {
  kernel_ = kernel;
  group_ = group;
  phase_ = 0;
  lane_ = kGroupLevel;
  reports_in_group_ = 0;
  shadows_.resize(geometry.arenas.count());
  for (uint32_t i = 0; i < geometry.arenas.count(); ++i) {
    shadows_[i].writer.assign(geometry.arenas[i], kNobody);
    shadows_[i].phase.assign(geometry.arenas[i], 0);
    shadows_[i].reader.assign(geometry.arenas[i], kNobody);
    shadows_[i].read_phase.assign(geometry.arenas[i], 0);
  }
}

void RaceChecker::Report(RaceReport::Kind kind, uint32_t arena, size_t offset, int32_t other) {
  if (reports_in_group_++ >= kMaxReportsPerGroup) return;
  log_->Add(RaceReport{kind, kernel_, arena, offset, phase_, lane_, other, group_});
}

bool RaceChecker::OnRead(uint32_t arena, size_t byte_offset, size_t bytes) {
  Shadow& shadow = shadows_[arena];
  if (byte_offset + bytes > shadow.writer.size()) {
    Report(RaceReport::Kind::kOutOfBounds, arena, byte_offset, kNobody);
    return false;
  }
  bool reported = false;
  for (size_t b = byte_offset; b < byte_offset + bytes; ++b) {
    const int32_t writer = shadow.writer[b];
    if (!reported && writer == kNobody) {
      Report(RaceReport::Kind::kUninitializedRead, arena, b, kNobody);
      reported = true;
    }
    // Group-level code runs as every lane at once, so its writes are every lane's own.
    if (!reported && writer != kNobody && writer != lane_ && writer != kGroupLevel &&
        shadow.phase[b] == phase_) {
      Report(RaceReport::Kind::kReadAfterWrite, arena, b, writer);
      reported = true;
    }
    const int32_t reader = shadow.reader[b];
    if (shadow.read_phase[b] == phase_ && reader != kNobody && reader != lane_) {
      shadow.reader[b] = kSeveralLanes;
    } else {
      shadow.reader[b] = lane_;
      shadow.read_phase[b] = phase_;
    }
  }
  return true;
}

bool RaceChecker::OnWrite(uint32_t arena, size_t byte_offset, size_t bytes) {
  Shadow& shadow = shadows_[arena];
  if (byte_offset + bytes > shadow.writer.size()) {
    Report(RaceReport::Kind::kOutOfBounds, arena, byte_offset, kNobody);
    return false;
  }
  for (size_t b = byte_offset; b < byte_offset + bytes; ++b) {
    const int32_t writer = shadow.writer[b];
    if (writer != kNobody && writer != lane_ && shadow.phase[b] == phase_) {
      Report(RaceReport::Kind::kWriteAfterWrite, arena, b, writer);
      break;
    }
    const int32_t reader = shadow.reader[b];
    if (reader != kNobody && reader != lane_ && shadow.read_phase[b] == phase_) {
      Report(RaceReport::Kind::kWriteAfterRead, arena, b, reader);
      break;
    }
  }
  std::fill(shadow.writer.begin() + byte_offset, shadow.writer.begin() + byte_offset + bytes, lane_);
  std::fill(shadow.phase.begin() + byte_offset, shadow.phase.begin() + byte_offset + bytes, phase_);
  return true;
}

}  // namespace detail
}  // namespace tgk
