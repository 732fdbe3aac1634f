// The model's multi-lane operations against their scalar definitions, bit for bit, one test
// instance per target (scalar lanes and every compiled Highway target this CPU runs):
//   simd_sum_rows        detail::SimdSumRows (the multi-value sum, collectives-inl.h on packs)
//   simd_sum, simd_max   detail::SimdSum / SimdMax (by whole vectors on packs)
//   simd_hadamard        detail::SimdHadamardRows (in registers on packs)
//   load_deinterleaved   lane k reads p[N·k + i] into e[i] (f32, N = 1..16; f16 widened
//                        exactly, N = 4; and load_deinterleaved4)
//   store_interleaved    lane k writes v[i] to p[N·k + i] (f32, N = 1..16; bytes, N = 4..16)
//   RoundF16             F32FromF16(F16FromF32(x))
//   store_stream         store: the same bits wherever p points, through the caches or past them
//   store_interleaved_stream  store_interleaved of bytes: the same, wherever p points
// Group sizes include partial last simdgroups and partial last packs. Inputs mix specials (NaN
// payloads, ±inf, ±0, subnormals) with values of spread exponents, whose sums change bits under
// any other combination order.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "group_ops_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

#ifndef TGK_TESTS_GROUP_OPS_TEST_ARGS_
#define TGK_TESTS_GROUP_OPS_TEST_ARGS_
namespace tgk {

enum class GroupOp : uint32_t {
  kSumRows,             // in [rows][lanes] -> out [lanes]: simd_sum_rows of rows [first, first+32)
  kSum,                 // in [lanes] -> out [lanes]
  kHadamard,            // in [rows][lanes] -> out [rows][lanes]: simd_hadamard of rows [3, 12)
  kMax,                 // in [lanes] -> out [lanes]
  kDeinterleaveF32,     // in f32 [N·lanes] -> out [N][lanes]
  kDeinterleaveF16,     // in f16 [4·lanes] -> out [4][lanes] (load_deinterleaved4)
  kInterleaveF32,       // in f32 [N][lanes] -> out [N·lanes]
  kInterleaveU8,        // in u32 [N][lanes] (values below 256) -> out u8 [N·lanes]
  kInterleaveU8Stream,  // the same through store_interleaved_stream
  kRoundF16,            // in [lanes] -> out [lanes]
  kStoreStream,         // in [lanes] -> out [lanes], out at any alignment
};

inline constexpr uint32_t kSumRowsTotal = 40;  // rows in the lane state
inline constexpr uint32_t kSumRowsFirst = 5;   // the rows summed: [5, 37)
inline constexpr uint32_t kHadamardFirst = 3;  // the rows transformed: [3, 12)
inline constexpr uint32_t kHadamardRows = 9;

struct GroupOpArgs {
  GroupOp op;
  const void* in;
  void* out;
  uint32_t group;  // N of the (de)interleaving operations
};

}  // namespace tgk
#endif  // TGK_TESTS_GROUP_OPS_TEST_ARGS_

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// One group; lane l works on element l (or elements N·l .. N·l + N − 1).
struct GroupOpKernel {
  GroupOpArgs a;

  template <size_t N, class Group>
  HWY_INLINE void Interleaving(Group& g) const {
    const uint32_t n = g.size();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      using Lane = decltype(lane);
      if (a.op == GroupOp::kDeinterleaveF32) {
        typename Lane::VF e[N];
        lane.load_deinterleaved(static_cast<const float*>(a.in) + N * lane.first(), e);
        float* out = static_cast<float*>(a.out);
        for (uint32_t i = 0; i < N; ++i) lane.store(out + i * n + lane.first(), e[i]);
      } else if (a.op == GroupOp::kInterleaveF32) {
        const float* in = static_cast<const float*>(a.in);
        typename Lane::VF v[N];
        for (uint32_t i = 0; i < N; ++i) v[i] = lane.load(in + i * n + lane.first());
        lane.store_interleaved(static_cast<float*>(a.out) + N * lane.first(), v);
      } else if constexpr (N % 4 == 0) {
        const uint32_t* in = static_cast<const uint32_t*>(a.in);
        typename Lane::VU v[N];
        for (uint32_t i = 0; i < N; ++i) v[i] = lane.load(in + i * n + lane.first());
        uint8_t* out = static_cast<uint8_t*>(a.out) + N * lane.first();
        if (a.op == GroupOp::kInterleaveU8Stream) {
          lane.store_interleaved_stream(out, v);
        } else {
          lane.store_interleaved(out, v);
        }
      }
    });
  }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t n = g.size();
    const float* in = static_cast<const float*>(a.in);
    float* out = static_cast<float*>(a.out);
    switch (a.op) {
      case GroupOp::kSumRows: {
        auto rows = g.template lane_state<float, kSumRowsTotal>();
        auto sums = g.template lane_state<float, 2>();
        g.for_each_lane([&](auto lane) HWY_ATTR {
          for (uint32_t r = 0; r < kSumRowsTotal; ++r) {
            lane.store(rows, r, lane.load(in + r * n + lane.first()));
          }
        });
        g.simd_sum_rows(rows, kSumRowsFirst, sums, 1);
        g.for_each_lane([&](auto lane)
                            HWY_ATTR { lane.store(out + lane.first(), lane.load(sums, 1)); });
        break;
      }
      case GroupOp::kHadamard: {
        auto rows = g.template lane_state<float, kSumRowsTotal>();
        g.for_each_lane([&](auto lane) HWY_ATTR {
          for (uint32_t r = 0; r < kSumRowsTotal; ++r) {
            lane.store(rows, r, lane.load(in + r * n + lane.first()));
          }
        });
        g.simd_hadamard(rows, kHadamardFirst, kHadamardRows);
        g.for_each_lane([&](auto lane) HWY_ATTR {
          for (uint32_t r = 0; r < kSumRowsTotal; ++r) {
            lane.store(out + r * n + lane.first(), lane.load(rows, r));
          }
        });
        break;
      }
      case GroupOp::kSum:
      case GroupOp::kMax: {
        auto values = g.template lane_state<float, 3>();
        g.for_each_lane([&](auto lane)
                            HWY_ATTR { lane.store(values, 2, lane.load(in + lane.first())); });
        if (a.op == GroupOp::kSum) {
          g.simd_sum(values, 2);
        } else {
          g.simd_max(values, 2);
        }
        g.for_each_lane([&](auto lane)
                            HWY_ATTR { lane.store(out + lane.first(), lane.load(values, 2)); });
        break;
      }
      case GroupOp::kDeinterleaveF32:
      case GroupOp::kInterleaveF32:
      case GroupOp::kInterleaveU8:
      case GroupOp::kInterleaveU8Stream:
        switch (a.group) {
          case 1:
            return Interleaving<1>(g);
          case 2:
            return Interleaving<2>(g);
          case 4:
            return Interleaving<4>(g);
          case 8:
            return Interleaving<8>(g);
          case 16:
            return Interleaving<16>(g);
        }
        break;
      case GroupOp::kDeinterleaveF16:
        g.for_each_lane([&](auto lane) HWY_ATTR {
          typename decltype(lane)::VF e[4];
          lane.load_deinterleaved4(static_cast<const f16*>(a.in) + 4 * lane.first(), e);
          for (uint32_t i = 0; i < 4; ++i) lane.store(out + i * n + lane.first(), e[i]);
        });
        break;
      case GroupOp::kRoundF16:
        g.for_each_lane([&](auto lane) HWY_ATTR {
          lane.store(out + lane.first(), RoundF16(lane.load(in + lane.first())));
        });
        break;
      case GroupOp::kStoreStream:
        g.for_each_lane([&](auto lane) HWY_ATTR {
          lane.store_stream(out + lane.first(), lane.load(in + lane.first()));
        });
        break;
    }
  }
};

TGK_DEFINE_KERNEL_RUNNERS(GroupOpKernel, GroupOpArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "testing/aligned.h"
#include "testing/compare.h"
#include "tgk/convert.h"
#include "tgk/detail/collectives.h"
#include "tgk/dtype.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {

TGK_EXPORT_KERNEL(GroupOpKernel, "group_ops_test")

namespace {

constexpr uint32_t kGroupSizes[] = {32, 64, 96, 1024, 1, 7, 33, 37, 48, 100};

// Values whose sums depend on the order: exponents spread over ±30, a few specials.
std::vector<float> Values(size_t n, uint32_t seed, bool specials) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> mantissa(-2.0f, 2.0f);
  std::uniform_int_distribution<int> exponent(-30, 30);
  std::uniform_int_distribution<int> pick(0, 63);
  std::vector<float> v(n);
  for (auto& x : v) {
    x = std::ldexp(mantissa(rng), exponent(rng));
    if (!specials) continue;
    switch (pick(rng)) {
      case 0:
        x = FloatFromBits(0x7FC00000u | (rng() & 0x3FFFFFu));
        break;  // quiet NaN
      case 1:
        x = FloatFromBits(0xFF800001u | (rng() & 0x3FFFFFu));
        break;  // signalling NaN
      case 2:
        x = std::numeric_limits<float>::infinity();
        break;
      case 3:
        x = -std::numeric_limits<float>::infinity();
        break;
      case 4:
        x = 0.0f;
        break;
      case 5:
        x = -0.0f;
        break;
      case 6:
        x = FloatFromBits(rng() & 0x807FFFFFu);
        break;  // subnormal
      default:
        break;
    }
  }
  return v;
}

class GroupOpsTest : public ::testing::TestWithParam<Target> {
 protected:
  template <class T = float>
  std::vector<T> Run(GroupOp op, uint32_t group_size, const void* in, size_t out_size,
                     uint32_t group = 0) {
    std::vector<T> out(out_size);
    for (T& x : out) x = Poison<T>();
    Queue queue(QueueOptions{.threads = 1, .target = GetParam()});
    queue.dispatch(GroupOpKernelEntry(), Dim3{1}, group_size, ArenaSizes{},
                   GroupOpArgs{op, in, out.data(), group});
    queue.commit_and_wait();
    return out;
  }
  template <class T>
  static T Poison() {
    if constexpr (std::is_same_v<T, float>) {
      return FloatFromBits(0x7FBADBADu);
    } else {
      return T(0xAD);
    }
  }
};

// A sum of two NaNs is a NaN whose payload is either operand's: the compiler may commute an
// addition, so sums compare NaNs as equal (`any_nan`). Everything else compares bits.
void ExpectSameBits(const std::vector<float>& want, const std::vector<float>& got,
                    const std::string& what, bool any_nan = false) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    if (any_nan && std::isnan(want[i]) && std::isnan(got[i])) continue;
    ASSERT_EQ(BitsOf(want[i]), BitsOf(got[i]))
        << what << " element " << i << ": want " << want[i] << ", got " << got[i];
  }
}

TEST_P(GroupOpsTest, SimdSumRowsIsTheScalarDefinition) {
  for (uint32_t n : kGroupSizes) {
    for (bool specials : {false, true}) {
      const std::vector<float> in = Values(size_t{kSumRowsTotal} * n, n, specials);
      std::vector<float> want(n);
      tgk::detail::SimdSumRows(in.data() + size_t{kSumRowsFirst} * n, n, want.data(), n);
      const std::vector<float> got = Run(GroupOp::kSumRows, n, in.data(), n);
      ExpectSameBits(want, got, "group size " + std::to_string(n), /*any_nan=*/true);
    }
  }
}

TEST_P(GroupOpsTest, SimdSumRowsAddsInTheCanonicalOrder) {
  // Row i: lane i holds 1, lane i ^ 16 holds 2^24 and lane i ^ 1 holds −2^24. The canonical
  // tree adds lanes 16 apart first (1 + 2^24 rounds to 2^24) and gives 0; adding lanes 1
  // apart first would keep the 1.
  constexpr uint32_t n = 32;
  std::vector<float> in(size_t{kSumRowsTotal} * n, 0.0f);
  for (uint32_t i = 0; i < n; ++i) {
    float* row = in.data() + size_t{kSumRowsFirst + i} * n;
    row[i] = 1.0f;
    row[i ^ 16] = 0x1p24f;
    row[i ^ 1] = -0x1p24f;
  }
  std::vector<float> want(n);
  tgk::detail::SimdSumRows(in.data() + size_t{kSumRowsFirst} * n, n, want.data(), n);
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(want[i], 0.0f) << i;
  ExpectSameBits(want, Run(GroupOp::kSumRows, n, in.data(), n), "canonical order");
}

TEST_P(GroupOpsTest, SimdHadamardIsTheScalarDefinition) {
  for (uint32_t n : kGroupSizes) {
    for (bool specials : {false, true}) {
      const std::vector<float> in = Values(size_t{kSumRowsTotal} * n, 5000 + n, specials);
      std::vector<float> want = in;
      tgk::detail::SimdHadamardRows(want.data() + size_t{kHadamardFirst} * n, n, kHadamardRows, n);
      ExpectSameBits(want, Run(GroupOp::kHadamard, n, in.data(), want.size()),
                     "group size " + std::to_string(n), /*any_nan=*/true);
    }
  }
}

// Lane 0 holds 1, lane 1 2^24 and lane 2 −2^24: lane 0 ends with the sum of all lanes, which the
// stage m = 1 first makes (1 + 2^24) + (−2^24) = 0 (the 1 rounded away); the stage m = 2 first
// would make (1 − 2^24) + 2^24 = 1.
TEST_P(GroupOpsTest, SimdHadamardStagesRunInOrder) {
  constexpr uint32_t n = 32;
  std::vector<float> in(size_t{kSumRowsTotal} * n, 0.0f);
  float* row = in.data() + size_t{kHadamardFirst} * n;
  row[0] = 1.0f;
  row[1] = 0x1p24f;
  row[2] = -0x1p24f;
  std::vector<float> want = in;
  tgk::detail::SimdHadamardRows(want.data() + size_t{kHadamardFirst} * n, n, kHadamardRows, n);
  ASSERT_EQ(want[size_t{kHadamardFirst} * n], 0.0f);
  ExpectSameBits(want, Run(GroupOp::kHadamard, n, in.data(), want.size()), "stage order");
}

TEST_P(GroupOpsTest, SimdSumAndMaxAreTheScalarDefinitions) {
  for (uint32_t n : kGroupSizes) {
    for (bool specials : {false, true}) {
      const std::vector<float> in = Values(n, 1000 + n, specials);
      std::vector<float> sum = in, max = in;
      tgk::detail::SimdSum(sum.data(), n);
      tgk::detail::SimdMax(max.data(), n);
      const std::string what = "group size " + std::to_string(n);
      ExpectSameBits(sum, Run(GroupOp::kSum, n, in.data(), n), "sum, " + what, /*any_nan=*/true);
      ExpectSameBits(max, Run(GroupOp::kMax, n, in.data(), n), "max, " + what);
    }
  }
  // Zeros of both signs and NaNs only: maxNum with −0 < +0, the second NaN kept.
  std::vector<float> zeros(64, -0.0f);
  for (uint32_t l = 5; l < 64; l += 10) zeros[l] = FloatFromBits(0x7FC00000u + l);
  zeros[37] = 0.0f;
  std::vector<float> max = zeros;
  tgk::detail::SimdMax(max.data(), 64);
  EXPECT_EQ(BitsOf(max[0]), 0x80000000u);
  EXPECT_EQ(BitsOf(max[63]), 0u);
  ExpectSameBits(max, Run(GroupOp::kMax, 64, zeros.data(), 64), "signed zeros");
}

TEST_P(GroupOpsTest, LoadDeinterleavedReadsGroupsOfN) {
  for (uint32_t group : {1u, 2u, 4u, 8u, 16u}) {
    for (uint32_t n : kGroupSizes) {
      const std::vector<float> in = Values(group * size_t{n}, 2000 + n, true);
      std::vector<float> want(group * size_t{n});
      for (uint32_t l = 0; l < n; ++l) {
        for (uint32_t i = 0; i < group; ++i) want[i * n + l] = in[group * l + i];
      }
      ExpectSameBits(want, Run(GroupOp::kDeinterleaveF32, n, in.data(), want.size(), group),
                     "f32, N = " + std::to_string(group) + ", group size " + std::to_string(n));
    }
  }
  // f16 (load_deinterleaved4): every pattern, 1024 lanes a group.
  std::vector<f16> halves(4 * 1024);
  for (uint32_t base = 0; base < 0x10000; base += uint32_t(halves.size())) {
    for (uint32_t h = 0; h < halves.size(); ++h) halves[h] = f16{uint16_t(base + h)};
    for (uint32_t n : {1024u, 37u}) {
      std::vector<float> want(4 * size_t{n});
      for (uint32_t l = 0; l < n; ++l) {
        for (uint32_t i = 0; i < 4; ++i) want[i * n + l] = F32FromF16(halves[4 * l + i]);
      }
      ExpectSameBits(
          want, Run(GroupOp::kDeinterleaveF16, n, halves.data(), want.size()),
          "f16 from pattern " + std::to_string(base) + ", group size " + std::to_string(n));
    }
  }
}

TEST_P(GroupOpsTest, StoreInterleavedWritesGroupsOfN) {
  for (uint32_t group : {1u, 2u, 4u, 8u, 16u}) {
    for (uint32_t n : kGroupSizes) {
      const std::string what = "N = " + std::to_string(group) + ", group size " + std::to_string(n);
      // The output has one element past the lanes' groups, which must keep its poison.
      const std::vector<float> in = Values(group * size_t{n}, 4000 + n, true);
      std::vector<float> want(group * size_t{n} + 1, Poison<float>());
      for (uint32_t l = 0; l < n; ++l) {
        for (uint32_t i = 0; i < group; ++i) want[group * l + i] = in[i * n + l];
      }
      ExpectSameBits(want, Run(GroupOp::kInterleaveF32, n, in.data(), want.size(), group),
                     "f32, " + what);
      if (group < 4) continue;
      std::vector<uint32_t> bytes(group * size_t{n});
      for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = uint32_t(k * 37 + n) & 0xFFu;
      std::vector<uint8_t> want8(group * size_t{n} + 1, Poison<uint8_t>());
      for (uint32_t l = 0; l < n; ++l) {
        for (uint32_t i = 0; i < group; ++i) want8[group * l + i] = uint8_t(bytes[i * n + l]);
      }
      EXPECT_EQ(want8, Run<uint8_t>(GroupOp::kInterleaveU8, n, bytes.data(), want8.size(), group))
          << "bytes, " << what;
    }
  }
}

TEST_P(GroupOpsTest, RoundF16IsNarrowThenWiden) {
  std::vector<float> in = Values(1024, 3000, true);
  for (uint32_t h = 0; h < 1024; h += 4) in[h] = F32FromF16(f16{uint16_t(h * 64 + 1)});
  in[1] = 65520.0f;                // the tie that rounds to infinity
  in[2] = 1.0f + 0x1p-11f;         // a tie to even (1)
  in[3] = 1.0f + 3.0f * 0x1p-11f;  // a tie to even (1 + 2^-9)
  std::vector<float> want(in.size());
  for (size_t i = 0; i < in.size(); ++i) want[i] = F32FromF16(F16FromF32(in[i]));
  EXPECT_EQ(want[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(want[2], 1.0f);
  EXPECT_EQ(want[3], 1.0f + 0x1p-9f);
  ExpectSameBits(want, Run(GroupOp::kRoundF16, 1024, in.data(), in.size()), "RoundF16");
}

// Full packs at vector-aligned addresses take the path past the caches; the offsets put the
// same packs at every other alignment, and partial last packs store.
TEST_P(GroupOpsTest, StoreStreamStoresTheValues) {
  for (uint32_t offset : {0u, 1u, 3u, 8u, 16u}) {
    for (uint32_t n : kGroupSizes) {
      const std::vector<float> in = Values(n, 5000 + n, true);
      // The elements around the lanes' ones (a cache line before, one after) keep their poison.
      constexpr uint32_t kLead = 16;
      test::AlignedVector<float> out(kLead + offset + n + 1, Poison<float>());
      Queue queue(QueueOptions{.threads = 1, .target = GetParam()});
      queue.dispatch(GroupOpKernelEntry(), Dim3{1}, n, ArenaSizes{},
                     GroupOpArgs{GroupOp::kStoreStream, in.data(), out.data() + kLead + offset, 0});
      queue.commit_and_wait();
      std::vector<float> want(out.size(), Poison<float>());
      std::copy(in.begin(), in.end(), want.begin() + kLead + offset);
      ExpectSameBits(want, std::vector<float>(out.begin(), out.end()),
                     "offset " + std::to_string(offset) + ", group size " + std::to_string(n));
    }
  }
}

// Full packs at vector-aligned addresses take the path past the caches; the byte offsets put
// the same packs at other alignments, and partial last packs store.
TEST_P(GroupOpsTest, StoreInterleavedStreamStoresTheBytes) {
  for (uint32_t group : {4u, 8u, 16u}) {
    for (uint32_t offset : {0u, 1u, 4u, 32u}) {
      for (uint32_t n : kGroupSizes) {
        std::vector<uint32_t> bytes(group * size_t{n});
        for (size_t k = 0; k < bytes.size(); ++k) bytes[k] = uint32_t(k * 41 + n + offset) & 0xFFu;
        // A cache line before the lanes' bytes and one byte after them keep their poison.
        constexpr uint32_t kLead = 64;
        test::AlignedVector<uint8_t> out(kLead + offset + group * size_t{n} + 1, Poison<uint8_t>());
        Queue queue(QueueOptions{.threads = 1, .target = GetParam()});
        queue.dispatch(GroupOpKernelEntry(), Dim3{1}, n, ArenaSizes{},
                       GroupOpArgs{GroupOp::kInterleaveU8Stream, bytes.data(),
                                   out.data() + kLead + offset, group});
        queue.commit_and_wait();
        std::vector<uint8_t> want(out.size(), Poison<uint8_t>());
        for (uint32_t l = 0; l < n; ++l) {
          for (uint32_t i = 0; i < group; ++i) {
            want[kLead + offset + group * l + i] = uint8_t(bytes[i * n + l]);
          }
        }
        EXPECT_TRUE(test::BitsEqual(want, std::vector<uint8_t>(out.begin(), out.end())))
            << "N = " << group << ", offset " << offset << ", group size " << n;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, GroupOpsTest, ::testing::ValuesIn(AvailableTargets()),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           std::string name = info.param.name();
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace tgk
#endif  // HWY_ONCE
