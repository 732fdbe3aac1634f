// tgk's bf16 and f16 conversions (convert.h, convert-inl.h) against references written here
// from the IEEE rules with double arithmetic: every 16-bit pattern widened, every rounding
// boundary of the narrowings (each representable value, each tie, one f32 ulp either side of
// each tie), specials and 2^24 random f32 patterns; the scalar definitions must equal the
// references and every target (scalar lanes and each compiled Highway target, through a
// Queue) must equal the scalar definitions bit for bit.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "convert_test.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

#ifndef TGK_TESTS_CONVERT_TEST_ARGS_
#define TGK_TESTS_CONVERT_TEST_ARGS_
namespace tgk {

// What the test kernel does to each element; "bits" are u32 lanes holding a 16-bit pattern.
enum class ConvertOp : uint32_t {
  kWidenBF16,   // bits -> f32 through WidenBF16
  kWidenF16,    // bits -> f32 through WidenF16
  kNarrowBF16,  // f32 -> bits through NarrowBF16
  kNarrowF16,   // f32 -> bits through NarrowF16
  kRoundBF16,   // f32 -> f32 through RoundBF16
  kLoadBF16,    // bf16 buffer -> f32 through lane.load
  kLoadF16,     // f16 buffer -> f32 through lane.load
  kStoreBF16,   // f32 -> bf16 buffer through lane.store
  kStoreF16,    // f32 -> f16 buffer through lane.store
};

struct ConvertArgs {
  ConvertOp op;
  const void* in;
  void* out;
};

}  // namespace tgk
#endif  // TGK_TESTS_CONVERT_TEST_ARGS_

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// One lane per element: element group_id.x * group size + lane id.
struct ConvertTestKernel {
  ConvertArgs a;

  template <class T>
  const T* In(size_t i) const {
    return static_cast<const T*>(a.in) + i;
  }
  template <class T>
  T* Out(size_t i) const {
    return static_cast<T*>(a.out) + i;
  }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const size_t base = size_t{g.group_id().x} * g.size();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const size_t i = base + lane.first();
      switch (a.op) {
        case ConvertOp::kWidenBF16:
          lane.store(Out<float>(i), WidenBF16(lane.load(In<uint32_t>(i))));
          break;
        case ConvertOp::kWidenF16:
          lane.store(Out<float>(i), WidenF16(lane.load(In<uint32_t>(i))));
          break;
        case ConvertOp::kNarrowBF16:
          lane.store(Out<uint32_t>(i), NarrowBF16(lane.load(In<float>(i))));
          break;
        case ConvertOp::kNarrowF16:
          lane.store(Out<uint32_t>(i), NarrowF16(lane.load(In<float>(i))));
          break;
        case ConvertOp::kRoundBF16:
          lane.store(Out<float>(i), RoundBF16(lane.load(In<float>(i))));
          break;
        case ConvertOp::kLoadBF16:
          lane.store(Out<float>(i), lane.load(In<bf16>(i)));
          break;
        case ConvertOp::kLoadF16:
          lane.store(Out<float>(i), lane.load(In<f16>(i)));
          break;
        case ConvertOp::kStoreBF16:
          lane.store(Out<bf16>(i), lane.load(In<float>(i)));
          break;
        case ConvertOp::kStoreF16:
          lane.store(Out<f16>(i), lane.load(In<float>(i)));
          break;
      }
    });
  }
};

TGK_DEFINE_KERNEL_RUNNERS(ConvertTestKernel, ConvertArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tgk/convert.h"
#include "tgk/dtype.h"
#include "tgk/queue.h"
#include "tgk/target.h"

namespace tgk {

TGK_EXPORT_KERNEL(ConvertTestKernel, "convert_test")

namespace {

// ---- references: the IEEE rules, evaluated in double ---------------------------------------

// A binary floating-point format with 1 sign bit, then exponent bits, then mantissa bits.
struct Format {
  int exponent_bits;
  int mantissa_bits;

  int bias() const { return (1 << (exponent_bits - 1)) - 1; }
  int min_exponent() const { return 1 - bias(); }  // of the smallest normal
  int max_exponent() const { return bias(); }
  uint32_t sign_bit() const { return 1u << (exponent_bits + mantissa_bits); }
  uint32_t exponent_field(uint32_t h) const {
    return (h >> mantissa_bits) & ((1u << exponent_bits) - 1);
  }
  uint32_t mantissa_field(uint32_t h) const { return h & ((1u << mantissa_bits) - 1); }
  uint32_t infinity() const { return ((1u << exponent_bits) - 1) << mantissa_bits; }
  uint32_t quiet_bit() const { return 1u << (mantissa_bits - 1); }
  double max_finite() const {
    return std::ldexp(double((2u << mantissa_bits) - 1), max_exponent() - mantissa_bits);
  }
};
constexpr Format kBF16Format{8, 7};
constexpr Format kF16Format{5, 10};

// The value of pattern h read as a finite number (an all-ones exponent field with a zero
// mantissa reads as 2^(max exponent + 1), the first value past the largest finite one).
double Decode(const Format& format, uint32_t h) {
  const double sign = (h & format.sign_bit()) ? -1.0 : 1.0;
  const int exponent = int(format.exponent_field(h));
  const double mantissa = format.mantissa_field(h);
  if (exponent == 0) {
    return sign * std::ldexp(mantissa, format.min_exponent() - format.mantissa_bits);
  }
  return sign * std::ldexp(std::ldexp(1.0, format.mantissa_bits) + mantissa,
                           exponent - format.bias() - format.mantissa_bits);
}

// f32 bits of the exact widening of h. A NaN keeps its payload at the top of the f32
// mantissa and becomes quiet (f32 mantissa bit 22).
uint32_t RefWiden(const Format& format, uint32_t h) {
  const uint32_t sign = (h & format.sign_bit()) ? 0x80000000u : 0u;
  if (format.exponent_field(h) + 1 == (1u << format.exponent_bits)) {
    if (format.mantissa_field(h) == 0) return sign | 0x7F800000u;
    return sign | 0x7FC00000u | (format.mantissa_field(h) << (23 - format.mantissa_bits));
  }
  const double value = std::fabs(Decode(format, h));
  const float widened = float(value);
  EXPECT_EQ(double(widened), value) << "pattern " << h << " is not exact in f32";
  return sign | BitsOf(widened);
}

// The pattern nearest to x, ties to even; overflow (the rounded value, with unbounded exponent,
// above the largest finite one) gives infinity; a NaN keeps the top of its payload and becomes
// quiet.
uint32_t RefNarrow(const Format& format, float x) {
  const uint32_t sign = std::signbit(x) ? format.sign_bit() : 0u;
  if (std::isnan(x)) {
    const uint32_t payload = (BitsOf(x) & 0x7FFFFFu) >> (23 - format.mantissa_bits);
    return sign | format.infinity() | format.quiet_bit() | payload;
  }
  const double magnitude = std::fabs(double(x));
  if (std::isinf(magnitude)) return sign | format.infinity();
  if (magnitude == 0.0) return sign;

  // Round to an integer multiple of the quantum of x's binade (of the subnormal spacing below
  // the smallest normal), by the explicit rule rather than the FPU's rounding mode.
  const int quantum_exponent =
      std::max(std::ilogb(magnitude), format.min_exponent()) - format.mantissa_bits;
  const double scaled = std::ldexp(magnitude, -quantum_exponent);  // exact
  const double below = std::floor(scaled);
  const double fraction = scaled - below;
  const bool below_is_odd = std::fmod(below, 2.0) != 0.0;
  const double units = (fraction > 0.5 || (fraction == 0.5 && below_is_odd)) ? below + 1 : below;
  const double rounded = std::ldexp(units, quantum_exponent);

  if (rounded > format.max_finite()) return sign | format.infinity();
  if (rounded == 0.0) return sign;
  const int exponent = std::ilogb(rounded);
  if (exponent < format.min_exponent()) {
    return sign | uint32_t(std::ldexp(rounded, format.mantissa_bits - format.min_exponent()));
  }
  const uint32_t significand = uint32_t(std::ldexp(rounded, format.mantissa_bits - exponent));
  return sign | (uint32_t(exponent + format.bias()) << format.mantissa_bits) |
         (significand - (1u << format.mantissa_bits));
}

// ---- inputs -----------------------------------------------------------------------------

std::vector<uint32_t> AllPatterns() {
  std::vector<uint32_t> patterns(0x10000);
  for (uint32_t h = 0; h < patterns.size(); ++h) patterns[h] = h;
  return patterns;
}

void PushWithNeighbours(std::vector<float>& inputs, float x, int steps) {
  inputs.push_back(x);
  float down = x, up = x;
  for (int s = 0; s < steps; ++s) {
    down = std::nextafter(down, -std::numeric_limits<float>::infinity());
    up = std::nextafter(up, std::numeric_limits<float>::infinity());
    inputs.push_back(down);
    inputs.push_back(up);
  }
}

// The f32 inputs that probe every rounding decision of a narrowing to `format`: each
// representable value, the midpoint to its neighbour of larger magnitude (a tie; past the
// largest finite value, the overflow threshold) and one f32 ulp either side of it; then
// zeros, infinities, NaNs, f32 subnormals and the f16 range and subnormal boundaries.
std::vector<float> BoundaryInputs(const Format& format) {
  std::vector<float> inputs;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float value = FloatFromBits(RefWiden(format, h));
    inputs.push_back(value);
    if (!std::isfinite(value)) continue;
    const double midpoint = (double(value) + Decode(format, h + 1)) / 2;
    const float tie = float(midpoint);
    EXPECT_EQ(double(tie), midpoint);
    inputs.push_back(tie);
    inputs.push_back(std::nextafter(tie, 0.0f));
    inputs.push_back(
        std::nextafter(tie, std::copysign(std::numeric_limits<float>::infinity(), tie)));
  }

  const uint32_t kSpecials[] = {
      0x00000000, 0x80000000, 0x7F800000, 0xFF800000,              // zeros, infinities
      0x7F800001, 0x7F800100, 0x7F802000, 0x7F810000, 0x7FA00000,  // signalling NaNs
      0x7FBFFFFF, 0xFF800001, 0xFFBFE000,                          //
      0x7FC00000, 0x7FC00001, 0x7FD55555, 0x7FE01000, 0x7FFFFFFF,  // quiet NaNs
      0xFFC00000, 0xFFFFFFFF,                                      //
      0x00000001, 0x80000001, 0x00007FFF, 0x00008000, 0x00008001,  // f32 subnormals
      0x00018000, 0x00400000, 0x007FFFFF, 0x807FFFFF, 0x00800000,  // and FLT_MIN
      0x7F7FFFFF, 0xFF7FFFFF, 0x7F7F7FFF, 0x7F7F8000, 0x7F7F8001,  // FLT_MAX, bf16 overflow
  };
  for (uint32_t bits : kSpecials) inputs.push_back(FloatFromBits(bits));
  for (uint32_t bits = 1; bits < 0x00800000u; bits += 4099) {
    inputs.push_back(FloatFromBits(bits));
    inputs.push_back(FloatFromBits(bits | 0x80000000u));
  }
  // f16: the largest finite value, the overflow threshold, 2^16; the smallest normal, the
  // smallest subnormal, half of it (a tie to zero), one and a half of it (a tie to 2^-23), the
  // largest subnormal.
  const float kAnchors[] = {65504.0f, 65520.0f, 65536.0f, 0x1p-14f,
                            0x1p-24f, 0x1p-25f, 0x3p-25f, 0x1p-14f - 0x1p-24f};
  for (float anchor : kAnchors) {
    PushWithNeighbours(inputs, anchor, 64);
    PushWithNeighbours(inputs, -anchor, 64);
  }
  return inputs;
}

// 2^24 f32 bit patterns from a fixed seed.
std::vector<float> RandomInputs() {
  std::mt19937 random(20240611);
  std::vector<float> inputs(size_t{1} << 24);
  for (float& x : inputs) x = FloatFromBits(uint32_t(random()));
  return inputs;
}

// ---- running the kernel ------------------------------------------------------------------

// Runs `op` over `input` on `target`, in groups of 250 lanes (so that the last pack of every
// group is partial on the 16-, 8- and 4-lane targets).
template <class Out, class In>
std::vector<Out> RunOn(Target target, ConvertOp op, const std::vector<In>& input) {
  constexpr uint32_t kGroupSize = 250;
  const size_t groups = (input.size() + kGroupSize - 1) / kGroupSize;
  std::vector<In> in(groups * kGroupSize);
  std::copy(input.begin(), input.end(), in.begin());
  std::vector<Out> out(groups * kGroupSize);
  Queue queue(QueueOptions{.target = target});
  queue.dispatch(ConvertTestKernelEntry(), Dim3{uint32_t(groups)}, kGroupSize, ArenaSizes{},
                 ConvertArgs{op, in.data(), out.data()});
  queue.commit_and_wait();
  out.resize(input.size());
  return out;
}

uint32_t Bits(float v) { return BitsOf(v); }
uint32_t Bits(uint32_t v) { return v; }
uint32_t Bits(bf16 v) { return v.bits; }
uint32_t Bits(f16 v) { return v.bits; }

std::string Hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", v);
  return text;
}

// Expects actual[i] to have the bits of expected[i] for every i; names the first mismatches.
template <class T, class In>
void ExpectSameBits(const std::vector<T>& expected, const std::vector<T>& actual,
                    const std::vector<In>& input, const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  size_t mismatches = 0;
  std::string examples;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (Bits(expected[i]) == Bits(actual[i])) continue;
    if (++mismatches <= 8) {
      examples += "\n  input " + Hex(Bits(input[i])) + ": expected " + Hex(Bits(expected[i])) +
                  ", got " + Hex(Bits(actual[i]));
    }
  }
  EXPECT_EQ(mismatches, 0u) << what << " differs in " << mismatches << " of " << expected.size()
                            << " elements:" << examples;
}

template <class Out, class In, class F>
std::vector<Out> Map(const std::vector<In>& input, F f) {
  std::vector<Out> out(input.size());
  std::transform(input.begin(), input.end(), out.begin(), f);
  return out;
}

// The scalar definitions of convert.h, on the test kernel's element types.
float ScalarWidenBF16(uint32_t h) { return F32FromBF16(bf16{uint16_t(h)}); }
float ScalarWidenF16(uint32_t h) { return F32FromF16(f16{uint16_t(h)}); }
uint32_t ScalarNarrowBF16(float x) { return BF16FromF32(x).bits; }
uint32_t ScalarNarrowF16(float x) { return F16FromF32(x).bits; }

// ---- widening ----------------------------------------------------------------------------

TEST(ConvertTest, WideningEveryPatternMatchesReference) {
  const std::vector<uint32_t> patterns = AllPatterns();
  const auto widen_bf16 = [](uint32_t h) { return FloatFromBits(RefWiden(kBF16Format, h)); };
  const auto widen_f16 = [](uint32_t h) { return FloatFromBits(RefWiden(kF16Format, h)); };
  ExpectSameBits(Map<float>(patterns, widen_bf16), Map<float>(patterns, ScalarWidenBF16), patterns,
                 "F32FromBF16");
  ExpectSameBits(Map<float>(patterns, widen_f16), Map<float>(patterns, ScalarWidenF16), patterns,
                 "F32FromF16");

  // Spelled out: a NaN widens to a quiet NaN with its payload, a signalling one included.
  EXPECT_EQ(BitsOf(F32FromBF16(bf16{0x7F81})), 0x7FC10000u);
  EXPECT_EQ(BitsOf(F32FromBF16(bf16{0xFFBF})), 0xFFFF0000u);
  EXPECT_EQ(BitsOf(F32FromF16(f16{0x7C01})), 0x7FC02000u);
  EXPECT_EQ(BitsOf(F32FromF16(f16{0xFDFF})), 0xFFFFE000u);
  EXPECT_EQ(F32FromF16(f16{0x0001}), 0x1p-24f);
  EXPECT_EQ(F32FromF16(f16{0x7BFF}), 65504.0f);
  EXPECT_EQ(F32FromBF16(bf16{0x0001}), 0x1p-133f);
}

TEST(ConvertTest, EveryTargetWidensEveryPatternLikeScalar) {
  const std::vector<uint32_t> patterns = AllPatterns();
  std::vector<bf16> bf16_patterns(patterns.size());
  std::vector<f16> f16_patterns(patterns.size());
  for (size_t h = 0; h < patterns.size(); ++h) {
    bf16_patterns[h] = bf16{uint16_t(h)};
    f16_patterns[h] = f16{uint16_t(h)};
  }
  const std::vector<float> bf16_expected = Map<float>(patterns, ScalarWidenBF16);
  const std::vector<float> f16_expected = Map<float>(patterns, ScalarWidenF16);
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    ExpectSameBits(bf16_expected, RunOn<float>(target, ConvertOp::kWidenBF16, patterns), patterns,
                   "WidenBF16");
    ExpectSameBits(f16_expected, RunOn<float>(target, ConvertOp::kWidenF16, patterns), patterns,
                   "WidenF16");
    ExpectSameBits(bf16_expected, RunOn<float>(target, ConvertOp::kLoadBF16, bf16_patterns),
                   patterns, "load(bf16*)");
    ExpectSameBits(f16_expected, RunOn<float>(target, ConvertOp::kLoadF16, f16_patterns), patterns,
                   "load(f16*)");
  }
}

// ---- narrowing ---------------------------------------------------------------------------

TEST(ConvertTest, NarrowingAtEveryBoundaryMatchesReference) {
  const std::vector<float> bf16_inputs = BoundaryInputs(kBF16Format);
  ExpectSameBits(Map<uint32_t>(bf16_inputs, [](float x) { return RefNarrow(kBF16Format, x); }),
                 Map<uint32_t>(bf16_inputs, ScalarNarrowBF16), bf16_inputs, "BF16FromF32");
  const std::vector<float> f16_inputs = BoundaryInputs(kF16Format);
  ExpectSameBits(Map<uint32_t>(f16_inputs, [](float x) { return RefNarrow(kF16Format, x); }),
                 Map<uint32_t>(f16_inputs, ScalarNarrowF16), f16_inputs, "F16FromF32");
}

TEST(ConvertTest, NarrowingRandomPatternsMatchesReference) {
  const std::vector<float> inputs = RandomInputs();
  ExpectSameBits(Map<uint32_t>(inputs, [](float x) { return RefNarrow(kBF16Format, x); }),
                 Map<uint32_t>(inputs, ScalarNarrowBF16), inputs, "BF16FromF32");
  ExpectSameBits(Map<uint32_t>(inputs, [](float x) { return RefNarrow(kF16Format, x); }),
                 Map<uint32_t>(inputs, ScalarNarrowF16), inputs, "F16FromF32");
}

// Hand-computed cases: ties go to the even neighbour (Highway 1.0.3's DemoteTo would truncate
// 1.01171875 to 0x3F81), the f16 overflow threshold 65520 is a tie that goes to infinity, and
// 2^-25, half the smallest f16 subnormal, is a tie that goes to zero.
TEST(ConvertTest, NarrowingRoundsTiesToEvenOnEveryTarget) {
  struct Case {
    float x;
    uint32_t bf16_bits;
    uint32_t f16_bits;
  };
  const Case kCases[] = {
      {1.01171875f, 0x3F82, 0x3C0C},                 // bf16: tie 0x3F81 | 0x3F82 -> even
      {1.00390625f, 0x3F80, 0x3C04},                 // bf16: tie 0x3F80 | 0x3F81 -> even
      {FloatFromBits(0x3F808001u), 0x3F81, 0x3C04},  // just above that tie
      {FloatFromBits(0x3F817FFFu), 0x3F81, 0x3C0C},  // just below a tie
      {1.0f + 0x1p-11f, 0x3F80, 0x3C00},             // f16: tie 0x3C00 | 0x3C01 -> even
      {1.0f + 0x3p-11f, 0x3F80, 0x3C02},             // f16: tie 0x3C01 | 0x3C02 -> even
      {65504.0f, 0x4780, 0x7BFF},
      {65519.99609375f, 0x4780, 0x7BFF},  // just below the f16 overflow threshold
      {65520.0f, 0x4780, 0x7C00},         // the threshold: a tie, to infinity
      {-65520.0f, 0xC780, 0xFC00},
      {0x1p-25f, 0x3300, 0x0000},  // f16: tie 0 | 2^-24 -> 0
      {-0x1p-25f, 0xB300, 0x8000},
      {FloatFromBits(0x33000001u), 0x3300, 0x0001},  // just above it
      {0x3p-25f, 0x33C0, 0x0002},                    // f16: tie 2^-24 | 2^-23 -> even
      {0x1p-14f - 0x1p-25f, 0x3880, 0x0400},         // f16: tie largest subnormal | 2^-14
      {FloatFromBits(0x7F7F8000u), 0x7F80, 0x7C00},  // bf16 overflow threshold: tie to inf
      {FloatFromBits(0x7F7F7FFFu), 0x7F7F, 0x7C00},
      {FloatFromBits(0x00008000u), 0x0000, 0x0000},  // bf16 subnormal tie -> even (0)
      {FloatFromBits(0x00018000u), 0x0002, 0x0000},  // bf16 subnormal tie -> even (2)
      {FloatFromBits(0x7F800001u), 0x7FC0, 0x7E00},  // signalling NaN -> quiet
      {FloatFromBits(0xFFA02000u), 0xFFE0, 0xFF01},  // payload kept (its top bits)
  };
  std::vector<float> inputs;
  std::vector<uint32_t> bf16_expected, f16_expected;
  for (const Case& c : kCases) {
    inputs.push_back(c.x);
    bf16_expected.push_back(c.bf16_bits);
    f16_expected.push_back(c.f16_bits);
  }
  ExpectSameBits(bf16_expected, Map<uint32_t>(inputs, ScalarNarrowBF16), inputs, "BF16FromF32");
  ExpectSameBits(f16_expected, Map<uint32_t>(inputs, ScalarNarrowF16), inputs, "F16FromF32");
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    ExpectSameBits(bf16_expected, RunOn<uint32_t>(target, ConvertOp::kNarrowBF16, inputs), inputs,
                   "NarrowBF16");
    ExpectSameBits(f16_expected, RunOn<uint32_t>(target, ConvertOp::kNarrowF16, inputs), inputs,
                   "NarrowF16");
  }
}

TEST(ConvertTest, EveryTargetNarrowsLikeScalar) {
  for (const std::vector<float>& inputs :
       {BoundaryInputs(kBF16Format), BoundaryInputs(kF16Format), RandomInputs()}) {
    const std::vector<uint32_t> bf16_expected = Map<uint32_t>(inputs, ScalarNarrowBF16);
    const std::vector<uint32_t> f16_expected = Map<uint32_t>(inputs, ScalarNarrowF16);
    const std::vector<float> rounded_expected = Map<float>(inputs, RoundToBF16);
    for (Target target : AvailableTargets()) {
      SCOPED_TRACE(target.name());
      ExpectSameBits(bf16_expected, RunOn<uint32_t>(target, ConvertOp::kNarrowBF16, inputs), inputs,
                     "NarrowBF16");
      ExpectSameBits(f16_expected, RunOn<uint32_t>(target, ConvertOp::kNarrowF16, inputs), inputs,
                     "NarrowF16");
      ExpectSameBits(rounded_expected, RunOn<float>(target, ConvertOp::kRoundBF16, inputs), inputs,
                     "RoundBF16");
      ExpectSameBits(Map<bf16>(bf16_expected, [](uint32_t h) { return bf16{uint16_t(h)}; }),
                     RunOn<bf16>(target, ConvertOp::kStoreBF16, inputs), inputs, "store(bf16*)");
      ExpectSameBits(Map<f16>(f16_expected, [](uint32_t h) { return f16{uint16_t(h)}; }),
                     RunOn<f16>(target, ConvertOp::kStoreF16, inputs), inputs, "store(f16*)");
    }
  }
}

// RoundToBF16 is the value a bf16 store and reload gives: checked against the references.
TEST(ConvertTest, RoundToBF16IsNarrowThenWiden) {
  const std::vector<float> inputs = BoundaryInputs(kBF16Format);
  const auto reference = [](float x) {
    return FloatFromBits(RefWiden(kBF16Format, RefNarrow(kBF16Format, x)));
  };
  ExpectSameBits(Map<float>(inputs, reference), Map<float>(inputs, RoundToBF16), inputs,
                 "RoundToBF16");
}

// A 16-bit buffer loaded and stored back is unchanged, except that signalling NaNs come back
// quiet.
TEST(ConvertTest, LoadStoreRoundTripsEveryPattern) {
  const std::vector<uint32_t> patterns = AllPatterns();
  std::vector<bf16> bf16_patterns, bf16_expected;
  std::vector<f16> f16_patterns, f16_expected;
  for (uint32_t h : patterns) {
    bf16_patterns.push_back(bf16{uint16_t(h)});
    f16_patterns.push_back(f16{uint16_t(h)});
    const bool bf16_nan = (h & 0x7F80u) == 0x7F80u && (h & 0x7Fu) != 0;
    const bool f16_nan = (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0;
    bf16_expected.push_back(bf16{uint16_t(bf16_nan ? h | 0x40u : h)});
    f16_expected.push_back(f16{uint16_t(f16_nan ? h | 0x200u : h)});
  }
  for (Target target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    ExpectSameBits(bf16_expected,
                   RunOn<bf16>(target, ConvertOp::kStoreBF16,
                               RunOn<float>(target, ConvertOp::kLoadBF16, bf16_patterns)),
                   patterns, "bf16 load/store");
    ExpectSameBits(f16_expected,
                   RunOn<f16>(target, ConvertOp::kStoreF16,
                              RunOn<float>(target, ConvertOp::kLoadF16, f16_patterns)),
                   patterns, "f16 load/store");
  }
}

}  // namespace
}  // namespace tgk
#endif  // HWY_ONCE
