// tq_kv: the tables, the rotation scale, exact properties (zero vectors, nibble order) and the
// round-trip error levels of the spec against a double-precision model.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/tq_kv/tq_codebooks.h"
#include "kernels/tq_kv/tq_kv.h"
#include "kernels/tq_kv/tq_kv_test_support.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/view.h"

namespace tgk {
namespace {

using namespace tq_test;

template <size_t N>
void ExpectSortedAntisymmetric(const float (&t)[N], const char* name) {
  for (size_t i = 0; i + 1 < N; ++i) EXPECT_LT(t[i], t[i + 1]) << name << " at " << i;
  for (size_t i = 0; i < N; ++i) {
    EXPECT_EQ(std::bit_cast<uint32_t>(std::fabs(t[i])),
              std::bit_cast<uint32_t>(std::fabs(t[N - 1 - i])))
        << name << " at " << i;
    EXPECT_EQ(t[i], -t[N - 1 - i]) << name << " at " << i;
  }
}

TEST(TqKvTables, SortedAndExactlyAntisymmetric) {
  ExpectSortedAntisymmetric(kTqCodebook2, "C_2");
  ExpectSortedAntisymmetric(kTqCodebook3, "C_3");
  ExpectSortedAntisymmetric(kTqCodebook4, "C_4");
  ExpectSortedAntisymmetric(kTqCodebook5, "C_5");
  ExpectSortedAntisymmetric(kTqCodebook6, "C_6");
  ExpectSortedAntisymmetric(kTqCodebook8, "C_8");
  ExpectSortedAntisymmetric(kTqBoundaries4, "T_4");
  ExpectSortedAntisymmetric(kTqBoundaries5, "T_5");
  ExpectSortedAntisymmetric(kTqBoundaries6, "T_6");
  ExpectSortedAntisymmetric(kTqBoundaries8, "T_8");
  EXPECT_EQ(kTqBoundaries4[7], 0.0f);
  EXPECT_EQ(kTqCodebook8[0], -5.0652659f);
  EXPECT_EQ(kTqBoundaries8[254], 4.8744828f);
}

// The spec counts the boundary literals that differ from the binary32 midpoint of their levels,
// by at most one unit of the literals' 7th decimal plus one ulp: a transcription slip would
// change these.
template <size_t N>
std::vector<size_t> OffMidpoint(const float (&c)[N + 1], const float (&t)[N]) {
  std::vector<size_t> off;
  for (size_t i = 0; i < N; ++i) {
    const float mid = (c[i] + c[i + 1]) / 2.0f;
    if (mid != t[i]) {
      const double ulp = std::nextafter(std::fabs(t[i]), 8.0f) - std::fabs(t[i]);
      EXPECT_LE(std::fabs(double(mid) - double(t[i])), 1e-7 + ulp) << "boundary " << i;
      off.push_back(i);
    }
  }
  return off;
}

TEST(TqKvTables, BoundariesAreTheTabledLiterals) {
  EXPECT_EQ(OffMidpoint<15>(kTqCodebook4, kTqBoundaries4), (std::vector<size_t>{6, 8}));
  EXPECT_EQ(OffMidpoint<31>(kTqCodebook5, kTqBoundaries5).size(), 6u);
  EXPECT_EQ(OffMidpoint<63>(kTqCodebook6, kTqBoundaries6).size(), 26u);
  EXPECT_EQ(OffMidpoint<255>(kTqCodebook8, kTqBoundaries8).size(), 108u);
}

TEST(TqKvTables, SignTables) {
  EXPECT_EQ(std::memcmp(kTqSigns256, kTqSigns512, 32), 0);
  EXPECT_EQ(kTqSigns512[63], 0x85);
  for (size_t j = 0; j < 512; ++j) {
    EXPECT_EQ(kTqSigma512[j], reference::tq::Sigma(512, j));
    if (j < 256) {
      EXPECT_EQ(kTqSigma256[j], reference::tq::Sigma(256, j));
    }
  }
  // 0xa7 = 1010'0111: elements 0, 1, 2, 5, 7 negated.
  EXPECT_EQ(kTqSigma256[0], -1.0f);
  EXPECT_EQ(kTqSigma256[3], 1.0f);
  EXPECT_EQ(kTqSigma256[7], -1.0f);
}

TEST(TqKvRotationScale, NearestBinary32) {
  EXPECT_EQ(TqRotationScale(256), 0.0625f);
  EXPECT_EQ(std::bit_cast<uint32_t>(TqRotationScale(512)), 0x3D3504F3u);
  EXPECT_EQ(TqRotationScale(128), 0.088388346f);
  for (uint32_t d = 1; d <= 4096; ++d) {
    const long double exact = 1.0L / std::sqrt((long double)d);
    const float r = TqRotationScale(d);
    const float below = std::nextafter(r, 0.0f), above = std::nextafter(r, 1.0f);
    EXPECT_LE(std::fabs(r - exact), std::fabs(below - exact)) << d;
    EXPECT_LE(std::fabs(r - exact), std::fabs(above - exact)) << d;
    EXPECT_EQ(r, reference::tq::RD(d)) << d;
  }
}

// A zero vector: norms 0, every index idx_b(0) (the largest negative level), decoded to -0.
TEST(TqKvEncode, ZeroVectorEncodesToLargestNegativeLevelAndDecodesToMinusZero) {
  struct Case {
    uint32_t d, bits;
  };
  for (const Case c : {Case{256, 4}, Case{512, 4}, Case{64, 4}, Case{16, 4}, Case{256, 5},
                       Case{256, 6}, Case{256, 8}, Case{512, 5}, Case{512, 6}, Case{512, 8}}) {
    SCOPED_TRACE("D=" + std::to_string(c.d) + " bits=" + std::to_string(c.bits));
    const uint32_t nkv = 2, cap = 3;
    const std::vector<float> src(size_t{nkv} * c.d, 0.0f);
    CacheBuffers cache = MakeCache(nkv, cap, c.d, c.bits);
    std::fill(cache.norms.begin(), cache.norms.end(), 7.0f);
    Queue q;
    if (c.bits == 4) {
      HadamardQuantizeKv(
          q, {.num_kv_heads = nkv, .head_dim = c.d, .cache_capacity = cap, .write_pos = 1}, In(src),
          Out(cache.packed), Out(cache.norms));
    } else {
      HadamardQuantizeKvHb(q,
                           {.num_kv_heads = nkv,
                            .head_dim = c.d,
                            .cache_capacity = cap,
                            .write_pos = 1,
                            .codebook_bits = c.bits},
                           In(src), Out(cache.packed), Out(cache.norms));
    }
    q.commit_and_wait();
    const uint32_t zero_index = c.bits == 4 ? 7 : c.bits == 5 ? 15 : c.bits == 6 ? 31 : 127;
    const uint32_t npp = std::max(1u, c.d / 256);
    const size_t row_bytes = c.bits == 4 ? c.d / 2 : c.d;
    for (uint32_t h = 0; h < nkv; ++h) {
      const size_t row = size_t{h} * cap + 1;
      for (size_t i = 0; i < row_bytes; ++i) {
        ASSERT_EQ(cache.packed[row * row_bytes + i], c.bits == 4 ? zero_index * 0x11 : zero_index);
      }
      for (uint32_t b = 0; b < npp; ++b) {
        EXPECT_EQ(std::bit_cast<uint32_t>(cache.norms[row * npp + b]), 0u);
      }
    }
    std::vector<float> dst(size_t{nkv} * c.d, 1.0f);
    if (c.bits == 4) {
      TqDequantizeKv(q,
                     {.num_kv_heads = nkv, .head_dim = c.d, .cache_capacity = cap, .read_pos = 1},
                     In(cache.packed), In(cache.norms), Out(dst));
    } else {
      TqDequantizeHbKv(q,
                       {.num_kv_heads = nkv,
                        .head_dim = c.d,
                        .cache_capacity = cap,
                        .read_pos = 1,
                        .codebook_bits = c.bits},
                       In(cache.packed), In(cache.norms), Out(dst));
    }
    q.commit_and_wait();
    for (const float v : dst) ASSERT_EQ(std::bit_cast<uint32_t>(v), 0x80000000u);
  }
}

// Byte 0x21 holds element 0 in its low nibble (index 1) and element 1 in its high one (2).
TEST(TqKvDequantize, NibbleOrder) {
  std::vector<uint8_t> packed(8, 0x00);
  packed[0] = 0x21;
  packed[7] = 0xF0;
  const std::vector<float> norms{4.0f};
  std::vector<float> dst(16);
  Queue q;
  TqDequantizeKv(q, {.num_kv_heads = 1, .head_dim = 16, .cache_capacity = 1}, In(packed), In(norms),
                 Out(dst));
  q.commit_and_wait();
  const float sn = 4.0f * 0.25f;  // r_16 = 1/4
  EXPECT_EQ(dst[0], kTqCodebook4[1] * sn);
  EXPECT_EQ(dst[1], kTqCodebook4[2] * sn);
  EXPECT_EQ(dst[2], kTqCodebook4[0] * sn);
  EXPECT_EQ(dst[14], kTqCodebook4[0] * sn);
  EXPECT_EQ(dst[15], kTqCodebook4[15] * sn);
}

// The spec in double precision, the model the tabled error levels of section 4 come from (sf = 1):
// rotation, norms, scale, decode and inverse rotation in double, indices by the tabled
// boundaries. Returns ‖x − x̂‖² / ‖x‖².
double ModelRelativeError(const float* x, uint32_t d, uint32_t bits) {
  const auto fwht = [](std::vector<double>& y) {
    for (size_t s = 1; s < y.size(); s *= 2) {
      for (size_t j = 0; j < y.size(); ++j) {
        if (j & s) continue;
        const double a = y[j], b = y[j + s];
        y[j] = a + b;
        y[j + s] = a - b;
      }
    }
    for (double& v : y) v /= std::sqrt(double(y.size()));
  };
  std::vector<double> y(d);
  for (size_t j = 0; j < d; ++j) y[j] = double(x[j]) * reference::tq::Sigma(d, j);
  fwht(y);
  const TqTable table = TqTableFor(bits);
  const uint32_t blocks = d / 256;
  std::vector<double> decoded(d);
  for (uint32_t b = 0; b < blocks; ++b) {
    const size_t first = d == 256 ? 0 : 256 * b, count = d == 256 ? 256 : 256;
    double sum = 0;
    for (size_t j = first; j < first + count; ++j) sum += y[j] * y[j];
    // D = 256: the L2 norm, z = y·√256/n, ŷ = C·n/16; D = 512: the block RMS, z = y/n, ŷ = C·n.
    const double n = d == 256 ? std::sqrt(sum) : std::sqrt(sum / 256);
    const double scale = n > 1e-10 ? (d == 256 ? 16.0 : 1.0) / n : 0.0;
    const double sn = d == 256 ? n / 16.0 : n;
    for (size_t j = first; j < first + count; ++j) {
      uint32_t q = 0;
      for (uint32_t i = 0; i + 1 < table.levels; ++i)
        q += y[j] * scale > double(table.boundaries[i]);
      decoded[j] = double(table.codebook[q]) * sn;
    }
  }
  fwht(decoded);
  double err = 0, norm = 0;
  for (size_t j = 0; j < d; ++j) {
    const double back = decoded[j] * reference::tq::Sigma(d, j);
    err += (double(x[j]) - back) * (double(x[j]) - back);
    norm += double(x[j]) * x[j];
  }
  return err / norm;
}

// Spec section 4: ‖x − x̂‖² / ‖x‖² over 40 N(0,1) vectors (sf = 1) through encoder, dequantiser
// and inverse rotation. The mean is within 10 % of the tabled mean. The tabled max is one
// sample's: the max of 40 vectors is set by the sample's largest |z| (clipped past the outer
// level) and spreads widely with the seed (4-bit, D = 256: 0.0117 to 0.0193 over 20 seeds, vs
// 0.0138 tabled), so mean and max are held within 0.1 % of the double-precision model on the
// same vectors instead.
TEST(TqKvRoundTrip, ErrorLevels) {
  struct Level {
    uint32_t d, bits;
    double mean;
  };
  const Level levels[] = {
      {256, 4, 1.01e-2}, {256, 5, 2.41e-3}, {256, 6, 6.41e-4}, {256, 8, 6.34e-5},
      {512, 4, 9.43e-3}, {512, 5, 2.46e-3}, {512, 6, 6.56e-4}, {512, 8, 6.30e-5},
  };
  constexpr uint32_t kVectors = 40;
  Rng rng(9);
  for (const Level& level : levels) {
    const uint32_t d = level.d, bits = level.bits;
    SCOPED_TRACE("D=" + std::to_string(d) + " bits=" + std::to_string(bits));
    // The 40 vectors as 40 heads of one token, cache of one row.
    const std::vector<float> x = Normals(rng, size_t{kVectors} * d);
    CacheBuffers cache = MakeCache(kVectors, 1, d, bits);
    std::vector<float> rotated(x.size()), back(x.size());
    Queue q;
    if (bits == 4) {
      HadamardQuantizeKv(q, {.num_kv_heads = kVectors, .head_dim = d, .cache_capacity = 1}, In(x),
                         Out(cache.packed), Out(cache.norms));
      q.memory_barrier();
      TqDequantizeKv(q, {.num_kv_heads = kVectors, .head_dim = d, .cache_capacity = 1},
                     In(cache.packed), In(cache.norms), Out(rotated));
    } else {
      HadamardQuantizeKvHb(
          q, {.num_kv_heads = kVectors, .head_dim = d, .cache_capacity = 1, .codebook_bits = bits},
          In(x), Out(cache.packed), Out(cache.norms));
      q.memory_barrier();
      TqDequantizeHbKvSeq(q,
                          {.num_kv_heads = kVectors,
                           .head_dim = d,
                           .cache_capacity = 1,
                           .n_tokens = 1,
                           .codebook_bits = bits},
                          In(cache.packed), In(cache.norms), Out(rotated));
    }
    q.memory_barrier();
    TqInverseRotate(q, {.rows = kVectors, .head_dim = d}, In(rotated), Out(back));
    q.commit_and_wait();
    double sum = 0, worst = 0, model_sum = 0, model_worst = 0;
    for (uint32_t v = 0; v < kVectors; ++v) {
      double err = 0, norm = 0;
      for (size_t j = 0; j < d; ++j) {
        const double a = x[size_t{v} * d + j], b = back[size_t{v} * d + j];
        err += (a - b) * (a - b);
        norm += a * a;
      }
      sum += err / norm;
      worst = std::max(worst, err / norm);
      const double model = ModelRelativeError(x.data() + size_t{v} * d, d, bits);
      model_sum += model;
      model_worst = std::max(model_worst, model);
    }
    EXPECT_NEAR(sum / kVectors, level.mean, 0.10 * level.mean);
    EXPECT_NEAR(sum, model_sum, 1e-3 * model_sum);
    EXPECT_NEAR(worst, model_worst, 1e-3 * model_worst);
  }
}

// The fallback has no tabled levels; its 4-bit error is the same Lloyd-Max distortion.
TEST(TqKvRoundTrip, FallbackErrorLevel) {
  Rng rng(10);
  for (const uint32_t d : {64u, 128u}) {
    const uint32_t n = 40;
    const std::vector<float> x = Normals(rng, size_t{n} * d);
    CacheBuffers cache = MakeCache(n, 1, d, 4);
    std::vector<float> rotated(x.size()), back(x.size());
    Queue q;
    HadamardQuantizeKv(q, {.num_kv_heads = n, .head_dim = d, .cache_capacity = 1}, In(x),
                       Out(cache.packed), Out(cache.norms));
    q.memory_barrier();
    TqDequantizeKv(q, {.num_kv_heads = n, .head_dim = d, .cache_capacity = 1}, In(cache.packed),
                   In(cache.norms), Out(rotated));
    q.memory_barrier();
    TqInverseRotate(q, {.rows = n, .head_dim = d}, In(rotated), Out(back));
    q.commit_and_wait();
    double err = 0, norm = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      err += (double(x[i]) - back[i]) * (double(x[i]) - back[i]);
      norm += double(x[i]) * x[i];
    }
    EXPECT_GT(err / norm, 0.008) << d;
    EXPECT_LT(err / norm, 0.012) << d;
  }
}

}  // namespace
}  // namespace tgk
