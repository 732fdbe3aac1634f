// The lane operations of tgk/table-inl.h against their scalar definitions, bit for bit, one
// test instance per target (scalar lanes and every compiled Highway target this CPU runs):
//   LaneTable (16, 32, 64, 256 entries)  t[q]
//   LoadNibble                          the nibble of element id in a packed row
//   DecodeTableRow                      table.entry[codes[i]] · scale
//   DecodeNibbleRow                     codebook[nibble i of the row] · scale
//   LoadXorPartner, GatherArena         arena reads at id ^ m, at any index
//   LanesAt                             addressing past the group
//   BucketIndex (16, 32, 64, 256 levels) the bucket of a value among sorted boundaries, also
//     over a BinnedBucketTable (the tq_kv tables T_4, T_5, T_6, T_8 in 32, 64, 128 or 256, 512
//     bins)
//   StoreBucketIndices                  the same buckets as interleaved bytes, 4, 8, 16 a lane,
//                                       through the caches and past them (RowStore::kStream)
// Tables hold NaN payloads, signed zeros (where the table allows them) and subnormals, which a
// lookup through arithmetic instead of data movement would change. Group sizes include partial
// last packs.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "table_ops_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/tq_kv/tq_codebooks.h"
#include "tgk/table-inl.h"

#ifndef TGK_TESTS_TABLE_OPS_TEST_ARGS_
#define TGK_TESTS_TABLE_OPS_TEST_ARGS_
namespace tgk {

enum class TableOp : uint32_t {
  kTable16,  // in u32 codes [lanes], table -> out f32 [lanes]
  kTable32,
  kTable64,
  kTable256,
  kNibble,           // bytes [(lanes + 1) / 2] -> out u32 [lanes]
  kDecodeRow,        // codes [n], byte table, scale -> out f32 [n]
  kDecodeNibbleRow,  // bytes [(n + 1) / 2], 16-entry table, scale -> out f32 [n]
  kPartner,          // in f32 [lanes] -> out f32 [31][lanes]: m = 1..31
  kGather,           // in u32 [lanes] -> out u32 [lanes]: element lanes − 1 − id
  kLanesAt,          // -> out u32 [3·lanes]: element j holds the id of the lane writing it
  kBucket16,         // in f32 [lanes], bucket table -> out u32 [lanes]
  kBucket32,
  kBucket64,
  kBucket256,
  // in f32 [groups·3·lanes], BinnedBucketTable -> out u32 [groups·3·lanes]; with per_lane
  // (StoreBucketIndices) in f32 [groups·per_lane·lanes] -> out u8 [groups·per_lane·lanes]
  kBinned4In32,
  kBinned5In64,
  kBinned6In128,
  kBinned6In256,
  kBinned8In512,
};

struct TableOpArgs {
  TableOp op;
  const void* in;
  const float* table;
  const ByteTable256* byte_table;
  size_t n;
  float scale;
  void* out;
  const void* bucket_table;  // BucketTable<levels> or BinnedBucketTable of the bucket ops
  uint32_t per_lane;         // binned ops: 0 (BucketIndex) or StoreBucketIndices' 4, 8, 16
  RowStore store;            // the row decoders' and StoreBucketIndices'
};

}  // namespace tgk
#endif  // TGK_TESTS_TABLE_OPS_TEST_ARGS_

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct TableOpKernel {
  TableOpArgs a;

  template <uint32_t kEntries, class Group>
  HWY_INLINE void Lookup(Group& g) const {
    const LaneTable<typename Group::Lane, kEntries> table(a.table);
    const uint32_t* codes = static_cast<const uint32_t*>(a.in);
    float* out = static_cast<float*>(a.out);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const typename Group::Lane lanes = lane;
      lanes.store(out + lane.first(), table(lanes, lanes.load(codes + lane.first())));
    });
  }

  // kN values a lane, lane l's at in[kN·l + i], from kN·n·group_id on: their bytes at the same
  // places of out.
  template <class Table, size_t kN, class Group>
  HWY_INLINE void StoreIndices(Group& g) const {
    const auto& table = *static_cast<const Table*>(a.bucket_table);
    const size_t at = kN * g.size() * g.group_id().x;
    const float* in = static_cast<const float*>(a.in) + at;
    uint8_t* out = static_cast<uint8_t*>(a.out) + at;
    g.for_each_lane([&](auto lane) HWY_ATTR {
      typename decltype(lane)::VF z[kN];
      lane.load_deinterleaved(in + kN * lane.first(), z);
      StoreBucketIndices(lane, table, z, out + kN * lane.first(), a.store);
    });
  }

  // Three values a lane: in[l], in[n + l] and in[2n + l], from 3n·group_id on.
  template <class Table, class Group>
  HWY_INLINE void Bucket(Group& g) const {
    switch (a.per_lane) {
      case 4:
        return StoreIndices<Table, 4>(g);
      case 8:
        return StoreIndices<Table, 8>(g);
      case 16:
        return StoreIndices<Table, 16>(g);
    }
    const auto& table = *static_cast<const Table*>(a.bucket_table);
    const uint32_t n = g.size();
    const float* in = static_cast<const float*>(a.in) + size_t{3} * n * g.group_id().x;
    uint32_t* out = static_cast<uint32_t*>(a.out) + size_t{3} * n * g.group_id().x;
    g.for_each_lane([&](auto lane) HWY_ATTR {
      typename decltype(lane)::VF z[3];
      typename decltype(lane)::VU index[3];
      for (uint32_t k = 0; k < 3; ++k) z[k] = lane.load(in + k * n + lane.first());
      BucketIndex(lane, table, z, index);
      for (uint32_t k = 0; k < 3; ++k) lane.store(out + k * n + lane.first(), index[k]);
    });
  }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const uint32_t n = g.size();
    switch (a.op) {
      case TableOp::kTable16:
        return Lookup<16>(g);
      case TableOp::kTable32:
        return Lookup<32>(g);
      case TableOp::kTable64:
        return Lookup<64>(g);
      case TableOp::kTable256:
        return Lookup<256>(g);
      case TableOp::kNibble: {
        uint32_t* out = static_cast<uint32_t*>(a.out);
        g.for_each_lane([&](auto lane) HWY_ATTR {
          lane.store(out + lane.first(), LoadNibble(lane, static_cast<const uint8_t*>(a.in)));
        });
        return;
      }
      case TableOp::kDecodeRow:
        return DecodeTableRow(g, *a.byte_table, static_cast<const uint8_t*>(a.in), a.n, a.scale,
                              static_cast<float*>(a.out), a.store);
      case TableOp::kDecodeNibbleRow:
        return DecodeNibbleRow(g, a.table, static_cast<const uint8_t*>(a.in), a.n, a.scale,
                               static_cast<float*>(a.out), a.store);
      case TableOp::kPartner: {
        auto arena = g.template arena<float>(0);
        const float* in = static_cast<const float*>(a.in);
        float* out = static_cast<float*>(a.out);
        g.for_each_lane([&](auto lane) HWY_ATTR {
          lane.store(arena, lane.first(), lane.load(in + lane.first()));
        });
        g.barrier();
        for (uint32_t m = 1; m < 32; ++m) {
          g.for_each_lane([&](auto lane) HWY_ATTR {
            lane.store(out + size_t{m - 1} * n + lane.first(), LoadXorPartner(lane, arena, 0, m));
          });
        }
        return;
      }
      case TableOp::kGather: {
        auto arena = g.template arena<uint32_t>(0);
        const uint32_t* in = static_cast<const uint32_t*>(a.in);
        uint32_t* out = static_cast<uint32_t*>(a.out);
        g.for_each_lane([&](auto lane) HWY_ATTR {
          lane.store(arena, lane.first(), lane.load(in + lane.first()));
        });
        g.barrier();
        g.for_each_lane([&](auto lane) HWY_ATTR {
          lane.store(out + lane.first(), GatherArena(lane, arena, lane.splat(n - 1) - lane.id()));
        });
        return;
      }
      case TableOp::kLanesAt: {
        uint32_t* out = static_cast<uint32_t*>(a.out);
        g.for_each_lane([&](auto lane) HWY_ATTR {
          for (uint64_t j = lane.first(); j < 3 * uint64_t{n}; j += n) {
            const auto lanes = LanesAt(lane, j, 3 * uint64_t{n} - j);
            lanes.store(out + j, lanes.id());
          }
        });
        return;
      }
      case TableOp::kBucket16:
        return Bucket<BucketTable<16>>(g);
      case TableOp::kBucket32:
        return Bucket<BucketTable<32>>(g);
      case TableOp::kBucket64:
        return Bucket<BucketTable<64>>(g);
      case TableOp::kBucket256:
        return Bucket<BucketTable<256>>(g);
      case TableOp::kBinned4In32:
        return Bucket<BinnedBucketTable<16, 32>>(g);
      case TableOp::kBinned5In64:
        return Bucket<BinnedBucketTable<32, 64>>(g);
      case TableOp::kBinned6In128:
        return Bucket<BinnedBucketTable<64, 128>>(g);
      case TableOp::kBinned6In256:
        return Bucket<BinnedBucketTable<64, 256>>(g);
      case TableOp::kBinned8In512:
        return Bucket<BinnedBucketTable<256, 512>>(g);
    }
  }
};

TGK_DEFINE_KERNEL_RUNNERS(TableOpKernel, TableOpArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "testing/aligned.h"
#include "testing/compare.h"
#include "testing/random.h"
#include "tgk/convert.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {

TGK_EXPORT_KERNEL(TableOpKernel, "table_ops_test")

namespace {

using test::BitsEqual;

constexpr uint32_t kGroupSizes[] = {32, 64, 96, 1024, 1, 7, 33, 37, 48, 100};
constexpr uint32_t kPoison = 0x7FBADBADu;

// Non-zero values of spread exponents with NaN payloads and subnormals among them.
float Entry(test::Random& rng) {
  switch (rng.Below(16)) {
    case 0:
      return FloatFromBits(0x7FC00000u | uint32_t(rng.Bits() & 0x3FFFFFu));
    case 1:
      return FloatFromBits(0x00000001u + uint32_t(rng.Bits() & 0x3FFFFFu));  // subnormal
    default:
      return std::ldexp(rng.Uniform(0.5f, 1.0f), int(rng.Below(60)) - 30);
  }
}

std::vector<float> OddTable(uint32_t seed) {
  test::Random rng(seed);
  std::vector<float> t(256);
  for (uint32_t e = 128; e < 256; ++e) {
    t[e] = Entry(rng);
    t[255 - e] = FloatFromBits(BitsOf(t[e]) ^ 0x80000000u);
  }
  return t;
}

class TableOpsTest : public ::testing::TestWithParam<Target> {
 public:
  // The output starts `offset` elements past a cache line.
  template <class T>
  std::vector<T> Run(TableOpArgs args, uint32_t group_size, size_t out_size, size_t arena = 0,
                     uint32_t groups = 1, size_t offset = 0) {
    test::AlignedVector<T> out(offset + out_size);
    for (T& x : out) std::memcpy(&x, &kPoison, sizeof(T));
    args.out = out.data() + offset;
    Queue queue(QueueOptions{.threads = 1, .target = GetParam()});
    ArenaSizes arenas{};
    if (arena > 0) arenas = ArenaSizes{arena};
    queue.dispatch(TableOpKernelEntry(), Dim3{groups}, group_size, arenas, args);
    queue.commit_and_wait();
    return std::vector<T>(out.begin() + offset, out.end());
  }

  // A row decoder's n values, written through the caches and past them, the row starting
  // vector-aligned (where RowStore::kStream streams) and at other offsets; the elements around
  // the row (a cache line before, one after) keep their poison.
  void ExpectRow(TableOpArgs args, const std::vector<float>& want) {
    constexpr uint32_t kLead = 16;
    for (const RowStore store : {RowStore::kCached, RowStore::kStream}) {
      for (const uint32_t offset : {0u, 1u, 16u}) {
        test::AlignedVector<float> out(kLead + offset + want.size() + 1, FloatFromBits(kPoison));
        args.out = out.data() + kLead + offset;
        args.store = store;
        Queue queue(QueueOptions{.threads = 1, .target = GetParam()});
        queue.dispatch(TableOpKernelEntry(), Dim3{1}, 32, ArenaSizes{}, args);
        queue.commit_and_wait();
        std::vector<float> expected(out.size(), FloatFromBits(kPoison));
        std::copy(want.begin(), want.end(), expected.begin() + kLead + offset);
        EXPECT_TRUE(BitsEqual(expected, std::vector<float>(out.begin(), out.end())))
            << args.n << " codes, scale " << args.scale
            << (store == RowStore::kStream ? ", streamed" : ", cached") << ", offset " << offset;
      }
    }
  }
};

TEST_P(TableOpsTest, LaneTableReadsTheEntry) {
  const std::vector<float> odd = OddTable(7);
  test::Random rng(8);
  std::vector<float> any(64);
  for (float& x : any) x = Entry(rng);
  any[3] = 0.0f;
  any[12] = -0.0f;
  const struct {
    TableOp op;
    uint32_t entries;
    const float* table;
  } cases[] = {{TableOp::kTable16, 16, any.data()},
               {TableOp::kTable32, 32, any.data()},
               {TableOp::kTable64, 64, any.data()},
               {TableOp::kTable256, 256, odd.data()}};
  for (const auto& c : cases) {
    for (uint32_t n : kGroupSizes) {
      std::vector<uint32_t> codes(n);
      for (uint32_t l = 0; l < n; ++l) codes[l] = l < c.entries ? l : rng.Below(c.entries);
      std::vector<float> want(n);
      for (uint32_t l = 0; l < n; ++l) want[l] = c.table[codes[l]];
      EXPECT_TRUE(BitsEqual(want, Run<float>({c.op, codes.data(), c.table}, n, n)))
          << c.entries << " entries, group size " << n;
    }
  }
}

TEST_P(TableOpsTest, LoadNibbleTakesLowThenHigh) {
  test::Random rng(9);
  for (uint32_t n : kGroupSizes) {
    // Exactly the row's bytes, so that a sanitizer sees any read past it.
    std::vector<uint8_t> row((n + 1) / 2);
    for (uint8_t& b : row) b = uint8_t(rng.Bits());
    std::vector<uint32_t> want(n);
    for (uint32_t j = 0; j < n; ++j) want[j] = j % 2 == 0 ? row[j / 2] & 0xFu : row[j / 2] >> 4;
    EXPECT_TRUE(BitsEqual(want, Run<uint32_t>({TableOp::kNibble, row.data()}, n, n)))
        << "group size " << n;
  }
}

TEST_P(TableOpsTest, DecodeTableRowIsEntryTimesScale) {
  const std::vector<float> odd = OddTable(10);
  ASSERT_TRUE(IsOddTable256(*reinterpret_cast<const float(*)[256]>(odd.data())));
  const ByteTable256 table = MakeByteTable256(*reinterpret_cast<const float(*)[256]>(odd.data()));
  test::Random rng(11);
  for (size_t n : {0, 1, 15, 63, 64, 65, 130, 200, 256, 1000}) {
    std::vector<uint8_t> codes(n);
    for (size_t i = 0; i < n; ++i) codes[i] = i < 256 ? uint8_t(i) : uint8_t(rng.Bits());
    for (float scale : {1.0f, 0.3f, -0x1p-120f}) {
      std::vector<float> want(n);
      for (size_t i = 0; i < n; ++i) want[i] = odd[codes[i]] * scale;
      ExpectRow({TableOp::kDecodeRow, codes.data(), nullptr, &table, n, scale}, want);
    }
  }
}

TEST_P(TableOpsTest, DecodeNibbleRowIsEntryTimesScale) {
  test::Random rng(14);
  std::vector<float> table(16);
  for (float& x : table) x = Entry(rng);
  table[5] = -0.0f;
  for (size_t n : {0, 1, 15, 31, 32, 33, 64, 100, 256, 1000}) {
    // Exactly the row's bytes, so that a sanitizer sees any read past it.
    std::vector<uint8_t> codes((n + 1) / 2);
    for (uint8_t& b : codes) b = uint8_t(rng.Bits());
    for (float scale : {1.0f, 0.3f, -0x1p-120f}) {
      std::vector<float> want(n);
      for (size_t i = 0; i < n; ++i)
        want[i] = table[(codes[i / 2] >> (4 * (i % 2))) & 0xFu] * scale;
      ExpectRow({TableOp::kDecodeNibbleRow, codes.data(), table.data(), nullptr, n, scale}, want);
    }
  }
}

TEST_P(TableOpsTest, LoadXorPartnerAndGatherArenaReadThePartner) {
  test::Random rng(12);
  for (uint32_t n : {32u, 64u, 1024u}) {
    std::vector<float> in(n);
    for (float& x : in) x = Entry(rng);
    std::vector<float> want(size_t{31} * n);
    for (uint32_t m = 1; m < 32; ++m) {
      for (uint32_t l = 0; l < n; ++l) want[size_t{m - 1} * n + l] = in[l ^ m];
    }
    EXPECT_TRUE(BitsEqual(
        want, Run<float>({TableOp::kPartner, in.data()}, n, want.size(), n * sizeof(float))))
        << "group size " << n;
  }
  for (uint32_t n : kGroupSizes) {
    std::vector<uint32_t> in(n), want(n);
    for (uint32_t l = 0; l < n; ++l) in[l] = uint32_t(rng.Bits());
    for (uint32_t l = 0; l < n; ++l) want[l] = in[n - 1 - l];
    EXPECT_TRUE(
        BitsEqual(want, Run<uint32_t>({TableOp::kGather, in.data()}, n, n, n * sizeof(uint32_t))))
        << "group size " << n;
  }
}

TEST_P(TableOpsTest, LanesAtAddressesTheElements) {
  for (uint32_t n : kGroupSizes) {
    std::vector<uint32_t> ids(3 * size_t{n});
    for (uint32_t j = 0; j < ids.size(); ++j) ids[j] = j;
    EXPECT_TRUE(BitsEqual(ids, Run<uint32_t>({TableOp::kLanesAt}, n, ids.size())))
        << "group size " << n;
  }
}

// Boundaries of spread exponents and both signs, with equal neighbours and zeros of both signs;
// the values are every boundary and its neighbouring floats, NaNs, infinities, zeros and others.
// On every target the index is the count of boundaries below the value.
template <uint32_t kLevels>
void ExpectBucketIndex(TableOpsTest& test, TableOp op, uint32_t seed) {
  test::Random rng(seed);
  const auto magnitude = [&] {
    const float e = Entry(rng);
    return std::isnan(e) ? 1.0f : e;
  };
  // kLevels / 2 − 1 negative values, −0, then +0 and kLevels / 2 − 2 positive values.
  float sorted[kLevels - 1];
  for (uint32_t i = 0; i + 1 < kLevels; ++i) {
    sorted[i] = i < kLevels / 2 - 1 ? -magnitude() : i == kLevels / 2 - 1 ? -0.0f : magnitude();
  }
  std::sort(sorted, sorted + kLevels / 2 - 1);
  std::sort(sorted + kLevels / 2, sorted + kLevels - 1);
  sorted[kLevels / 2] = 0.0f;
  if (kLevels >= 8) sorted[2] = sorted[1];
  ASSERT_TRUE(IsNonDecreasing(sorted));
  const BucketTable<kLevels> table = MakeBucketTable<kLevels>(sorted);
  std::vector<float> in;
  for (const float t : sorted) {
    in.insert(in.end(), {t, std::nextafter(t, -INFINITY), std::nextafter(t, INFINITY)});
  }
  for (const uint32_t bits : {0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0x7F800000u, 0xFF800000u,
                              0x00000000u, 0x80000000u, 0x00000001u}) {
    in.push_back(FloatFromBits(bits));
  }
  // Three values a lane (in[l], in[n + l], in[2n + l]), for groups of n and of 37 lanes.
  while (in.size() < 3 * 1024) in.push_back(rng.Uniform(-4.0f, 4.0f) * Entry(rng));
  std::vector<uint32_t> want(in.size());
  for (size_t l = 0; l < in.size(); ++l) {
    for (const float t : sorted) want[l] += in[l] > t;
  }
  TableOpArgs args{op, in.data()};
  args.bucket_table = &table;
  for (const uint32_t group : {1024u, 37u}) {
    EXPECT_TRUE(BitsEqual(std::vector<uint32_t>(want.begin(), want.begin() + 3 * group),
                          test.Run<uint32_t>(args, group, 3 * group)))
        << kLevels << " levels, group size " << group;
  }
}

TEST_P(TableOpsTest, BucketIndexCountsTheBoundariesBelow) {
  ExpectBucketIndex<16>(*this, TableOp::kBucket16, 14);
  ExpectBucketIndex<32>(*this, TableOp::kBucket32, 15);
  ExpectBucketIndex<64>(*this, TableOp::kBucket64, 16);
  ExpectBucketIndex<256>(*this, TableOp::kBucket256, 17);
}

// The tq_kv tables in bins: every boundary and its neighbours up to 2 ulps, the floats on both
// sides of every bin's lower edge (where BinOf changes), zeros, infinities, NaNs, subnormals and
// large magnitudes, then random floats: uniform over the boundaries' span and beyond it, and
// random bit patterns. On every target the index is the count of boundaries below the value
// (lower_bound over the sorted boundaries: the first not below it).
template <uint32_t kLevels, uint32_t kBins>
void ExpectBinnedBucketIndex(TableOpsTest& test, TableOp op, const float (&boundaries)[kLevels - 1],
                             uint32_t seed) {
  constexpr uint32_t kCount = kLevels - 1, kGroup = 1024, kPerGroup = 3 * kGroup, kGroups = 700;
  const BinnedBucketTable<kLevels, kBins> table = MakeBinnedBucketTable<kLevels, kBins>(boundaries);
  test::Random rng(seed);
  std::vector<float> in;
  const auto near = [&](float x) {
    float below = x, above = x;
    in.push_back(x);
    for (int ulp = 0; ulp < 2; ++ulp) {
      below = std::nextafter(below, -INFINITY);
      above = std::nextafter(above, INFINITY);
      in.insert(in.end(), {below, above});
    }
  };
  for (const float b : boundaries) near(b);
  for (uint32_t c = 1; c < kBins; ++c) {
    // The least float of bin c or above: BinOf is non-decreasing in the ordered bits.
    int64_t low = -int64_t{0x7F800000}, high = 0x7F800000;  // ordered bits of −inf, +inf
    const auto value = [](int64_t ordered) {
      return FloatFromBits(ordered < 0 ? uint32_t(-ordered) | 0x80000000u : uint32_t(ordered));
    };
    while (low < high) {
      const int64_t mid = low + (high - low) / 2;
      if (BinOf<kBins>(value(mid), table.lo, table.inv_width) >= c) {
        high = mid;
      } else {
        low = mid + 1;
      }
    }
    near(value(low));
  }
  for (const uint32_t bits :
       {0x7FC00000u, 0xFFC00001u, 0x7F800001u, 0xFFBFFFFFu, 0x7F800000u, 0xFF800000u,
        0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x007FFFFFu, 0x807FFFFFu,
        0x00800000u, 0x7F7FFFFFu, 0xFF7FFFFFu, 0x4F000000u, 0xCF000000u, 0x4F800000u,
        0xCF800000u, 0x5F800000u, 0xDF800000u}) {
    in.push_back(FloatFromBits(bits));
  }
  const float span = boundaries[kCount - 1] - boundaries[0];
  while (in.size() < size_t{kPerGroup} * kGroups) {
    switch (rng.Below(4)) {
      case 0:
        in.push_back(FloatFromBits(uint32_t(rng.Bits())));
        break;
      case 1:
        in.push_back(rng.Uniform(boundaries[0] - span, boundaries[kCount - 1] + span));
        break;
      default:
        in.push_back(rng.Uniform(boundaries[0], boundaries[kCount - 1]));
    }
  }
  std::vector<uint32_t> want(in.size());
  for (size_t l = 0; l < in.size(); ++l) {
    want[l] = uint32_t(std::lower_bound(boundaries, boundaries + kCount, in[l]) - boundaries);
  }
  TableOpArgs args{op, in.data()};
  args.bucket_table = &table;
  EXPECT_TRUE(BitsEqual(want, test.Run<uint32_t>(args, kGroup, in.size(), 0, kGroups)))
      << kLevels << " levels in " << kBins << " bins";
  const std::vector<uint8_t> want_bytes(want.begin(), want.end());
  // Through the caches and past them (at a cache line, where packs stream, and one byte on).
  for (const uint32_t per_lane : {4u, 8u, 16u}) {
    for (const uint32_t group : {1024u, 37u}) {
      for (const RowStore store : {RowStore::kCached, RowStore::kStream}) {
        for (const size_t offset : {0u, 1u}) {
          args.per_lane = per_lane;
          args.store = store;
          const uint32_t groups = uint32_t(in.size() / (per_lane * group));
          const size_t n = size_t{groups} * per_lane * group;
          EXPECT_TRUE(BitsEqual(std::vector<uint8_t>(want_bytes.begin(), want_bytes.begin() + n),
                                test.Run<uint8_t>(args, group, n, 0, groups, offset)))
              << "StoreBucketIndices, " << kLevels << " levels in " << kBins << " bins, "
              << per_lane << " a lane, group size " << group
              << (store == RowStore::kStream ? ", streamed" : "") << ", offset " << offset;
        }
      }
    }
  }
}

TEST_P(TableOpsTest, BinnedBucketIndexCountsTheBoundariesBelow) {
  ExpectBinnedBucketIndex<16, 32>(*this, TableOp::kBinned4In32, kTqBoundaries4, 22);
  ExpectBinnedBucketIndex<32, 64>(*this, TableOp::kBinned5In64, kTqBoundaries5, 18);
  ExpectBinnedBucketIndex<64, 128>(*this, TableOp::kBinned6In128, kTqBoundaries6, 19);
  ExpectBinnedBucketIndex<64, 256>(*this, TableOp::kBinned6In256, kTqBoundaries6, 20);
  ExpectBinnedBucketIndex<256, 512>(*this, TableOp::kBinned8In512, kTqBoundaries8, 21);
}

// Two boundaries in a bin (equal ones, or closer than the bins are wide) have no binned table.
TEST(BinnedBucketTableTest, RefusesTwoBoundariesInABin) {
  const float equal[3] = {-1.0f, 0.5f, 0.5f};
  EXPECT_THROW((MakeBinnedBucketTable<4, 64>(equal)), std::invalid_argument);
  float close[15];
  for (uint32_t i = 0; i < 15; ++i) close[i] = float(i);
  close[7] = std::nextafter(close[8], 0.0f);
  EXPECT_THROW((MakeBinnedBucketTable<16, 64>(close)), std::invalid_argument);
  close[7] = 7.0f;
  EXPECT_NO_THROW((MakeBinnedBucketTable<16, 64>(close)));
}

INSTANTIATE_TEST_SUITE_P(Targets, TableOpsTest, ::testing::ValuesIn(AvailableTargets()),
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
