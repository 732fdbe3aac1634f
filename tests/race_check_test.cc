// Tests of the checked scalar mode (QueueOptions::check_races): seeded missing barriers,
// write-after-write, uninitialised and out-of-bounds arena accesses are reported exactly, and
// correct kernels (including the kkt kernel) run quietly.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "race_check_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

#ifndef TGK_TESTS_RACE_CHECK_TEST_SHARED_
#define TGK_TESTS_RACE_CHECK_TEST_SHARED_

#include <cstdint>

namespace tgk::race_test {

enum class Mode : uint32_t {
  kMissingBarrier,    // lane l writes arena[l], then reads arena[l ^ 1] in the same phase
  kWithBarrier,       // the same with a barrier between the write and the read
  kWriteAfterWrite,   // lanes 2m and 2m + 1 both write arena[m] in one phase
  kWriteAfterRead,    // lane l reads arena[l + 1], then writes arena[l], in one phase
  kUninitialized,     // lane l reads arena[l], which nobody wrote
  kOutOfBounds,       // lane l reads arena[size + l] and writes far past the end
  kGroupLevelWrites,  // group-level code fills the arena; lanes read each other's slots
};

struct RaceArgs {
  Mode mode;
  uint32_t* out;  // [group][lane]
};

// An index far past any arena: a write there that the checker did not skip would crash.
inline constexpr size_t kFarAway = size_t{1} << 40;

}  // namespace tgk::race_test

#endif  // TGK_TESTS_RACE_CHECK_TEST_SHARED_

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// Lanes touch arena 1 (arena 0 exists so that the reported arena index means something).
// Only the scalar target runs it: kOutOfBounds relies on the checker skipping the access.
struct RaceKernel {
  race_test::RaceArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    using race_test::Mode;
    const uint32_t n = g.size();
    const Dim3 id = g.group_id();
    uint32_t* out = a.out + size_t{id.x + g.grid_size().x * (id.y + g.grid_size().y * id.z)} * n;
    auto arena = g.template arena<uint32_t>(1);
    // Each lane body walks its lanes one at a time, so the same source serves every target.
    const auto each = [&](auto&& f) {
      g.for_each_lane([&](auto lane) HWY_ATTR {
        for (uint32_t k = 0; k < lane.count(); ++k) f(lane.first() + k);
      });
    };
    switch (a.mode) {
      case Mode::kMissingBarrier:
      case Mode::kWithBarrier:
        each([&](uint32_t l) { arena[l] = l; });
        g.barrier();
        if (a.mode == Mode::kMissingBarrier) {
          each([&](uint32_t l) {
            arena[l] = 100 + l;
            out[l] = arena[l ^ 1];
          });
        } else {
          each([&](uint32_t l) { arena[l] = 100 + l; });
          g.barrier();
          each([&](uint32_t l) { out[l] = arena[l ^ 1]; });
        }
        break;
      case Mode::kWriteAfterWrite:
        each([&](uint32_t l) { arena[l / 2] = l; });
        break;
      case Mode::kWriteAfterRead:
        each([&](uint32_t l) { arena[l] = l; });
        g.barrier();
        each([&](uint32_t l) {
          if (l + 1 < n) out[l] = arena[l + 1];
          arena[l] = 100 + l;
        });
        break;
      case Mode::kUninitialized:
        each([&](uint32_t l) { out[l] = arena[l]; });
        break;
      case Mode::kOutOfBounds:
        each([&](uint32_t l) {
          out[l] = arena[n + l];
          arena[race_test::kFarAway + l] = l;
        });
        break;
      case Mode::kGroupLevelWrites:
        for (uint32_t j = 0; j < n; ++j) arena[j] = 7 * j;
        each([&](uint32_t l) { out[l] = arena[l ^ 1]; });
        break;
    }
  }
};

TGK_DEFINE_KERNEL_RUNNERS(RaceKernel, race_test::RaceArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "testing/random.h"
#include "tgk/dtype.h"
#include "tgk/error.h"
#include "tgk/kernels/kkt.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {

TGK_EXPORT_KERNEL(RaceKernel, "race_test")

namespace race_test {
namespace {

using Kind = RaceReport::Kind;

constexpr int32_t kNobody = detail::RaceChecker::kNobody;

// What a report must say; `group` is the group's x coordinate (the grids here are 1-D).
struct Expected {
  Kind kind;
  uint32_t group;
  size_t byte_offset;
  uint32_t phase;
  int32_t lane;
  int32_t other_lane;
};

QueueOptions Checked(int threads) {
  return QueueOptions{.threads = threads, .target = Target::Scalar(), .check_races = true};
}

// Runs the kernel in the checked mode; returns the error's message ("" when none was thrown).
std::string RunChecked(Queue& queue, Mode mode, uint32_t groups, uint32_t lanes,
                       std::vector<uint32_t>& out) {
  out.assign(size_t{groups} * lanes, 0xFFFFFFFFu);
  queue.dispatch(RaceKernelEntry(), Dim3{groups, 1, 1}, lanes,
                 ArenaSizes{64, lanes * sizeof(uint32_t)}, RaceArgs{mode, out.data()});
  try {
    queue.commit_and_wait();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRace);
    EXPECT_EQ(std::string(e.what()), "Race detected: " + e.message());
    return e.message();
  }
  return "";
}

void ExpectReports(const std::vector<RaceReport>& reports, const std::vector<Expected>& want) {
  ASSERT_EQ(reports.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("report " + std::to_string(i) + ": " + reports[i].ToString());
    const RaceReport& r = reports[i];
    EXPECT_EQ(r.kind, want[i].kind);
    EXPECT_EQ(r.kernel, "race_test");
    EXPECT_EQ(r.arena, 1u);
    EXPECT_EQ(r.byte_offset, want[i].byte_offset);
    EXPECT_EQ(r.phase, want[i].phase);
    EXPECT_EQ(r.lane, want[i].lane);
    EXPECT_EQ(r.other_lane, want[i].other_lane);
    EXPECT_EQ(r.group.x, want[i].group);
    EXPECT_EQ(r.group.y, 0u);
    EXPECT_EQ(r.group.z, 0u);
  }
}

// Reports of several threads arrive in any order; groups' own reports keep theirs.
std::vector<RaceReport> ByGroup(std::vector<RaceReport> reports) {
  std::stable_sort(reports.begin(), reports.end(),
                   [](const RaceReport& a, const RaceReport& b) { return a.group.x < b.group.x; });
  return reports;
}

std::vector<Expected> MissingBarrierReports(uint32_t groups, uint32_t lanes) {
  std::vector<Expected> want;
  for (uint32_t g = 0; g < groups; ++g) {
    // Lane 2m reads arena[2m + 1], last written in phase 0: no race, but lane 2m + 1 then
    // overwrites it in the same phase. Lane 2m + 1 reads arena[2m], which lane 2m rewrote in
    // phase 1.
    for (uint32_t l = 1; l < lanes; l += 2) {
      want.push_back(
          {Kind::kWriteAfterRead, g, l * sizeof(uint32_t), 1, int32_t(l), int32_t(l - 1)});
      want.push_back(
          {Kind::kReadAfterWrite, g, (l - 1) * sizeof(uint32_t), 1, int32_t(l), int32_t(l - 1)});
    }
  }
  return want;
}

TEST(RaceCheck, MissingBarrierIsReported) {
  Queue queue(Checked(1));
  std::vector<uint32_t> out;
  const std::string message = RunChecked(queue, Mode::kMissingBarrier, 2, 8, out);
  EXPECT_EQ(message,
            "16 report(s); first: kernel race_test, group (0, 0, 0), arena 1, byte offset 4, "
            "phase 1: lane 1 overwrites a byte that lane 0 read in the same phase (missing "
            "barrier)");
  ExpectReports(queue.race_reports(), MissingBarrierReports(2, 8));
}

TEST(RaceCheck, ReportsFromSeveralThreads) {
  for (int threads : {2, 3, 7}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    Queue queue(Checked(threads));
    std::vector<uint32_t> out;
    EXPECT_NE(RunChecked(queue, Mode::kMissingBarrier, 13, 6, out), "");
    const auto reports = ByGroup(queue.race_reports());
    ExpectReports(reports, MissingBarrierReports(13, 6));
  }
}

TEST(RaceCheck, WithTheBarrierItIsQuiet) {
  for (int threads : {1, 3}) {
    Queue queue(Checked(threads));
    std::vector<uint32_t> out;
    EXPECT_EQ(RunChecked(queue, Mode::kWithBarrier, 5, 8, out), "");
    EXPECT_TRUE(queue.race_reports().empty());
    for (uint32_t g = 0; g < 5; ++g) {
      for (uint32_t l = 0; l < 8; ++l) EXPECT_EQ(out[g * 8 + l], 100 + (l ^ 1));
    }
  }
}

TEST(RaceCheck, WriteAfterWriteIsReported) {
  Queue queue(Checked(1));
  std::vector<uint32_t> out;
  const std::string message = RunChecked(queue, Mode::kWriteAfterWrite, 1, 8, out);
  EXPECT_EQ(message,
            "4 report(s); first: kernel race_test, group (0, 0, 0), arena 1, byte offset 0, "
            "phase 0: lane 1 overwrites a byte that lane 0 wrote in the same phase (missing "
            "barrier)");
  std::vector<Expected> want;
  for (int32_t l = 1; l < 8; l += 2) {
    want.push_back({Kind::kWriteAfterWrite, 0, (size_t(l) / 2) * sizeof(uint32_t), 0, l, l - 1});
  }
  ExpectReports(queue.race_reports(), want);
}

TEST(RaceCheck, WriteAfterReadIsReported) {
  Queue queue(Checked(1));
  std::vector<uint32_t> out;
  const std::string message = RunChecked(queue, Mode::kWriteAfterRead, 1, 8, out);
  EXPECT_EQ(message,
            "7 report(s); first: kernel race_test, group (0, 0, 0), arena 1, byte offset 4, "
            "phase 1: lane 1 overwrites a byte that lane 0 read in the same phase (missing "
            "barrier)");
  std::vector<Expected> want;
  for (int32_t l = 1; l < 8; ++l) {
    want.push_back({Kind::kWriteAfterRead, 0, size_t(l) * sizeof(uint32_t), 1, l, l - 1});
  }
  ExpectReports(queue.race_reports(), want);
}

TEST(RaceCheck, UninitializedReadIsReported) {
  Queue queue(Checked(1));
  std::vector<uint32_t> out;
  const std::string message = RunChecked(queue, Mode::kUninitialized, 1, 4, out);
  EXPECT_EQ(message,
            "4 report(s); first: kernel race_test, group (0, 0, 0), arena 1, byte offset 0, "
            "phase 0: lane 0 reads a byte that no lane of this group has written");
  std::vector<Expected> want;
  for (int32_t l = 0; l < 4; ++l) {
    want.push_back({Kind::kUninitializedRead, 0, size_t(l) * sizeof(uint32_t), 0, l, kNobody});
  }
  ExpectReports(queue.race_reports(), want);
}

TEST(RaceCheck, ReportsPerGroupAreCapped) {
  Queue queue(Checked(1));
  std::vector<uint32_t> out;
  EXPECT_NE(RunChecked(queue, Mode::kUninitialized, 3, 64, out), "");
  std::vector<Expected> want;
  for (uint32_t g = 0; g < 3; ++g) {
    for (int32_t l = 0; l < 8; ++l) {
      want.push_back({Kind::kUninitializedRead, g, size_t(l) * sizeof(uint32_t), 0, l, kNobody});
    }
  }
  ExpectReports(queue.race_reports(), want);
}

TEST(RaceCheck, OutOfBoundsIsReportedAndSkipped) {
  Queue queue(Checked(1));
  std::vector<uint32_t> out;
  const uint32_t lanes = 2;
  const std::string message = RunChecked(queue, Mode::kOutOfBounds, 1, lanes, out);
  EXPECT_EQ(message,
            "4 report(s); first: kernel race_test, group (0, 0, 0), arena 1, byte offset 8, "
            "phase 0: lane 0 accesses past the end of the arena");
  std::vector<Expected> want;
  for (int32_t l = 0; l < int32_t(lanes); ++l) {
    want.push_back({Kind::kOutOfBounds, 0, (lanes + l) * sizeof(uint32_t), 0, l, kNobody});
    want.push_back(
        {Kind::kOutOfBounds, 0, (kFarAway + size_t(l)) * sizeof(uint32_t), 0, l, kNobody});
  }
  ExpectReports(queue.race_reports(), want);
  EXPECT_EQ(out, std::vector<uint32_t>(lanes, 0)) << "a skipped read gives 0";
}

TEST(RaceCheck, GroupLevelWritesAreEveryLanesOwn) {
  Queue queue(Checked(2));
  std::vector<uint32_t> out;
  EXPECT_EQ(RunChecked(queue, Mode::kGroupLevelWrites, 3, 10, out), "");
  for (uint32_t g = 0; g < 3; ++g) {
    for (uint32_t l = 0; l < 10; ++l) EXPECT_EQ(out[g * 10 + l], 7 * (l ^ 1));
  }
}

TEST(RaceCheck, QueueIsReusableAfterARace) {
  Queue queue(Checked(2));
  std::vector<uint32_t> out;
  EXPECT_NE(RunChecked(queue, Mode::kMissingBarrier, 2, 4, out), "");
  EXPECT_FALSE(queue.race_reports().empty());
  EXPECT_EQ(RunChecked(queue, Mode::kWithBarrier, 2, 4, out), "");
  EXPECT_TRUE(queue.race_reports().empty());
}

TEST(RaceCheck, UncheckedScalarQueueIsQuiet) {
  Queue queue(QueueOptions{.threads = 1, .target = Target::Scalar()});
  std::vector<uint32_t> out;
  EXPECT_EQ(RunChecked(queue, Mode::kMissingBarrier, 2, 8, out), "");
  EXPECT_TRUE(queue.race_reports().empty());
}

TEST(RaceCheck, KktKernelIsRaceFree) {
  const KktShape shape{.B = 1, .T = 100, .Hg = 1, .H = 2, .K = 128};
  test::Random random(5);
  const std::vector<bf16> k =
      random.Vector<bf16>(size_t{shape.B} * shape.T * shape.Hg * shape.K, test::Normal());
  const std::vector<float> beta =
      random.Vector<float>(size_t{shape.B} * shape.T * shape.H, test::Uniform(0.0f, 1.0f));
  std::vector<float> g(beta.size());
  for (size_t i = 0; i < g.size(); ++i) g[i] = -0.05f * float(i / shape.H % 64);
  const size_t a_count = size_t{shape.B} * shape.T * shape.H * shape.BT;

  const auto run = [&](const QueueOptions& options) {
    std::vector<float> A(a_count, -1.0f);
    Queue queue(options);
    GatedDeltaNetKkt(queue, shape, ConstView::Of<bf16>(k.data(), k.size()),
                     ConstView::Of<float>(beta.data(), beta.size()),
                     ConstView::Of<float>(g.data(), g.size()), View::Of<float>(A.data(), A.size()));
    queue.commit_and_wait();
    EXPECT_TRUE(queue.race_reports().empty());
    return A;
  };
  std::vector<float> checked;
  ASSERT_NO_THROW(checked = run(Checked(2)));
  // The checker observes; it does not change a result.
  const std::vector<float> unchecked = run(QueueOptions{.threads = 1, .target = Target::Scalar()});
  ASSERT_EQ(checked.size(), unchecked.size());
  EXPECT_EQ(0, std::memcmp(checked.data(), unchecked.data(), checked.size() * sizeof(float)));
  EXPECT_TRUE(std::any_of(checked.begin(), checked.end(), [](float v) { return v != 0.0f; }));
}

}  // namespace
}  // namespace race_test
}  // namespace tgk

#endif  // HWY_ONCE
