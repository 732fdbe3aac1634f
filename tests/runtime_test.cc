// Tests of the programming model and the runtime: barriers, lane and group ids, arenas, lane
// state, simdgroup collectives, queue semantics, error paths and the varying operations. Every
// test runs on every available target and several thread counts; the kernels are small
// functors defined here, instantiated like a library kernel (one foreach_target pass each).

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "runtime_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

// ---- kernel arguments and helpers shared by every target pass (defined once) -------------
#ifndef TGK_TESTS_RUNTIME_TEST_SHARED_
#define TGK_TESTS_RUNTIME_TEST_SHARED_

#include <omp.h>

#include <cstddef>
#include <cstdint>
#include <thread>

#include "tgk/dtype.h"
#include "tgk/geometry.h"

namespace tgk::runtime_test {

inline uint32_t LinearGroup(Dim3 id, Dim3 grid) { return id.x + grid.x * (id.y + grid.y * id.z); }

// A cheap integer hash: arena contents that differ between groups, arenas and elements.
inline uint32_t Mix(uint32_t a, uint32_t b) {
  uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u + (a << 6) + (a >> 2));
  h ^= h >> 15;
  h *= 0x2C1B3C6Du;
  h ^= h >> 12;
  return h;
}

// Spreads lane ids over the u32 range (Knuth's multiplicative constant).
inline constexpr uint32_t kSpread = 2654435761u;

struct BarrierArgs {
  uint32_t* out;  // [group][lane]
  uint32_t rounds;
};

struct LaneIdArgs {
  uint32_t* ids;          // [group][stride]: lane.id() of every lane
  uint32_t* hits;         // [group][stride]: how often each lane ran
  uint32_t* pack_counts;  // [group][stride]: count() of the pack starting at that lane
  uint32_t* info;         // [group][4]: size, simdgroups, pack width, runs
  uint32_t stride;
};

struct GridArgs {
  uint32_t* out;  // [group][8]: id, grid, runs, lanes
};

struct ArenaArgs {
  uint32_t* mismatches;  // [group][lane]
  uint32_t* checked;     // [group][lane]
  uint32_t* bad_sizes;   // [group]
  uint32_t arenas;
  uint32_t words[kMaxArenas];
  uint32_t salt;
};

struct LaneStateArgs {
  uint32_t* dirty;  // [group]: packs that saw a non-zero fresh lane state
  uint32_t* out_u;  // [group][3][lane]
  float* out_f;     // [group][5][lane]
  int32_t* out_i;   // [group][lane]
  uint32_t* fresh;  // [group][lane]: bits of uninitialized lane state before its first write
  float* out_w;     // [group][lane]: its two written values, summed after a barrier
};

enum class CollectiveOp : uint32_t { kSum, kMax, kShuffleXor, kBroadcast };

struct CollectiveArgs {
  const float* in;       // [group][lane]
  const uint32_t* in_u;  // [group][lane]
  float* out;            // [group][lane]
  uint32_t* out_u;       // [group][lane]
  float* other_slot;     // [group][lane]: lane-state slot 0, which no collective touches
  CollectiveOp op;
  uint32_t param;
};

// Inputs are contiguous [group][lane]; outputs are [group][stride], stride > size, with
// sentinels between groups.
struct OpsArgs {
  const float *fa, *fb, *fc;
  const uint32_t* ua;
  const int32_t* ia;
  const uint8_t* u8a;
  const bf16* bfa;
  const f16* hfa;
  const float* table;
  const uint32_t* utable;
  uint32_t table_mask;
  const float* tile;  // [tile_rows][tile_stride]
  uint32_t tile_rows, tile_stride;
  uint32_t stride;
  float *max, *min, *fma, *sel_f, *f32_copy, *from_bf16, *from_f16, *gather_f, *strided, *arena_f;
  uint32_t *sel_u, *u32_copy, *u8_as_u32, *gather_u, *any_all, *arena_u, *width;
  int32_t* i32_copy;
  uint8_t* u8_copy;
  bf16* to_bf16;
  f16* to_f16;
  uint32_t* arena_pad_ok;  // [group]
};
inline constexpr uint32_t kArenaPad = 16;
inline constexpr uint32_t kArenaSentinel = 0xA5A5A5A5u;

struct ChainArgs {
  const uint32_t* in;
  uint32_t* out;
  uint32_t count;
  uint32_t add;
};

struct CountArgs {
  uint32_t* counts;  // [group]
};

struct ThreadArgs {
  std::thread::id* who;  // [group]
  int32_t* omp_thread;   // [group]
  int32_t* in_parallel;  // [group]
};

}  // namespace tgk::runtime_test

#endif  // TGK_TESTS_RUNTIME_TEST_SHARED_

// ---- kernels, per target -----------------------------------------------------------------
HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
namespace rt = ::tgk::runtime_test;

// Each round: lanes publish their value in the arena, and after the barrier every lane takes
// the mirrored lane's value, which another pack (or, for a scalar lane, a later lane) wrote.
struct BarrierKernel {
  rt::BarrierArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t n = g.size();
    const uint32_t group = rt::LinearGroup(g.group_id(), g.grid_size());
    auto arena = g.template arena<uint32_t>(0);
    auto value = g.template lane_state<uint32_t>();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(value, 0, lane.id() * lane.splat(rt::kSpread) + lane.splat(group));
    });
    for (uint32_t r = 0; r < a.rounds; ++r) {
      g.for_each_lane([&](auto lane)
                          HWY_ATTR { lane.store(arena, lane.first(), lane.load(value, 0)); });
      g.barrier();
      g.for_each_lane([&](auto lane) HWY_ATTR {
        for (uint32_t k = 0; k < lane.count(); ++k) {
          const uint32_t l = lane.first() + k;
          value.row(0)[l] = uint32_t(arena[n - 1 - l]) * 3u + r;
        }
      });
      g.barrier();
    }
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(a.out + size_t{group} * n + lane.first(), lane.load(value, 0));
    });
  }
};

struct LaneIdKernel {
  rt::LaneIdArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t group = rt::LinearGroup(g.group_id(), g.grid_size());
    uint32_t* info = a.info + size_t{group} * 4;
    info[0] = g.size();
    info[1] = g.simdgroups();
    info[2] = Group::Lane::kWidth;
    info[3] += 1;
    const size_t base = size_t{group} * a.stride;
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(a.ids + base + lane.first(), lane.id());
      a.pack_counts[base + lane.first()] = lane.count();
      for (uint32_t k = 0; k < lane.count(); ++k) a.hits[base + lane.first() + k] += 1;
    });
  }
};

struct GridKernel {
  rt::GridArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();
    const Dim3 grid = g.grid_size();
    uint32_t* out = a.out + size_t{rt::LinearGroup(id, grid)} * 8;
    out[0] = id.x;
    out[1] = id.y;
    out[2] = id.z;
    out[3] = grid.x;
    out[4] = grid.y;
    out[5] = grid.z;
    out[6] += 1;
    g.for_each_lane([&](auto lane) HWY_ATTR { out[7] += lane.count(); });
  }
};

// Two rounds of: every lane fills its share of every arena with values specific to the
// group, the arena, the element and the round; after a barrier, each lane checks the share
// of the mirrored lane. Nothing is read before this group wrote it.
struct ArenaKernel {
  rt::ArenaArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t n = g.size();
    const uint32_t group = rt::LinearGroup(g.group_id(), g.grid_size());
    for (uint32_t i = 0; i < a.arenas; ++i) {
      if (g.template arena<uint32_t>(i).size() != a.words[i] ||
          g.arena_bytes(i) != size_t{a.words[i]} * sizeof(uint32_t)) {
        a.bad_sizes[group] += 1;
      }
    }
    for (uint32_t round = 0; round < 2; ++round) {
      const uint32_t seed = rt::Mix(a.salt + round, group);
      for (uint32_t i = 0; i < a.arenas; ++i) {
        auto arena = g.template arena<uint32_t>(i);
        g.for_each_lane([&](auto lane) HWY_ATTR {
          for (uint32_t k = 0; k < lane.count(); ++k) {
            for (uint32_t j = lane.first() + k; j < a.words[i]; j += n) {
              arena[j] = rt::Mix(seed, (i << 24) ^ j);
            }
          }
        });
      }
      g.barrier();
      for (uint32_t i = 0; i < a.arenas; ++i) {
        auto arena = g.template arena<uint32_t>(i);
        g.for_each_lane([&](auto lane) HWY_ATTR {
          for (uint32_t k = 0; k < lane.count(); ++k) {
            const uint32_t l = lane.first() + k;
            const size_t out = size_t{group} * n + l;
            for (uint32_t j = n - 1 - l; j < a.words[i]; j += n) {
              a.mismatches[out] += uint32_t(arena[j]) != rt::Mix(seed, (i << 24) ^ j);
              a.checked[out] += 1;
            }
          }
        });
      }
      g.barrier();
    }
  }
};

// Lane state starts zeroed in every group (uninitialized lane state: 0xFF bytes on scalar
// lanes, anything on packs) and keeps each lane's values across barriers.
struct LaneStateKernel {
  rt::LaneStateArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t n = g.size();
    const uint32_t group = rt::LinearGroup(g.group_id(), g.grid_size());
    auto su = g.template lane_state<uint32_t, 3>();
    auto sf = g.template lane_state<float, 5>();
    auto si = g.template lane_state<int32_t>();
    auto sw = g.template uninitialized_lane_state<float, 2>();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(a.fresh + size_t{group} * n + lane.first(), BitsOf(lane.load(sw, 1)));
      lane.store(sw, 0, ToFloat(AsSigned(lane.id())));
      lane.store(sw, 1, lane.splat(float(group)));
      bool dirty = false;
      for (uint32_t s = 0; s < 3; ++s) {
        dirty |= lane.any(NotMask(lane.load(su, s) == lane.splat(0u)));
      }
      for (uint32_t s = 0; s < 5; ++s) {
        dirty |= lane.any(NotMask(BitsOf(lane.load(sf, s)) == lane.splat(0u)));
      }
      dirty |= lane.any(NotMask(AsUnsigned(lane.load(si, 0)) == lane.splat(0u)));
      a.dirty[group] += dirty;
      const auto id = lane.id();
      for (uint32_t s = 0; s < 3; ++s) {
        lane.store(su, s, id * lane.splat(s + 1) + lane.splat(group));
      }
      for (uint32_t s = 0; s < 5; ++s) {
        lane.store(sf, s, ToFloat(AsSigned(id)) * lane.splat(0.25f) + lane.splat(float(s)));
      }
      lane.store(si, 0, AsSigned(id) - lane.splat(int32_t(group)));
    });
    g.barrier();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto u0 = lane.load(su, 0);
      const auto u1 = lane.load(su, 1);
      const auto u2 = lane.load(su, 2);
      lane.store(su, 0, u0 + u1);
      lane.store(su, 1, u1 + u2);
      lane.store(su, 2, u2 + u0);
      const auto i = ToFloat(lane.load(si, 0));
      for (uint32_t s = 0; s < 5; ++s) {
        lane.store(sf, s, lane.load(sf, s) * lane.splat(2.0f) - i);
      }
      lane.store(si, 0, lane.load(si, 0) * lane.splat(int32_t(-3)));
    });
    g.barrier();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t s = 0; s < 3; ++s) {
        lane.store(a.out_u + (size_t{group} * 3 + s) * n + lane.first(), lane.load(su, s));
      }
      for (uint32_t s = 0; s < 5; ++s) {
        lane.store(a.out_f + (size_t{group} * 5 + s) * n + lane.first(), lane.load(sf, s));
      }
      lane.store(a.out_i + size_t{group} * n + lane.first(), lane.load(si, 0));
      lane.store(a.out_w + size_t{group} * n + lane.first(), lane.load(sw, 0) + lane.load(sw, 1));
    });
  }
};

struct CollectiveKernel {
  rt::CollectiveArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const size_t base = size_t{rt::LinearGroup(g.group_id(), g.grid_size())} * g.size();
    auto sf = g.template lane_state<float, 2>();
    auto su = g.template lane_state<uint32_t>();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(sf, 0, ToFloat(AsSigned(lane.id())));
      lane.store(sf, 1, lane.load(a.in + base + lane.first()));
      lane.store(su, 0, lane.load(a.in_u + base + lane.first()));
    });
    switch (a.op) {
      case rt::CollectiveOp::kSum:
        g.simd_sum(sf, 1);
        break;
      case rt::CollectiveOp::kMax:
        g.simd_max(sf, 1);
        break;
      case rt::CollectiveOp::kShuffleXor:
        g.simd_shuffle_xor(sf, a.param, 1);
        g.simd_shuffle_xor(su, a.param);
        break;
      case rt::CollectiveOp::kBroadcast:
        g.simd_broadcast(sf, a.param, 1);
        g.simd_broadcast(su, a.param);
        break;
    }
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(a.out + base + lane.first(), lane.load(sf, 1));
      lane.store(a.out_u + base + lane.first(), lane.load(su, 0));
      lane.store(a.other_slot + base + lane.first(), lane.load(sf, 0));
    });
  }
};

struct OpsKernel {
  rt::OpsArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t n = g.size();
    const uint32_t group = rt::LinearGroup(g.group_id(), g.grid_size());
    const size_t in_base = size_t{group} * n;
    const size_t out_base = size_t{group} * a.stride;
    const uint32_t column = group % a.tile_stride;
    auto arena_f = g.template arena<float>(0);
    auto arena_u = g.template arena<uint32_t>(1);
    // Group-level code: sentinels past the lanes' part of the arenas.
    for (uint32_t j = n; j < n + rt::kArenaPad; ++j) {
      arena_f[j] = FloatFromBits(rt::kArenaSentinel);
      arena_u[j] = rt::kArenaSentinel;
    }
    a.width[group] = Group::Lane::kWidth;
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const size_t i = in_base + lane.first();
      const size_t o = out_base + lane.first();
      const auto x = lane.load(a.fa + i);
      const auto y = lane.load(a.fb + i);
      const auto z = lane.load(a.fc + i);
      const auto u = lane.load(a.ua + i);
      lane.store(a.max + o, Max(x, y));
      lane.store(a.min + o, Min(x, y));
      lane.store(a.fma + o, Fma(x, y, z));
      lane.store(a.sel_f + o, Select((u & lane.splat(7u)) < lane.splat(3u), x, y));
      lane.store(a.sel_u + o, Select(x < y, u, lane.id()));
      lane.store(a.f32_copy + o, x);
      lane.store(a.u32_copy + o, u);
      lane.store(a.i32_copy + o, lane.load(a.ia + i));
      const auto bytes = lane.load(a.u8a + i);
      lane.store(a.u8_as_u32 + o, bytes);
      lane.store(a.u8_copy + o, bytes);
      lane.store(a.from_bf16 + o, lane.load(a.bfa + i));
      lane.store(a.from_f16 + o, lane.load(a.hfa + i));
      lane.store(a.to_bf16 + o, x);
      lane.store(a.to_f16 + o, x);
      const auto index = u & lane.splat(a.table_mask);
      lane.store(a.gather_f + o, lane.gather(a.table, index));
      lane.store(a.gather_u + o, lane.gather(a.utable, index));
      // Rows of the tile at or past tile_rows are not read (they read as 0).
      const uint32_t valid = a.tile_rows > lane.first() ? a.tile_rows - lane.first() : 0;
      const float* column_start =
          valid > 0 ? a.tile + size_t{lane.first()} * a.tile_stride + column : a.tile;
      lane.store(a.strided + o, lane.load_strided(column_start, a.tile_stride, valid));
      const uint32_t flags = uint32_t{lane.any(NotMask(lane.id() < lane.splat(n)))} |
                             uint32_t{lane.all(lane.id() < lane.splat(n))} << 1 |
                             uint32_t{lane.any(x < y)} << 2 | uint32_t{lane.all(x < y)} << 3;
      for (uint32_t k = 0; k < lane.count(); ++k) a.any_all[o + k] = flags;
      lane.store(arena_f, lane.first(), x * lane.splat(2.0f));
      lane.store(arena_u, lane.first(), u ^ lane.splat(0x5A5A5A5Au));
    });
    g.barrier();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const size_t o = out_base + lane.first();
      lane.store(a.arena_f + o, lane.load(arena_f, lane.first()));
      lane.store(a.arena_u + o, lane.load(arena_u, lane.first()));
    });
    bool pad_ok = true;
    for (uint32_t j = n; j < n + rt::kArenaPad; ++j) {
      pad_ok &= BitsOf(float(arena_f[j])) == rt::kArenaSentinel;
      pad_ok &= uint32_t(arena_u[j]) == rt::kArenaSentinel;
    }
    a.arena_pad_ok[group] = pad_ok;
  }
};

// out[i] = in[count - 1 - i] * 3 + add over the whole grid: each group reads what other
// groups of the previous dispatch wrote.
struct ChainKernel {
  rt::ChainArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t first_lane = rt::LinearGroup(g.group_id(), g.grid_size()) * g.size();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto i = lane.id() + lane.splat(first_lane);
      const auto source = lane.gather(a.in, lane.splat(a.count - 1) - i);
      lane.store(a.out + first_lane + lane.first(), source * lane.splat(3u) + lane.splat(a.add));
    });
  }
};

struct CountKernel {
  rt::CountArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    a.counts[rt::LinearGroup(g.group_id(), g.grid_size())] += 1;
  }
};

struct ThreadKernel {
  rt::ThreadArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t group = rt::LinearGroup(g.group_id(), g.grid_size());
    a.who[group] = std::this_thread::get_id();
    a.omp_thread[group] = omp_get_thread_num();
    a.in_parallel[group] = omp_in_parallel();
  }
};

TGK_DEFINE_KERNEL_RUNNERS(BarrierKernel, rt::BarrierArgs)
TGK_DEFINE_KERNEL_RUNNERS(LaneIdKernel, rt::LaneIdArgs)
TGK_DEFINE_KERNEL_RUNNERS(GridKernel, rt::GridArgs)
TGK_DEFINE_KERNEL_RUNNERS(ArenaKernel, rt::ArenaArgs)
TGK_DEFINE_KERNEL_RUNNERS(LaneStateKernel, rt::LaneStateArgs)
TGK_DEFINE_KERNEL_RUNNERS(CollectiveKernel, rt::CollectiveArgs)
TGK_DEFINE_KERNEL_RUNNERS(OpsKernel, rt::OpsArgs)
TGK_DEFINE_KERNEL_RUNNERS(ChainKernel, rt::ChainArgs)
TGK_DEFINE_KERNEL_RUNNERS(CountKernel, rt::CountArgs)
TGK_DEFINE_KERNEL_RUNNERS(ThreadKernel, rt::ThreadArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

// ---- tests -------------------------------------------------------------------------------
#if HWY_ONCE

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xmmintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "testing/expect_error.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/version.h"

namespace tgk {

TGK_EXPORT_KERNEL(BarrierKernel, "barrier_test")
TGK_EXPORT_KERNEL(LaneIdKernel, "lane_id_test")
TGK_EXPORT_KERNEL(GridKernel, "grid_test")
TGK_EXPORT_KERNEL(ArenaKernel, "arena_test")
TGK_EXPORT_KERNEL(LaneStateKernel, "lane_state_test")
TGK_EXPORT_KERNEL(CollectiveKernel, "collective_test")
TGK_EXPORT_KERNEL(OpsKernel, "ops_test")
TGK_EXPORT_KERNEL(ChainKernel, "chain_test")
TGK_EXPORT_KERNEL(CountKernel, "count_test")
TGK_EXPORT_KERNEL(ThreadKernel, "thread_test")

namespace runtime_test {
namespace {

// ---- configurations ----------------------------------------------------------------------

struct Config {
  Target target;
  int threads;
};

void PrintTo(const Config& c, std::ostream* os) {
  *os << c.target.name() << " x" << c.threads << " threads";
}

std::vector<Config> AllConfigs() {
  std::vector<Config> configs;
  for (Target t : AvailableTargets()) {
    for (int threads : {1, 2, 3, 7}) configs.push_back({t, threads});
  }
  return configs;
}

std::string ConfigName(const ::testing::TestParamInfo<Config>& info) {
  std::string name = info.param.target.name() + "_threads" + std::to_string(info.param.threads);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

QueueOptions Options(const Config& c) {
  return QueueOptions{.threads = c.threads, .target = c.target};
}

class RuntimeTest : public ::testing::TestWithParam<Config> {};

// ---- comparisons -------------------------------------------------------------------------

template <class T>
uint64_t RawBits(const T& v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  return bits;
}

// Bitwise equality of two arrays; on failure, says how many elements differ and where the
// first one is.
template <class T>
::testing::AssertionResult SameBits(const std::vector<T>& expected, const std::vector<T>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure()
           << "sizes differ: " << expected.size() << " vs " << actual.size();
  }
  size_t mismatches = 0;
  size_t first = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (RawBits(expected[i]) != RawBits(actual[i]) && mismatches++ == 0) first = i;
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  std::ostringstream out;
  out << mismatches << " of " << expected.size() << " elements differ; first at " << first
      << ": expected bits 0x" << std::hex << RawBits(expected[first]) << ", got 0x"
      << RawBits(actual[first]);
  return ::testing::AssertionFailure() << out.str();
}

float F(uint32_t bits) { return FloatFromBits(bits); }

// ---- buffers -----------------------------------------------------------------------------

// Per-group output rows of `size` elements with a gap of sentinels after each row: a store
// past a row's active lanes shows in the gap.
template <class T>
class PaddedRows {
 public:
  static constexpr uint32_t kGap = 24;
  PaddedRows(uint32_t groups, uint32_t size, T sentinel)
      : groups_(groups),
        size_(size),
        sentinel_(sentinel),
        data_(size_t{groups} * stride(), sentinel) {}
  uint32_t stride() const { return size_ + kGap; }
  T* data() { return data_.data(); }
  T at(uint32_t group, uint32_t lane) const { return data_[size_t{group} * stride() + lane]; }
  // The rows without the gaps.
  std::vector<T> rows() const {
    std::vector<T> out;
    for (uint32_t g = 0; g < groups_; ++g) {
      out.insert(out.end(), data_.begin() + size_t{g} * stride(),
                 data_.begin() + size_t{g} * stride() + size_);
    }
    return out;
  }
  ::testing::AssertionResult GapsIntact() const {
    for (uint32_t g = 0; g < groups_; ++g) {
      for (uint32_t k = size_; k < stride(); ++k) {
        if (RawBits(data_[size_t{g} * stride() + k]) != RawBits(sentinel_)) {
          return ::testing::AssertionFailure()
                 << "store past the active lanes: group " << g << ", lane " << k;
        }
      }
    }
    return ::testing::AssertionSuccess();
  }

 private:
  uint32_t groups_, size_;
  T sentinel_;
  std::vector<T> data_;
};

// An array whose last element is the last byte before an inaccessible page: a load past the
// end faults.
template <class T>
class GuardedArray {
 public:
  explicit GuardedArray(const std::vector<T>& values) : count_(values.size()) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    mapped_ = (values.size() * sizeof(T) + page - 1) / page * page + page;
    void* p = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<std::byte*>(p);
    if (mprotect(base_ + mapped_ - page, page, PROT_NONE) != 0) throw std::bad_alloc();
    data_ = reinterpret_cast<T*>(base_ + mapped_ - page) - count_;
    std::copy(values.begin(), values.end(), data_);
  }
  ~GuardedArray() { munmap(base_, mapped_); }
  GuardedArray(const GuardedArray&) = delete;
  GuardedArray& operator=(const GuardedArray&) = delete;
  const T* data() const { return data_; }

 private:
  size_t count_;
  size_t mapped_;
  std::byte* base_;
  T* data_;
};

// Group sizes that are not multiples of any vector width, and the extremes.
constexpr uint32_t kAwkwardSizes[] = {1,  2,  3,   15,  16,  17,  31,   32,   33,
                                      63, 64, 100, 255, 256, 257, 1000, 1023, 1024};

// ---- barrier visibility ------------------------------------------------------------------

std::vector<uint32_t> ExpectedBarrier(uint32_t groups, uint32_t n, uint32_t rounds) {
  std::vector<uint32_t> out;
  for (uint32_t g = 0; g < groups; ++g) {
    std::vector<uint32_t> v(n), next(n);
    for (uint32_t l = 0; l < n; ++l) v[l] = l * kSpread + g;
    for (uint32_t r = 0; r < rounds; ++r) {
      for (uint32_t l = 0; l < n; ++l) next[l] = v[n - 1 - l] * 3u + r;
      v.swap(next);
    }
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

TEST_P(RuntimeTest, BarrierMakesOtherLanesWritesVisible) {
  Queue queue(Options(GetParam()));
  constexpr uint32_t kRounds = 3;
  const Dim3 grid{3, 2, 1};
  std::vector<std::vector<uint32_t>> outs;
  for (uint32_t n : kAwkwardSizes) outs.emplace_back(size_t{n} * 6, 0);
  for (size_t s = 0; s < std::size(kAwkwardSizes); ++s) {
    const uint32_t n = kAwkwardSizes[s];
    queue.dispatch(BarrierKernelEntry(), grid, n, ArenaSizes{n * sizeof(uint32_t)},
                   BarrierArgs{outs[s].data(), kRounds});
  }
  queue.commit_and_wait();
  for (size_t s = 0; s < std::size(kAwkwardSizes); ++s) {
    SCOPED_TRACE("group size " + std::to_string(kAwkwardSizes[s]));
    EXPECT_TRUE(SameBits(ExpectedBarrier(6, kAwkwardSizes[s], kRounds), outs[s]));
  }
}

// ---- lane and group ids ------------------------------------------------------------------

TEST_P(RuntimeTest, EveryLaneRunsOnceWithItsId) {
  constexpr uint32_t kGroups = 2;
  constexpr uint32_t kGap = 16;
  constexpr uint32_t kSentinel = 0xDEADBEEFu;
  Queue queue(Options(GetParam()));
  std::vector<size_t> offset{0};
  for (uint32_t n = 1; n <= kMaxGroupSize; ++n)
    offset.push_back(offset.back() + kGroups * (n + kGap));
  std::vector<uint32_t> ids(offset.back(), kSentinel), hits(offset.back(), 0),
      pack_counts(offset.back(), 0), info(size_t{kMaxGroupSize} * kGroups * 4, 0);
  // Every group size in one commit, without barriers: the dispatches are independent.
  for (uint32_t n = 1; n <= kMaxGroupSize; ++n) {
    const size_t o = offset[n - 1];
    queue.dispatch(LaneIdKernelEntry(), Dim3{1, kGroups, 1}, n, ArenaSizes{},
                   LaneIdArgs{ids.data() + o, hits.data() + o, pack_counts.data() + o,
                              info.data() + size_t{n - 1} * kGroups * 4, n + kGap});
  }
  queue.commit_and_wait();

  const bool scalar = GetParam().target.is_scalar();
  for (uint32_t n = 1; n <= kMaxGroupSize; ++n) {
    for (uint32_t g = 0; g < kGroups; ++g) {
      SCOPED_TRACE("group size " + std::to_string(n) + ", group " + std::to_string(g));
      const uint32_t* group_info = info.data() + (size_t{n - 1} * kGroups + g) * 4;
      ASSERT_EQ(group_info[0], n);
      ASSERT_EQ(group_info[1], (n + 31) / 32);
      ASSERT_EQ(group_info[3], 1u) << "group runs";
      const uint32_t width = group_info[2];
      ASSERT_TRUE(width >= 1 && width <= 16 && (width & (width - 1)) == 0) << width;
      if (scalar) {
        ASSERT_EQ(width, 1u);
      }
      const size_t row = offset[n - 1] + size_t{g} * (n + kGap);
      for (uint32_t l = 0; l < n; ++l) {
        ASSERT_EQ(ids[row + l], l) << "lane " << l;
        ASSERT_EQ(hits[row + l], 1u) << "lane " << l;
        // Packs start at multiples of the width and are full, except possibly the last.
        const uint32_t expected_count = l % width == 0 ? std::min(width, n - l) : 0;
        ASSERT_EQ(pack_counts[row + l], expected_count) << "lane " << l;
      }
      for (uint32_t k = n; k < n + kGap; ++k) {
        ASSERT_EQ(ids[row + k], kSentinel) << "store past the group's lanes";
        ASSERT_EQ(hits[row + k], 0u);
      }
    }
  }
}

TEST_P(RuntimeTest, GroupIdsCoverA3DGrid) {
  Queue queue(Options(GetParam()));
  const Dim3 grid{3, 5, 7};
  constexpr uint32_t kLanes = 19;
  std::vector<uint32_t> out(3 * 5 * 7 * 8, 0);
  queue.dispatch(GridKernelEntry(), grid, kLanes, ArenaSizes{}, GridArgs{out.data()});
  queue.commit_and_wait();
  for (uint32_t z = 0; z < 7; ++z) {
    for (uint32_t y = 0; y < 5; ++y) {
      for (uint32_t x = 0; x < 3; ++x) {
        const uint32_t* o = out.data() + (x + 3 * (y + 5 * z)) * 8;
        const std::vector<uint32_t> got(o, o + 8);
        EXPECT_EQ(got, (std::vector<uint32_t>{x, y, z, 3, 5, 7, 1, kLanes}))
            << "group (" << x << ", " << y << ", " << z << ")";
      }
    }
  }
}

TEST_P(RuntimeTest, GridWithAZeroDimensionRunsNothing) {
  Queue queue(Options(GetParam()));
  std::vector<uint32_t> out(64 * 8, 7);
  for (Dim3 grid : {Dim3{0, 5, 7}, Dim3{3, 0, 7}, Dim3{3, 5, 0}, Dim3{0, 0, 0}}) {
    queue.dispatch(GridKernelEntry(), grid, 32, ArenaSizes{64}, GridArgs{out.data()});
    queue.memory_barrier();
  }
  queue.commit_and_wait();
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](uint32_t v) { return v == 7; }));
}

// ---- arenas ------------------------------------------------------------------------------

ArenaSizes ArenaBytes(const std::vector<uint32_t>& words) {
  std::array<size_t, kMaxArenas> b{};
  for (size_t i = 0; i < words.size(); ++i) b[i] = size_t{words[i]} * sizeof(uint32_t);
  switch (words.size()) {
    case 1:
      return ArenaSizes{b[0]};
    case 2:
      return ArenaSizes{b[0], b[1]};
    case 3:
      return ArenaSizes{b[0], b[1], b[2]};
    case 8:
      return ArenaSizes{b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]};
    default:
      ADD_FAILURE() << "unsupported arena count " << words.size();
      return ArenaSizes{};
  }
}

TEST_P(RuntimeTest, ArenasAreIsolatedBetweenGroupsAndThreads) {
  struct Case {
    uint32_t group_size;
    std::vector<uint32_t> words;
  };
  const std::vector<Case> cases = {
      {1, {1}},
      {33, {5, 1000, 17}},
      {256, {1, 2, 64, 100, 257, 1024, 4096, 16384}},
      {7, {300, 300, 300, 300, 300, 300, 300, 300}},
      {64, {0, 640}},
      {1024, {2048, 1023, 1}},
  };
  const Dim3 grid{13, 3, 1};
  const uint32_t groups = 13 * 3;
  Queue queue(Options(GetParam()));
  std::vector<std::vector<uint32_t>> mismatches, checked, bad_sizes;
  for (const Case& c : cases) {
    mismatches.emplace_back(size_t{groups} * c.group_size, 0);
    checked.emplace_back(size_t{groups} * c.group_size, 0);
    bad_sizes.emplace_back(groups, 0);
  }
  // All cases in one commit: groups of different dispatches, with different arena layouts,
  // interleave on each thread's scratch memory.
  for (size_t i = 0; i < cases.size(); ++i) {
    ArenaArgs args{mismatches[i].data(),
                   checked[i].data(),
                   bad_sizes[i].data(),
                   uint32_t(cases[i].words.size()),
                   {},
                   uint32_t(1000 * i)};
    std::copy(cases[i].words.begin(), cases[i].words.end(), args.words);
    queue.dispatch(ArenaKernelEntry(), grid, cases[i].group_size, ArenaBytes(cases[i].words), args);
  }
  queue.commit_and_wait();
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    uint64_t words = 0;
    for (uint32_t w : cases[i].words) words += w;
    const uint32_t n = cases[i].group_size;
    for (uint32_t g = 0; g < groups; ++g) {
      uint64_t mismatched = 0, seen = 0;
      for (uint32_t l = 0; l < n; ++l) {
        mismatched += mismatches[i][size_t{g} * n + l];
        seen += checked[i][size_t{g} * n + l];
      }
      EXPECT_EQ(mismatched, 0u) << "group " << g;
      EXPECT_EQ(seen, 2 * words) << "group " << g;
      EXPECT_EQ(bad_sizes[i][g], 0u) << "group " << g;
    }
  }
}

// ---- lane state --------------------------------------------------------------------------

TEST_P(RuntimeTest, LaneStateIsZeroedAndSurvivesBarriers) {
  Queue queue(Options(GetParam()));
  const uint32_t groups = 9;
  for (uint32_t n : {1u, 7u, 17u, 64u, 100u, 1024u}) {
    SCOPED_TRACE("group size " + std::to_string(n));
    std::vector<uint32_t> dirty(groups, 0), out_u(size_t{groups} * 3 * n);
    std::vector<float> out_f(size_t{groups} * 5 * n);
    std::vector<int32_t> out_i(size_t{groups} * n);
    std::vector<uint32_t> fresh(size_t{groups} * n);
    std::vector<float> out_w(size_t{groups} * n);
    queue.dispatch(LaneStateKernelEntry(), Dim3{groups, 1, 1}, n, ArenaSizes{},
                   LaneStateArgs{dirty.data(), out_u.data(), out_f.data(), out_i.data(),
                                 fresh.data(), out_w.data()});
    queue.commit_and_wait();
    std::vector<float> want_w;
    for (uint32_t g = 0; g < groups; ++g) {
      for (uint32_t l = 0; l < n; ++l) want_w.push_back(float(l) + float(g));
    }
    EXPECT_TRUE(SameBits(want_w, out_w));
    // A read before the first write shows as a NaN on the oracle (packs read whatever was there).
    if (GetParam().target.is_scalar()) {
      EXPECT_EQ(fresh, std::vector<uint32_t>(fresh.size(), 0xFFFFFFFFu));
    }
    std::vector<uint32_t> want_u;
    std::vector<float> want_f;
    std::vector<int32_t> want_i;
    for (uint32_t g = 0; g < groups; ++g) {
      std::vector<uint32_t> u(3 * n);
      for (uint32_t l = 0; l < n; ++l) {
        const uint32_t u0 = l * 1 + g, u1 = l * 2 + g, u2 = l * 3 + g;
        u[l] = u0 + u1;
        u[n + l] = u1 + u2;
        u[2 * n + l] = u2 + u0;
      }
      want_u.insert(want_u.end(), u.begin(), u.end());
      for (uint32_t s = 0; s < 5; ++s) {
        for (uint32_t l = 0; l < n; ++l) {
          const float i = float(int32_t(l) - int32_t(g));
          want_f.push_back((float(l) * 0.25f + float(s)) * 2.0f - i);
        }
      }
      for (uint32_t l = 0; l < n; ++l) want_i.push_back((int32_t(l) - int32_t(g)) * -3);
    }
    EXPECT_EQ(dirty, std::vector<uint32_t>(groups, 0)) << "fresh lane state was not zero";
    EXPECT_TRUE(SameBits(want_u, out_u));
    EXPECT_TRUE(SameBits(want_f, out_f));
    EXPECT_TRUE(SameBits(want_i, out_i));
  }
}

// ---- simdgroup collectives ---------------------------------------------------------------

// The canonical trees of docs/spec/README.md over the simdgroups of one group, written here
// independently of the library: halving offsets 16..1, a step that would read a lane past
// the group skipped.
template <class Combine>
std::vector<float> CanonicalTree(const std::vector<float>& in, uint32_t n, Combine combine) {
  std::vector<float> out(in.size());
  for (size_t g = 0; g < in.size() / n; ++g) {
    for (uint32_t s = 0; s < n; s += 32) {
      const uint32_t lanes = std::min(32u, n - s);
      float x[32];
      for (uint32_t l = 0; l < lanes; ++l) x[l] = in[g * n + s + l];
      for (uint32_t off = 16; off >= 1; off /= 2) {
        for (uint32_t l = 0; l < off; ++l) {
          if (l + off < lanes) x[l] = combine(x[l], x[l + off]);
        }
      }
      for (uint32_t l = 0; l < lanes; ++l) out[g * n + s + l] = x[0];
    }
  }
  return out;
}

// maxNum (a NaN operand is ignored) with -0 < +0.
float ReferenceMax(float a, float b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  if (a == 0 && b == 0) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
float ReferenceMin(float a, float b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  if (a == 0 && b == 0) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

template <class T>
std::vector<T> ReferenceShuffleXor(const std::vector<T>& in, uint32_t n, uint32_t mask) {
  std::vector<T> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const uint32_t l = uint32_t(i % n);
    const uint32_t source = l ^ mask;  // mask < 32: stays in the simdgroup
    out[i] = source < n ? in[i - l + source] : in[i];
  }
  return out;
}

template <class T>
std::vector<T> ReferenceBroadcast(const std::vector<T>& in, uint32_t n, uint32_t source) {
  std::vector<T> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const uint32_t l = uint32_t(i % n);
    const uint32_t from = l / 32 * 32 + source;
    out[i] = from < n ? in[i - l + from] : in[i];
  }
  return out;
}

// Values over 48 binades, so that a different summation order gives different bits.
std::vector<float> WideRangeValues(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> mantissa(1.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-24, 24);
  std::vector<float> v(count);
  for (float& x : v) x = std::ldexp(mantissa(rng), exponent(rng)) * (rng() % 2 ? 1.0f : -1.0f);
  return v;
}

// Per simdgroup, one of: signed zeros only, mostly NaN, NaN but one lane, ordinary values
// with NaNs and infinities.
std::vector<float> MaxValues(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> v = WideRangeValues(count, seed + 1);
  for (size_t i = 0; i < count; ++i) {
    switch (i / 32 % 4) {
      case 0:
        v[i] = rng() % 2 ? 0.0f : -0.0f;
        break;
      case 1:
        if (rng() % 4 != 0) v[i] = nan;
        break;
      case 2:
        if (i % 32 != 7) v[i] = nan;
        break;
      case 3:
        if (rng() % 8 == 0) v[i] = rng() % 2 ? nan : -inf;
        break;
    }
  }
  return v;
}

struct CollectiveResult {
  std::vector<float> out, other_slot;
  std::vector<uint32_t> out_u;
};

CollectiveResult RunCollective(Queue& queue, uint32_t n, uint32_t groups, CollectiveOp op,
                               uint32_t param, const std::vector<float>& in,
                               const std::vector<uint32_t>& in_u) {
  CollectiveResult r{std::vector<float>(in.size()), std::vector<float>(in.size()),
                     std::vector<uint32_t>(in.size())};
  queue.dispatch(CollectiveKernelEntry(), Dim3{groups, 1, 1}, n, ArenaSizes{},
                 CollectiveArgs{in.data(), in_u.data(), r.out.data(), r.out_u.data(),
                                r.other_slot.data(), op, param});
  queue.commit_and_wait();
  return r;
}

constexpr uint32_t kCollectiveSizes[] = {1, 16, 17, 32, 48, 100, 256, 1000, 1024};

TEST_P(RuntimeTest, SimdSumFollowsTheCanonicalTree) {
  Queue queue(Options(GetParam()));
  const uint32_t groups = 3;
  size_t order_sensitive = 0;
  for (uint32_t n : kCollectiveSizes) {
    SCOPED_TRACE("group size " + std::to_string(n));
    const auto in = WideRangeValues(size_t{groups} * n, n);
    const std::vector<uint32_t> in_u(in.size(), 0);
    const auto r = RunCollective(queue, n, groups, CollectiveOp::kSum, 0, in, in_u);
    const auto want = CanonicalTree(in, n, [](float a, float b) { return a + b; });
    EXPECT_TRUE(SameBits(want, r.out));
    std::vector<float> lane_ids;
    for (uint32_t g = 0; g < groups; ++g) {
      for (uint32_t l = 0; l < n; ++l) lane_ids.push_back(float(l));
    }
    EXPECT_TRUE(SameBits(lane_ids, r.other_slot)) << "a collective changed another slot";
    // The inputs must be able to tell orders apart: a left-to-right sum differs somewhere.
    for (size_t g = 0; g < groups; ++g) {
      for (size_t s = g * n; s + 32 <= (g + 1) * n; s += 32) {
        float serial = 0.0f;
        for (size_t l = 0; l < 32; ++l) serial += in[s + l];
        order_sensitive += RawBits(serial) != RawBits(want[s]);
      }
    }
  }
  EXPECT_GT(order_sensitive, 10u);
}

// The caller's floating-point modes (flush-to-zero and denormals-are-zero, as -ffast-math's
// startup code sets them; rounding upward) do not reach kernels, on the caller or any thread.
TEST_P(RuntimeTest, TheCallersFloatingPointModesDoNotReachKernels) {
  Queue queue(Options(GetParam()));
  constexpr uint32_t kN = 64, kGroups = 4;
  std::vector<float> in(size_t{kN} * kGroups);
  for (size_t i = 0; i < in.size(); ++i) {
    // Groups 0 and 1: subnormals (zeros under DAZ); 2 and 3: sums that round.
    in[i] = i < 2 * kN ? std::numeric_limits<float>::denorm_min() * float(i + 1)
                       : 1.0f + float(i) * 0x1p-23f;
  }
  const std::vector<uint32_t> in_u(in.size(), 0);
  const auto plus = [](float a, float b) { return a + b; };
  const auto want = CanonicalTree(in, kN, plus);
  const unsigned mxcsr = _mm_getcsr();
  const unsigned modes = (mxcsr & ~0x6000u) | 0xC040u;  // FTZ, DAZ, round up
  _mm_setcsr(modes);
  const auto in_caller_modes = CanonicalTree(in, kN, plus);
  const auto r = RunCollective(queue, kN, kGroups, CollectiveOp::kSum, 0, in, in_u);
  const unsigned after = _mm_getcsr();
  _mm_setcsr(mxcsr);
  EXPECT_TRUE(SameBits(want, r.out));
  EXPECT_FALSE(SameBits(want, in_caller_modes)) << "the inputs cannot tell the modes apart";
  EXPECT_EQ(after & ~0x3Fu, modes & ~0x3Fu) << "the caller's modes were not restored";
}

TEST_P(RuntimeTest, SimdMaxIgnoresNaNAndOrdersZeros) {
  Queue queue(Options(GetParam()));
  const uint32_t groups = 2;
  for (uint32_t n : kCollectiveSizes) {
    SCOPED_TRACE("group size " + std::to_string(n));
    const auto in = MaxValues(size_t{groups} * n, n);
    const std::vector<uint32_t> in_u(in.size(), 0);
    const auto r = RunCollective(queue, n, groups, CollectiveOp::kMax, 0, in, in_u);
    EXPECT_TRUE(SameBits(CanonicalTree(in, n, ReferenceMax), r.out));
  }
  // Spot checks of the rule itself, on one simdgroup.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<std::pair<std::vector<float>, float>> spot = {
      {{-0.0f, 0.0f, -0.0f}, 0.0f},
      {{-0.0f, -0.0f}, -0.0f},
      {{nan, -5.0f, nan}, -5.0f},
      {{nan, -0.0f}, -0.0f},
  };
  for (const auto& [values, want] : spot) {
    const std::vector<uint32_t> in_u(values.size(), 0);
    const auto r =
        RunCollective(queue, uint32_t(values.size()), 1, CollectiveOp::kMax, 0, values, in_u);
    EXPECT_TRUE(SameBits(std::vector<float>(values.size(), want), r.out));
  }
}

TEST_P(RuntimeTest, SimdShuffleXorEveryMask) {
  Queue queue(Options(GetParam()));
  const uint32_t groups = 2;
  for (uint32_t n : {1u, 17u, 32u, 48u, 100u, 1024u}) {
    const auto in = WideRangeValues(size_t{groups} * n, n);
    std::vector<uint32_t> in_u(in.size());
    for (size_t i = 0; i < in_u.size(); ++i) in_u[i] = Mix(uint32_t(i), n);
    for (uint32_t mask = 1; mask < 32; ++mask) {
      SCOPED_TRACE("group size " + std::to_string(n) + ", mask " + std::to_string(mask));
      const auto r = RunCollective(queue, n, groups, CollectiveOp::kShuffleXor, mask, in, in_u);
      EXPECT_TRUE(SameBits(ReferenceShuffleXor(in, n, mask), r.out));
      EXPECT_TRUE(SameBits(ReferenceShuffleXor(in_u, n, mask), r.out_u));
    }
  }
}

TEST_P(RuntimeTest, SimdBroadcastEverySource) {
  Queue queue(Options(GetParam()));
  const uint32_t groups = 2;
  for (uint32_t n : {1u, 17u, 32u, 48u, 100u, 1024u}) {
    const auto in = WideRangeValues(size_t{groups} * n, n + 5);
    std::vector<uint32_t> in_u(in.size());
    for (size_t i = 0; i < in_u.size(); ++i) in_u[i] = Mix(uint32_t(i), n + 5);
    for (uint32_t source = 0; source < 32; ++source) {
      SCOPED_TRACE("group size " + std::to_string(n) + ", source " + std::to_string(source));
      const auto r = RunCollective(queue, n, groups, CollectiveOp::kBroadcast, source, in, in_u);
      EXPECT_TRUE(SameBits(ReferenceBroadcast(in, n, source), r.out));
      EXPECT_TRUE(SameBits(ReferenceBroadcast(in_u, n, source), r.out_u));
    }
  }
}

// ---- varying operations ------------------------------------------------------------------

struct OpsInputs {
  uint32_t n, groups;
  std::vector<float> fa, fb, fc, table, tile;
  std::vector<uint32_t> ua, utable;
  std::vector<int32_t> ia;
  std::vector<uint8_t> u8a;
  std::vector<bf16> bfa;
  std::vector<f16> hfa;
  static constexpr uint32_t kTableSize = 64;
  static constexpr uint32_t kTileStride = 5;
  uint32_t tile_rows() const { return n - n / 3; }
};

// Operands that exercise the rules: NaNs of both signs and different payloads, signed zeros,
// infinities, subnormals, and pairs of them in both orders.
std::vector<float> SpecialFloats() {
  return {F(0x7FC00000u),
          F(0xFFC00001u),
          F(0x7F800001u),
          0.0f,
          -0.0f,
          std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity(),
          F(0x00000001u),
          F(0x807FFFFFu),
          std::numeric_limits<float>::max(),
          1.0f,
          -1.0f,
          F(0x3F800001u),
          65520.0f,
          F(0x33800000u),
          F(0x477FEFFFu)};
}

OpsInputs MakeOpsInputs(uint32_t n, uint32_t groups) {
  OpsInputs in{n, groups};
  const size_t count = size_t{n} * groups;
  std::mt19937 rng(n * 7919u + groups);
  const auto special = SpecialFloats();
  const auto wide = WideRangeValues(3 * count, n);
  for (size_t i = 0; i < count; ++i) {
    // Every ordered pair of specials appears, then random mixtures.
    const size_t k = i % (special.size() * special.size() + 64);
    if (k < special.size() * special.size()) {
      in.fa.push_back(special[k / special.size()]);
      in.fb.push_back(special[k % special.size()]);
    } else {
      in.fa.push_back(rng() % 4 == 0 ? special[rng() % special.size()] : wide[i]);
      in.fb.push_back(rng() % 4 == 0 ? special[rng() % special.size()] : wide[count + i]);
    }
    // Every other addend cancels the rounded product: fused, the result is its rounding error.
    in.fc.push_back(i % 2 ? -(in.fa.back() * in.fb.back()) : wide[2 * count + i]);
    in.ua.push_back(uint32_t(rng()));
    in.ia.push_back(int32_t(rng()));
    in.u8a.push_back(uint8_t(rng()));
    in.bfa.push_back(bf16{uint16_t(rng())});
    in.hfa.push_back(f16{uint16_t(rng())});
  }
  in.table = WideRangeValues(OpsInputs::kTableSize, n + 1);
  for (uint32_t i = 0; i < OpsInputs::kTableSize; ++i) in.utable.push_back(Mix(i, 77));
  for (uint32_t i = 0; i < in.tile_rows() * OpsInputs::kTileStride; ++i) {
    in.tile.push_back(float(i) + 0.5f);
  }
  return in;
}

struct OpsOutputs {
  OpsOutputs(uint32_t n, uint32_t groups)
      : max(groups, n, F(kSentinelBits)),
        min(max),
        fma(max),
        sel_f(max),
        f32_copy(max),
        from_bf16(max),
        from_f16(max),
        gather_f(max),
        strided(max),
        arena_f(max),
        sel_u(groups, n, kSentinelBits),
        u32_copy(sel_u),
        u8_as_u32(sel_u),
        gather_u(sel_u),
        any_all(sel_u),
        arena_u(sel_u),
        i32_copy(groups, n, int32_t(kSentinelBits)),
        u8_copy(groups, n, uint8_t{0xEE}),
        to_bf16(groups, n, bf16{0xEEEE}),
        to_f16(groups, n, f16{0xEEEE}),
        width(groups, 0),
        arena_pad_ok(groups, 0) {}
  static constexpr uint32_t kSentinelBits = 0xEEEEEEEEu;
  PaddedRows<float> max, min, fma, sel_f, f32_copy, from_bf16, from_f16, gather_f, strided, arena_f;
  PaddedRows<uint32_t> sel_u, u32_copy, u8_as_u32, gather_u, any_all, arena_u;
  PaddedRows<int32_t> i32_copy;
  PaddedRows<uint8_t> u8_copy;
  PaddedRows<bf16> to_bf16;
  PaddedRows<f16> to_f16;
  std::vector<uint32_t> width, arena_pad_ok;
};

// Runs the ops kernel with every input ending at an inaccessible page.
void RunOps(const Config& config, const OpsInputs& in, OpsOutputs& out) {
  const GuardedArray<float> fa(in.fa), fb(in.fb), fc(in.fc), table(in.table), tile(in.tile);
  const GuardedArray<uint32_t> ua(in.ua), utable(in.utable);
  const GuardedArray<int32_t> ia(in.ia);
  const GuardedArray<uint8_t> u8a(in.u8a);
  const GuardedArray<bf16> bfa(in.bfa);
  const GuardedArray<f16> hfa(in.hfa);
  OpsArgs args{};
  args.fa = fa.data();
  args.fb = fb.data();
  args.fc = fc.data();
  args.ua = ua.data();
  args.ia = ia.data();
  args.u8a = u8a.data();
  args.bfa = bfa.data();
  args.hfa = hfa.data();
  args.table = table.data();
  args.utable = utable.data();
  args.table_mask = OpsInputs::kTableSize - 1;
  args.tile = tile.data();
  args.tile_rows = in.tile_rows();
  args.tile_stride = OpsInputs::kTileStride;
  args.stride = out.max.stride();
  args.max = out.max.data();
  args.min = out.min.data();
  args.fma = out.fma.data();
  args.sel_f = out.sel_f.data();
  args.f32_copy = out.f32_copy.data();
  args.from_bf16 = out.from_bf16.data();
  args.from_f16 = out.from_f16.data();
  args.gather_f = out.gather_f.data();
  args.strided = out.strided.data();
  args.arena_f = out.arena_f.data();
  args.sel_u = out.sel_u.data();
  args.u32_copy = out.u32_copy.data();
  args.u8_as_u32 = out.u8_as_u32.data();
  args.gather_u = out.gather_u.data();
  args.any_all = out.any_all.data();
  args.arena_u = out.arena_u.data();
  args.width = out.width.data();
  args.i32_copy = out.i32_copy.data();
  args.u8_copy = out.u8_copy.data();
  args.to_bf16 = out.to_bf16.data();
  args.to_f16 = out.to_f16.data();
  args.arena_pad_ok = out.arena_pad_ok.data();
  Queue queue(Options(config));
  const size_t arena_bytes = (in.n + kArenaPad) * sizeof(float);
  queue.dispatch(OpsKernelEntry(), Dim3{in.groups, 1, 1}, in.n,
                 ArenaSizes{arena_bytes, arena_bytes}, args);
  queue.commit_and_wait();
}

// Every output row equals the scalar target's, bit for bit, and no store left its row.
template <class T>
void ExpectSameRows(const char* what, const PaddedRows<T>& scalar, const PaddedRows<T>& actual) {
  SCOPED_TRACE(what);
  EXPECT_TRUE(actual.GapsIntact());
  EXPECT_TRUE(SameBits(scalar.rows(), actual.rows()));
}

TEST_P(RuntimeTest, VaryingOpsMatchTheScalarDefinitions) {
  const uint32_t groups = 3;
  size_t fused_differs = 0;
  for (uint32_t n : {1u, 2u, 3u, 15u, 16u, 17u, 31u, 33u, 100u, 255u, 257u, 1000u, 1024u}) {
    SCOPED_TRACE("group size " + std::to_string(n));
    const OpsInputs in = MakeOpsInputs(n, groups);
    OpsOutputs scalar(n, groups), out(n, groups);
    RunOps(Config{Target::Scalar(), 1}, in, scalar);
    RunOps(GetParam(), in, out);

    // The scalar target against definitions written here.
    std::vector<float> want_max, want_min, want_fma, want_sel_f, want_gather_f, want_strided;
    std::vector<uint32_t> want_sel_u, want_gather_u;
    std::vector<bf16> want_bf16;
    std::vector<f16> want_f16;
    for (uint32_t g = 0; g < groups; ++g) {
      for (uint32_t l = 0; l < n; ++l) {
        const size_t i = size_t{g} * n + l;
        const float x = in.fa[i], y = in.fb[i], z = in.fc[i];
        want_max.push_back(ReferenceMax(x, y));
        want_min.push_back(ReferenceMin(x, y));
        want_fma.push_back(std::fma(x, y, z));
        fused_differs += !std::isnan(x * y + z) && RawBits(std::fma(x, y, z)) != RawBits(x * y + z);
        want_sel_f.push_back((in.ua[i] & 7u) < 3u ? x : y);
        want_sel_u.push_back(x < y ? in.ua[i] : l);
        want_gather_f.push_back(in.table[in.ua[i] & (OpsInputs::kTableSize - 1)]);
        want_gather_u.push_back(in.utable[in.ua[i] & (OpsInputs::kTableSize - 1)]);
        want_strided.push_back(
            l < in.tile_rows() ? in.tile[l * OpsInputs::kTileStride + g % OpsInputs::kTileStride]
                               : 0.0f);
        want_bf16.push_back(BF16FromF32(x));
        want_f16.push_back(F16FromF32(x));
      }
    }
    EXPECT_TRUE(SameBits(want_max, scalar.max.rows()));
    EXPECT_TRUE(SameBits(want_min, scalar.min.rows()));
    EXPECT_TRUE(SameBits(want_fma, scalar.fma.rows()));
    EXPECT_TRUE(SameBits(want_sel_f, scalar.sel_f.rows()));
    EXPECT_TRUE(SameBits(want_sel_u, scalar.sel_u.rows()));
    EXPECT_TRUE(SameBits(want_gather_f, scalar.gather_f.rows()));
    EXPECT_TRUE(SameBits(want_gather_u, scalar.gather_u.rows()));
    EXPECT_TRUE(SameBits(want_strided, scalar.strided.rows()));
    EXPECT_TRUE(SameBits(want_bf16, scalar.to_bf16.rows()));
    EXPECT_TRUE(SameBits(want_f16, scalar.to_f16.rows()));
    EXPECT_TRUE(SameBits(in.fa, scalar.f32_copy.rows()));
    EXPECT_TRUE(SameBits(in.ua, scalar.u32_copy.rows()));
    EXPECT_TRUE(SameBits(in.ia, scalar.i32_copy.rows()));
    EXPECT_TRUE(SameBits(in.u8a, scalar.u8_copy.rows()));
    std::vector<float> want_from_bf16, want_from_f16;
    for (bf16 h : in.bfa) want_from_bf16.push_back(F32FromBF16(h));
    for (f16 h : in.hfa) want_from_f16.push_back(F32FromF16(h));
    EXPECT_TRUE(SameBits(want_from_bf16, scalar.from_bf16.rows()));
    EXPECT_TRUE(SameBits(want_from_f16, scalar.from_f16.rows()));
    EXPECT_TRUE(
        SameBits(std::vector<uint32_t>(in.u8a.begin(), in.u8a.end()), scalar.u8_as_u32.rows()));

    // Every target against the scalar one.
    ExpectSameRows("Max", scalar.max, out.max);
    ExpectSameRows("Min", scalar.min, out.min);
    {
      // With two NaN operands, which payload an fma returns depends on the instruction form
      // the compiler picked: only NaN-ness is reproducible there.
      SCOPED_TRACE("Fma");
      EXPECT_TRUE(out.fma.GapsIntact());
      std::vector<float> got = out.fma.rows(), want = scalar.fma.rows();
      for (size_t i = 0; i < got.size(); ++i) {
        const int nans = std::isnan(in.fa[i]) + std::isnan(in.fb[i]) + std::isnan(in.fc[i]);
        if (nans >= 2 && std::isnan(got[i]) && std::isnan(want[i])) got[i] = want[i];
      }
      EXPECT_TRUE(SameBits(want, got));
    }
    ExpectSameRows("Select f32 by u32 mask", scalar.sel_f, out.sel_f);
    ExpectSameRows("Select u32 by f32 mask", scalar.sel_u, out.sel_u);
    ExpectSameRows("f32 load/store", scalar.f32_copy, out.f32_copy);
    ExpectSameRows("u32 load/store", scalar.u32_copy, out.u32_copy);
    ExpectSameRows("i32 load/store", scalar.i32_copy, out.i32_copy);
    ExpectSameRows("u8 load as u32", scalar.u8_as_u32, out.u8_as_u32);
    ExpectSameRows("u8 store", scalar.u8_copy, out.u8_copy);
    ExpectSameRows("bf16 load", scalar.from_bf16, out.from_bf16);
    ExpectSameRows("f16 load", scalar.from_f16, out.from_f16);
    ExpectSameRows("bf16 store", scalar.to_bf16, out.to_bf16);
    ExpectSameRows("f16 store", scalar.to_f16, out.to_f16);
    ExpectSameRows("gather f32", scalar.gather_f, out.gather_f);
    ExpectSameRows("gather u32", scalar.gather_u, out.gather_u);
    ExpectSameRows("load_strided", scalar.strided, out.strided);
    ExpectSameRows("arena f32", scalar.arena_f, out.arena_f);
    ExpectSameRows("arena u32", scalar.arena_u, out.arena_u);
    EXPECT_EQ(out.arena_pad_ok, std::vector<uint32_t>(groups, 1)) << "arena store past the lanes";

    std::vector<float> want_arena_f;
    std::vector<uint32_t> want_arena_u;
    for (size_t i = 0; i < in.fa.size(); ++i) {
      want_arena_f.push_back(in.fa[i] * 2.0f);
      want_arena_u.push_back(in.ua[i] ^ 0x5A5A5A5Au);
    }
    EXPECT_TRUE(SameBits(want_arena_f, scalar.arena_f.rows()));
    EXPECT_TRUE(SameBits(want_arena_u, scalar.arena_u.rows()));

    // any/all are per pack: lanes past the group never count.
    EXPECT_TRUE(out.any_all.GapsIntact());
    for (uint32_t g = 0; g < groups; ++g) {
      const uint32_t width = out.width[g];
      for (uint32_t first = 0; first < n; first += width) {
        const uint32_t count = std::min(width, n - first);
        bool any = false, all = true;
        for (uint32_t k = 0; k < count; ++k) {
          const size_t i = size_t{g} * n + first + k;
          any |= in.fa[i] < in.fb[i];
          all &= in.fa[i] < in.fb[i];
        }
        const uint32_t want = 0u | 1u << 1 | uint32_t{any} << 2 | uint32_t{all} << 3;
        for (uint32_t k = 0; k < count; ++k) {
          ASSERT_EQ(out.any_all.at(g, first + k), want) << "group " << g << ", lane " << first + k;
        }
      }
    }
  }
  EXPECT_GT(fused_differs, 100u) << "the Fma inputs cannot tell fused from unfused";
}

// ---- queue semantics ---------------------------------------------------------------------

constexpr uint32_t kChainLanes = 64;
constexpr uint32_t kChainGroups = 48;
constexpr uint32_t kChainCount = kChainLanes * kChainGroups;

std::vector<uint32_t> ChainInput() {
  std::vector<uint32_t> v(kChainCount);
  for (uint32_t i = 0; i < kChainCount; ++i) v[i] = Mix(i, 1);
  return v;
}

std::vector<uint32_t> ChainStep(const std::vector<uint32_t>& in, uint32_t add) {
  std::vector<uint32_t> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[in.size() - 1 - i] * 3u + add;
  return out;
}

void DispatchChain(Queue& queue, const uint32_t* in, uint32_t* out, uint32_t add) {
  queue.dispatch(ChainKernelEntry(), Dim3{kChainGroups / 4, 2, 2}, kChainLanes, ArenaSizes{},
                 ChainArgs{in, out, kChainCount, add});
}

// Three dependent dispatches in one commit; returns the last one's output.
std::vector<uint32_t> RunChain(Queue& queue) {
  const std::vector<uint32_t> in = ChainInput();
  std::vector<uint32_t> a(kChainCount), b(kChainCount), c(kChainCount);
  DispatchChain(queue, in.data(), a.data(), 1);
  queue.memory_barrier();
  DispatchChain(queue, a.data(), b.data(), 2);
  queue.memory_barrier();
  DispatchChain(queue, b.data(), c.data(), 3);
  queue.commit_and_wait();
  return c;
}

std::vector<uint32_t> ExpectedChain() {
  return ChainStep(ChainStep(ChainStep(ChainInput(), 1), 2), 3);
}

TEST_P(RuntimeTest, MemoryBarrierOrdersDependentDispatches) {
  Queue queue(Options(GetParam()));
  EXPECT_TRUE(SameBits(ExpectedChain(), RunChain(queue)));
}

TEST_P(RuntimeTest, IndependentDispatchesShareACommit) {
  Queue queue(Options(GetParam()));
  const std::vector<uint32_t> in = ChainInput();
  std::vector<uint32_t> a(kChainCount), b(kChainCount), barrier_out(size_t{100} * 6);
  std::vector<uint32_t> counts(7 * 11, 0);
  DispatchChain(queue, in.data(), a.data(), 5);
  queue.dispatch(BarrierKernelEntry(), Dim3{2, 3, 1}, 100, ArenaSizes{400},
                 BarrierArgs{barrier_out.data(), 2});
  DispatchChain(queue, in.data(), b.data(), 6);
  queue.dispatch(CountKernelEntry(), Dim3{7, 11, 1}, 5, ArenaSizes{}, CountArgs{counts.data()});
  queue.commit_and_wait();
  EXPECT_TRUE(SameBits(ChainStep(in, 5), a));
  EXPECT_TRUE(SameBits(ChainStep(in, 6), b));
  EXPECT_TRUE(SameBits(ExpectedBarrier(6, 100, 2), barrier_out));
  EXPECT_EQ(counts, std::vector<uint32_t>(7 * 11, 1));
}

TEST_P(RuntimeTest, EmptyCommitsAndQueueReuse) {
  Queue queue(Options(GetParam()));
  EXPECT_EQ(queue.threads(), GetParam().threads);
  EXPECT_EQ(queue.target(), GetParam().target);
  queue.commit_and_wait();
  queue.memory_barrier();
  queue.memory_barrier();
  queue.commit_and_wait();
  EXPECT_TRUE(queue.race_reports().empty());

  std::vector<uint32_t> counts(50, 0);
  queue.dispatch(CountKernelEntry(), Dim3{5, 10, 1}, 3, ArenaSizes{}, CountArgs{counts.data()});
  queue.commit_and_wait();
  EXPECT_EQ(counts, std::vector<uint32_t>(50, 1));
  queue.commit_and_wait();  // a commit does not replay what earlier commits ran
  EXPECT_EQ(counts, std::vector<uint32_t>(50, 1));
  queue.dispatch(CountKernelEntry(), Dim3{5, 10, 1}, 3, ArenaSizes{}, CountArgs{counts.data()});
  queue.memory_barrier();
  queue.dispatch(CountKernelEntry(), Dim3{5, 10, 1}, 3, ArenaSizes{}, CountArgs{counts.data()});
  queue.commit_and_wait();
  EXPECT_EQ(counts, std::vector<uint32_t>(50, 3));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(SameBits(ExpectedChain(), RunChain(queue)));
}

struct ThreadRecord {
  explicit ThreadRecord(uint32_t groups)
      : who(groups), omp_thread(groups, -1), in_parallel(groups, -1) {}
  ThreadArgs args() { return ThreadArgs{who.data(), omp_thread.data(), in_parallel.data()}; }
  std::vector<std::thread::id> who;
  std::vector<int32_t> omp_thread, in_parallel;
};

TEST_P(RuntimeTest, CallerThreadOnlyRunsEveryGroupOnTheCaller) {
  QueueOptions options = Options(GetParam());
  options.caller_thread_only = true;
  Queue queue(options);
  EXPECT_EQ(queue.threads(), 1);
  constexpr uint32_t kGroups = 200;
  ThreadRecord record(kGroups);
  queue.dispatch(ThreadKernelEntry(), Dim3{kGroups, 1, 1}, 4, ArenaSizes{16}, record.args());
  queue.commit_and_wait();
  for (uint32_t g = 0; g < kGroups; ++g) {
    EXPECT_EQ(record.who[g], std::this_thread::get_id()) << "group " << g;
    EXPECT_EQ(record.omp_thread[g], 0) << "group " << g;
    EXPECT_EQ(record.in_parallel[g], 0) << "group " << g;
  }
  EXPECT_TRUE(SameBits(ExpectedChain(), RunChain(queue)));
}

TEST_P(RuntimeTest, GroupsRunOnTheQueuesTeam) {
  Queue queue(Options(GetParam()));
  constexpr uint32_t kGroups = 200;
  ThreadRecord record(kGroups);
  queue.dispatch(ThreadKernelEntry(), Dim3{kGroups, 1, 1}, 4, ArenaSizes{16}, record.args());
  queue.commit_and_wait();
  const int threads = GetParam().threads;
  const std::set<std::thread::id> distinct(record.who.begin(), record.who.end());
  EXPECT_LE(distinct.size(), size_t(threads));
  for (uint32_t g = 0; g < kGroups; ++g) {
    EXPECT_GE(record.omp_thread[g], 0);
    EXPECT_LT(record.omp_thread[g], threads);
    // A one-thread queue runs on the caller (an OpenMP team's primary thread is the caller).
    if (threads == 1) {
      EXPECT_EQ(record.who[g], std::this_thread::get_id()) << "group " << g;
    }
  }
}

TEST_P(RuntimeTest, QueueInsideAnOpenMPParallelRegion) {
  constexpr int kOuter = 3;
  std::vector<std::vector<uint32_t>> results(kOuter);
  std::vector<std::string> errors(kOuter);
  const Config config = GetParam();
#pragma omp parallel num_threads(kOuter)
  {
    const int t = omp_get_thread_num();
    try {
      Queue queue(Options(config));
      results[size_t(t)] = RunChain(queue);
    } catch (const std::exception& e) {
      errors[size_t(t)] = e.what();
    }
  }
  for (int t = 0; t < kOuter; ++t) {
    SCOPED_TRACE("outer thread " + std::to_string(t));
    EXPECT_EQ(errors[size_t(t)], "");
    EXPECT_TRUE(SameBits(ExpectedChain(), results[size_t(t)]));
  }
}

TEST_P(RuntimeTest, ConcurrentQueuesOnStdThreads) {
  constexpr int kQueues = 4;
  std::vector<std::vector<uint32_t>> chains(kQueues), barriers(kQueues);
  std::vector<std::string> errors(kQueues);
  const Config config = GetParam();
  std::vector<std::thread> threads;
  for (int q = 0; q < kQueues; ++q) {
    threads.emplace_back([&, q] {
      try {
        Queue queue(Options(config));
        for (int repeat = 0; repeat < 3; ++repeat) chains[size_t(q)] = RunChain(queue);
        barriers[size_t(q)].assign(size_t{257} * 4, 0);
        queue.dispatch(BarrierKernelEntry(), Dim3{2, 2, 1}, 257, ArenaSizes{257 * 4},
                       BarrierArgs{barriers[size_t(q)].data(), 3});
        queue.commit_and_wait();
      } catch (const std::exception& e) {
        errors[size_t(q)] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int q = 0; q < kQueues; ++q) {
    SCOPED_TRACE("queue " + std::to_string(q));
    EXPECT_EQ(errors[size_t(q)], "");
    EXPECT_TRUE(SameBits(ExpectedChain(), chains[size_t(q)]));
    EXPECT_TRUE(SameBits(ExpectedBarrier(4, 257, 3), barriers[size_t(q)]));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, RuntimeTest, ::testing::ValuesIn(AllConfigs()), ConfigName);

// ---- error paths -------------------------------------------------------------------------

using test::ExpectInvalidArgument;

TEST(RuntimeErrors, BadDispatchesRecordNothing) {
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    Queue queue(QueueOptions{.threads = 2, .target = target});
    std::vector<uint32_t> counts(4, 0);
    const CountArgs args{counts.data()};
    queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 1, ArenaSizes{}, args);
    ExpectInvalidArgument(
        [&] {
          queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 0, ArenaSizes{}, args);
        },
        "dispatch of count_test: group_size (0) must be in [1, 1024]");
    ExpectInvalidArgument(
        [&] {
          queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 1025, ArenaSizes{}, args);
        },
        "dispatch of count_test: group_size (1025) must be in [1, 1024]");
    ExpectInvalidArgument(
        [&] {
          queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 32, ArenaSizes{16, kMaxArenaBytes + 1},
                         args);
        },
        "dispatch of count_test: arena 1 size (67108865 bytes) must be at most 67108864 bytes");
    // The valid dispatch before the errors runs once; the rejected ones not at all.
    queue.commit_and_wait();
    EXPECT_EQ(counts, std::vector<uint32_t>(4, 1));
    ExpectInvalidArgument(
        [&] {
          queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 2000, ArenaSizes{}, args);
        },
        "dispatch of count_test: group_size (2000) must be in [1, 1024]");
    queue.commit_and_wait();
    EXPECT_EQ(counts, std::vector<uint32_t>(4, 1));
  }
  // The largest legal values are accepted.
  Queue queue(QueueOptions{.threads = 1, .target = Target::Scalar()});
  std::vector<uint32_t> counts(1, 0);
  queue.dispatch(CountKernelEntry(), Dim3{}, kMaxGroupSize, ArenaSizes{kMaxArenaBytes},
                 CountArgs{counts.data()});
  queue.commit_and_wait();
  EXPECT_EQ(counts[0], 1u);
}

TEST(RuntimeErrors, ArenaCount) {
  ExpectInvalidArgument([] { [[maybe_unused]] const ArenaSizes nine{1, 2, 3, 4, 5, 6, 7, 8, 9}; },
                        "arena count (9) must be at most 8");
  const ArenaSizes eight{1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(eight.count(), 8u);
  EXPECT_EQ(eight[7], 8u);
}

TEST(RuntimeErrors, BadQueueOptions) {
  ExpectInvalidArgument([] { Queue queue(QueueOptions{.threads = -1}); },
                        "threads (-1) must be in [0, 1024] (0: the OpenMP default)");
  // Past the bound: an error, not an attempt to allocate for two billion threads.
  ExpectInvalidArgument([] { Queue queue(QueueOptions{.threads = kMaxQueueThreads + 1}); },
                        "threads (1025) must be in [0, 1024] (0: the OpenMP default)");
  ExpectInvalidArgument(
      [] { Queue queue(QueueOptions{.threads = std::numeric_limits<int>::max()}); },
      "threads (2147483647) must be in [0, 1024] (0: the OpenMP default)");
  EXPECT_EQ(Queue(QueueOptions{.threads = kMaxQueueThreads}).threads(), kMaxQueueThreads);
  for (Target target : AvailableTargets()) {
    if (target.is_scalar()) continue;
    ExpectInvalidArgument([&] { Queue queue(QueueOptions{.target = target, .check_races = true}); },
                          "check_races needs the scalar target (got target " + target.name() + ")");
  }
  // SSE4 is never compiled into tgk (no FMA).
  ExpectInvalidArgument([] { Queue queue(QueueOptions{.target = Target::Highway(HWY_SSE4)}); },
                        "target sse4 is not compiled in or not supported here");
  Queue checked(QueueOptions{.target = Target::Scalar(), .check_races = true});
  EXPECT_TRUE(checked.target().is_scalar());
  Queue best;
  EXPECT_EQ(best.target(), BestTarget());
  EXPECT_GE(best.threads(), 1);
}

// A huge team over few groups starts only the threads the groups can use.
TEST(RuntimeThreads, TeamIsCappedByTheGroupCount) {
  Queue queue(QueueOptions{.threads = kMaxQueueThreads});
  ThreadRecord record(3);
  queue.dispatch(ThreadKernelEntry(), Dim3{3, 1, 1}, 4, ArenaSizes{16}, record.args());
  queue.commit_and_wait();
  for (int32_t thread : record.omp_thread) {
    EXPECT_GE(thread, 0);
    EXPECT_LT(thread, 3);
  }
}

// OpenMP runtimes end the process when a thread cannot start; the queue's own check turns it
// into a tgk::Error. Here a 1 GiB address-space limit leaves room for a few hundred thread
// stacks (8 MiB each by default, 2 MiB at the least), not for 1023.
// The child process is a fresh one (gtest's threadsafe death tests re-execute the binary), so
// no OpenMP thread exists yet. Sanitizer runtimes reserve address space beyond any such limit.
TEST(RuntimeThreads, AThreadThatCannotStartIsAnError) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "address-space limits and sanitizers do not mix";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  GTEST_SKIP() << "address-space limits and sanitizers do not mix";
#endif
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        rlimit limit{};
        getrlimit(RLIMIT_AS, &limit);
        limit.rlim_cur = rlim_t{1} << 30;
        setrlimit(RLIMIT_AS, &limit);
        std::vector<uint32_t> counts(kMaxQueueThreads, 0);
        try {
          Queue queue(QueueOptions{.threads = kMaxQueueThreads});
          queue.dispatch(CountKernelEntry(), Dim3{kMaxQueueThreads, 1, 1}, 1, ArenaSizes{},
                         CountArgs{counts.data()});
          queue.commit_and_wait();
          std::fprintf(stderr, "no error\n");
          std::_Exit(1);
        } catch (const Error& e) {
          const bool nothing_ran =
              std::all_of(counts.begin(), counts.end(), [](uint32_t c) { return c == 0; });
          std::fprintf(stderr, "%s%s\n", e.what(), nothing_ran ? "" : " (but groups ran)");
          std::_Exit(e.kind() == ErrorKind::kResource && nothing_ran ? 0 : 1);
        }
      },
      ::testing::ExitedWithCode(0),
      "Resource unavailable: threads: a team of 1024 cannot start here \\(worker [0-9]+ "
      "failed: .*\\); use fewer threads or raise the limit that stopped it");
}

// ---- queue lifetime ----------------------------------------------------------------------

static_assert(std::is_nothrow_move_constructible_v<Queue>);
static_assert(std::is_nothrow_move_assignable_v<Queue>);

TEST(RuntimeLifetime, QueueMovesWithItsRecordedWork) {
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    std::vector<uint32_t> counts(6, 0);
    Queue first(QueueOptions{.threads = 2, .target = target});
    first.dispatch(CountKernelEntry(), Dim3{6, 1, 1}, 2, ArenaSizes{}, CountArgs{counts.data()});
    Queue second(std::move(first));
    EXPECT_EQ(second.target(), target);
    EXPECT_EQ(second.threads(), 2);
    EXPECT_EQ(second.pending(), 1u);
    second.commit_and_wait();
    EXPECT_EQ(counts, std::vector<uint32_t>(6, 1));

    // Assignment: the target queue takes the recorded work and the options.
    Queue third(QueueOptions{.threads = 1, .target = Target::Scalar()});
    second.dispatch(CountKernelEntry(), Dim3{6, 1, 1}, 2, ArenaSizes{}, CountArgs{counts.data()});
    third = std::move(second);
    EXPECT_EQ(third.target(), target);
    EXPECT_EQ(third.threads(), 2);
    EXPECT_EQ(third.pending(), 1u);
    third.commit_and_wait();
    EXPECT_EQ(counts, std::vector<uint32_t>(6, 2));
    EXPECT_TRUE(SameBits(ExpectedChain(), RunChain(third)));
  }
}

TEST(RuntimeLifetime, DroppedWorkIsReportedAndDoesNotRun) {
  std::vector<uint32_t> counts(4, 0);
  const CountArgs args{counts.data()};
  ::testing::internal::CaptureStderr();
  {
    Queue queue(QueueOptions{.threads = 2});
    queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 1, ArenaSizes{}, args);
    queue.memory_barrier();
    queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 1, ArenaSizes{}, args);
    EXPECT_EQ(queue.pending(), 2u);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "tgk: a Queue was destroyed with 2 recorded dispatch(es) not committed (first: "
            "count_test); they did not run\n");
  EXPECT_EQ(counts, std::vector<uint32_t>(4, 0));

  // Assigning over a queue drops its work the same way.
  ::testing::internal::CaptureStderr();
  {
    Queue queue;
    queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 1, ArenaSizes{}, args);
    queue = Queue();
    EXPECT_EQ(queue.pending(), 0u);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "tgk: a Queue was destroyed with 1 recorded dispatch(es) not committed (first: "
            "count_test); they did not run\n");
  EXPECT_EQ(counts, std::vector<uint32_t>(4, 0));

  // discard() drops it silently; committed and moved-from queues have nothing to report.
  ::testing::internal::CaptureStderr();
  {
    Queue queue;
    queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 1, ArenaSizes{}, args);
    queue.discard();
    EXPECT_EQ(queue.pending(), 0u);
    queue.commit_and_wait();
    queue.dispatch(CountKernelEntry(), Dim3{4, 1, 1}, 1, ArenaSizes{}, args);
    queue.commit_and_wait();
    Queue moved(std::move(queue));
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(counts, std::vector<uint32_t>(4, 1));
}

TEST(RuntimeVersion, MacrosAndLibraryAgree) {
  EXPECT_EQ(std::string(TGK_VERSION_STRING), std::to_string(TGK_VERSION_MAJOR) + "." +
                                                 std::to_string(TGK_VERSION_MINOR) + "." +
                                                 std::to_string(TGK_VERSION_PATCH));
  EXPECT_STREQ(Version(), TGK_VERSION_STRING);
}

TEST(RuntimeErrors, ParseTarget) {
  std::string available;
  for (Target t : AvailableTargets()) {
    EXPECT_EQ(ParseTarget(t.name()), t);
    std::string upper = t.name();
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return char(std::toupper(c)); });
    EXPECT_EQ(ParseTarget(upper), t);
    available += (available.empty() ? "" : ", ") + t.name();
  }
  EXPECT_EQ(AvailableTargets().front(), Target::Scalar());
  ExpectInvalidArgument([] { ParseTarget("avx9000"); },
                        "target 'avx9000' is not available here (available: " + available + ")");
  ExpectInvalidArgument([] { ParseTarget(""); },
                        "target '' is not available here (available: " + available + ")");
}

}  // namespace
}  // namespace runtime_test
}  // namespace tgk

#endif  // HWY_ONCE
