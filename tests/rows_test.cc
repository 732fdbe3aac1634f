// The row and column operations of tgk/rows-inl.h (StageColumns, StoreColumns, WidenRow,
// LoadBF16Bits): the
// scalar lanes must give what the definitions in that header say (checked here against plain
// loops) and every Highway target the scalar lanes' bits, with partial packs, ragged column
// counts and rows past `valid`; the scalar run is also checked for races.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "rows_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <type_traits>

#include "tgk/group-inl.h"
#include "tgk/rows-inl.h"

#ifndef TGK_TESTS_ROWS_TEST_ARGS_
#define TGK_TESTS_ROWS_TEST_ARGS_
#include <cstddef>
#include <cstdint>

#include "tgk/dtype.h"

namespace tgk {

// One group of kRowsTestLanes lanes (the last pack partial on every pack width), lane k owning
// row k of a kRowsTestLanes × stride tile; rows at or past `valid_rows` are not valid.
inline constexpr uint32_t kRowsTestLanes = 37;

struct RowsArgs {
  bool bf16_in;   // src is bf16 (else f32)
  bool bf16_out;  // rows_out is bf16 (else f32)
  uint32_t columns;
  uint32_t stride;  // of src and rows_out, in elements
  uint32_t valid_rows;
  const void* src;
  float* staged;   // [columns][kRowsTestLanes]: the arena after StageColumns
  void* rows_out;  // StoreColumns of the staged arena
  float* widened;  // [kRowsTestLanes][stride]: WidenRow of the lane's bf16 row, lanes 0, 16, 32
  float* bits;     // [columns][kRowsTestLanes]: LoadBF16Bits from src + column, valid_rows lanes
};

}  // namespace tgk
#endif  // TGK_TESTS_ROWS_TEST_ARGS_

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

struct RowsTestKernel {
  RowsArgs a;

  template <class Lane, class Arena, class In, class Out>
  HWY_INLINE void Run(const Lane& lane, const Arena& arena, const In* src, Out* out) const {
    const uint32_t first = lane.first();
    const uint32_t valid = first < a.valid_rows ? a.valid_rows - first : 0;
    StageColumns(lane, src + size_t{first} * a.stride, a.stride, a.columns, valid, arena,
                 kRowsTestLanes);
    for (size_t c = 0; c < a.columns; ++c) {
      const size_t i = c * kRowsTestLanes + first;
      lane.store(a.staged + i, lane.load(arena, i));
    }
    StoreColumns(lane, arena, kRowsTestLanes, a.columns, valid, out + size_t{first} * a.stride,
                 a.stride);
    if constexpr (std::is_same_v<In, bf16>) {
      if (first % 16 == 0) {
        WidenRow(lane, src + size_t{first} * a.stride, a.columns,
                 a.widened + size_t{first} * a.stride);
      }
      for (size_t c = 0; c < a.columns; ++c) {
        lane.store(a.bits + c * kRowsTestLanes + first, LoadBF16Bits(lane, src + c + first, valid));
      }
    }
  }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const auto arena = g.template arena<float>(0);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      if (a.bf16_in) {
        const auto* src = static_cast<const bf16*>(a.src);
        if (a.bf16_out) return Run(lane, arena, src, static_cast<bf16*>(a.rows_out));
        return Run(lane, arena, src, static_cast<float*>(a.rows_out));
      }
      const auto* src = static_cast<const float*>(a.src);
      if (a.bf16_out) return Run(lane, arena, src, static_cast<bf16*>(a.rows_out));
      Run(lane, arena, src, static_cast<float*>(a.rows_out));
    });
  }
};

TGK_DEFINE_KERNEL_RUNNERS(RowsTestKernel, RowsArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <type_traits>
#include <vector>

#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/poison.h"
#include "testing/random.h"
#include "tgk/convert.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {

TGK_EXPORT_KERNEL(RowsTestKernel, "rows_test")

namespace {

struct Outputs {
  std::vector<float> staged;
  std::vector<float> rows_f32;
  std::vector<bf16> rows_bf16;
  std::vector<float> widened;
  std::vector<float> bits;
};

struct Case {
  bool bf16_in, bf16_out;
  uint32_t columns, stride, valid_rows;
};

template <class In>
Outputs Run(QueueOptions options, const Case& c, const std::vector<In>& src) {
  Outputs o;
  o.staged = test::Poisoned<float>(size_t{c.columns} * kRowsTestLanes);
  o.rows_f32 = test::Poisoned<float>(size_t{c.stride} * kRowsTestLanes);
  o.rows_bf16 = test::Poisoned<bf16>(size_t{c.stride} * kRowsTestLanes);
  o.widened = test::Poisoned<float>(size_t{c.stride} * kRowsTestLanes);
  o.bits = test::Poisoned<float>(size_t{c.columns} * kRowsTestLanes);
  void* rows_out = c.bf16_out ? static_cast<void*>(o.rows_bf16.data()) : o.rows_f32.data();
  Queue queue(options);
  queue.dispatch(RowsTestKernelEntry(), Dim3{1}, kRowsTestLanes,
                 ArenaSizes{size_t{c.columns} * kRowsTestLanes * sizeof(float)},
                 RowsArgs{c.bf16_in, c.bf16_out, c.columns, c.stride, c.valid_rows, src.data(),
                          o.staged.data(), rows_out, o.widened.data(), o.bits.data()});
  queue.commit_and_wait();
  return o;
}

float ToF32(float x) { return x; }
float ToF32(bf16 x) { return F32FromBF16(x); }

// The definitions of rows-inl.h as plain loops.
template <class In>
Outputs Expected(const Case& c, const std::vector<In>& src) {
  Outputs o;
  o.staged = test::Poisoned<float>(size_t{c.columns} * kRowsTestLanes);
  o.rows_f32 = test::Poisoned<float>(size_t{c.stride} * kRowsTestLanes);
  o.rows_bf16 = test::Poisoned<bf16>(size_t{c.stride} * kRowsTestLanes);
  o.widened = test::Poisoned<float>(size_t{c.stride} * kRowsTestLanes);
  o.bits = test::Poisoned<float>(size_t{c.columns} * kRowsTestLanes);
  for (size_t k = 0; k < kRowsTestLanes; ++k) {
    for (size_t col = 0; col < c.columns; ++col) {
      const size_t i = k * c.stride + col;
      const float value = k < c.valid_rows ? ToF32(src[i]) : 0.0f;
      o.staged[col * kRowsTestLanes + k] = value;
      if (k < c.valid_rows) {
        if (c.bf16_out) {
          o.rows_bf16[i] = BF16FromF32(value);
        } else {
          o.rows_f32[i] = value;
        }
      }
      if constexpr (std::is_same_v<In, bf16>) {
        if (k % 16 == 0) o.widened[i] = FloatFromBits(uint32_t{src[i].bits} << 16);
        // Lane k from src + col; the lanes past valid_rows read nothing and give 0.
        o.bits[col * kRowsTestLanes + k] =
            k < c.valid_rows ? FloatFromBits(uint32_t{src[col + k].bits} << 16) : 0.0f;
      }
    }
  }
  return o;
}

void ExpectSame(const Outputs& want, const Outputs& got) {
  EXPECT_TRUE(test::BitsEqual(want.staged, got.staged)) << "staged columns";
  EXPECT_TRUE(test::BitsEqual(want.rows_f32, got.rows_f32)) << "f32 rows";
  EXPECT_TRUE(test::BitsEqual(want.rows_bf16, got.rows_bf16)) << "bf16 rows";
  EXPECT_TRUE(test::BitsEqual(want.widened, got.widened)) << "widened rows";
  EXPECT_TRUE(test::BitsEqual(want.bits, got.bits)) << "LoadBF16Bits";
}

class RowsTest : public ::testing::TestWithParam<test::Config> {};

template <class In>
void CheckCase(const test::Config& config, const Case& c) {
  SCOPED_TRACE(::testing::Message() << "columns " << c.columns << ", valid rows " << c.valid_rows
                                    << ", bf16 in " << c.bf16_in << ", bf16 out " << c.bf16_out);
  test::Random random(c.columns * 1000 + c.valid_rows);
  // Values with low mantissa bits set, so that the bf16 narrowing rounds.
  auto src = random.Vector<In>(size_t{c.stride} * kRowsTestLanes, test::Normal(0, 3));
  // Specials, a signalling NaN among them (StageColumns quiets it, WidenRow keeps it).
  if constexpr (std::is_same_v<In, bf16>) {
    const uint16_t specials[] = {0x7F81, 0xFFC1, 0x7F80, 0xFF80, 0x8000, 0x0001};
    for (size_t i = 0; i < src.size(); i += 7) src[i] = bf16{specials[(i / 7) % 6]};
  }
  const Outputs want = Expected(c, src);
  ExpectSame(want, Run(QueueOptions{.target = Target::Scalar(), .check_races = true}, c, src));
  ExpectSame(want, Run(config.options(), c, src));
}

TEST_P(RowsTest, MatchesDefinitions) {
  for (const uint32_t columns : {1u, 5u, 16u, 21u, 64u}) {
    for (const uint32_t valid_rows : {0u, 1u, 9u, 20u, 37u}) {
      const uint32_t stride = columns + 3;
      CheckCase<float>(GetParam(), {false, false, columns, stride, valid_rows});
      CheckCase<float>(GetParam(), {false, true, columns, stride, valid_rows});
      CheckCase<bf16>(GetParam(), {true, false, columns, stride, valid_rows});
    }
  }
}

TGK_INSTANTIATE_CONFIGS(RowsTest);

}  // namespace
}  // namespace tgk
#endif  // HWY_ONCE
