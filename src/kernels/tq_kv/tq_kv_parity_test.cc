// tq_kv: every entry point (encoders, dequantisers, inverse rotation) on every target and
// thread count against the plain reference (tq_kv_reference.cc), bit for bit, its outputs
// poisoned before each run (so the bytes it must not write are checked too).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "kernels/tq_kv/tq_codebooks.h"
#include "kernels/tq_kv/tq_kv.h"
#include "kernels/tq_kv/tq_kv_args.h"
#include "kernels/tq_kv/tq_kv_test_support.h"
#include "testing/aligned.h"
#include "testing/compare.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {
namespace {

using namespace tq_test;

class TqKvParity : public ::testing::TestWithParam<test::Config> {};

TEST_P(TqKvParity, FastAndHigherBitEncodersMatchTheReference) {
  Rng rng(1);
  for (int c = 0; c < 24; ++c) {
    const uint32_t d = rng.Pick<uint32_t>({256, 512});
    const uint32_t bits = rng.Pick<uint32_t>({4, 5, 6, 8});
    // Head counts that make encoder groups of 1, 2, 4 and 8 heads (TqEncodeHeadsPerGroup).
    const uint32_t nkv = rng.Pick<uint32_t>({1, 2, 3, 4, 6, 8, 12, 16}), cap = 1 + rng.Below(9);
    const bool sliding = rng.Below(2) == 1;
    const uint32_t write_pos = sliding ? rng.Below(4 * cap) : rng.Below(cap);  // ring wrap
    const float sf = rng.Pick<float>({1.0f, 1.0f, 16.0f, 22.627f});
    std::vector<float> src;
    for (uint32_t h = 0; h < nkv; ++h) {
      const auto v = TestVector(rng, d);
      src.insert(src.end(), v.begin(), v.end());
    }
    CacheBuffers cache = MakeCache(nkv, cap, d, bits);
    const std::string what = "D=" + std::to_string(d) + " bits=" + std::to_string(bits) +
                             " nkv=" + std::to_string(nkv) + " cap=" + std::to_string(cap) +
                             " write_pos=" + std::to_string(write_pos) +
                             (sliding ? " sliding" : "") + " sf=" + std::to_string(sf);
    SCOPED_TRACE(what);
    const auto encode = [&](Queue& q) {
      if (bits == 4) {
        HadamardQuantizeKv(q,
                           {.num_kv_heads = nkv,
                            .head_dim = d,
                            .cache_capacity = cap,
                            .write_pos = write_pos,
                            .is_sliding = sliding,
                            .scale_factor_d512 = sf},
                           In(src), Out(cache.packed), Out(cache.norms));
      } else {
        HadamardQuantizeKvHb(q,
                             {.num_kv_heads = nkv,
                              .head_dim = d,
                              .cache_capacity = cap,
                              .write_pos = write_pos,
                              .is_sliding = sliding,
                              .scale_factor_d512 = sf,
                              .codebook_bits = bits},
                             In(src), Out(cache.packed), Out(cache.norms));
      }
    };
    RunOn(GetParam(), cache.outputs(), encode);
    const uint64_t row = sliding ? write_pos % cap : write_pos;
    ExpectSameCache(cache, ExpectedCache(src, nkv, cap, d, bits, sf, {row}), what);
    ExpectNoRace(GetParam(), encode);
  }
}

TEST_P(TqKvParity, FallbackEncoderMatchesTheReference) {
  Rng rng(2);
  for (const uint32_t d : {2u, 4u, 8u, 16u, 32u, 64u, 128u, 1024u}) {
    for (int c = 0; c < 2; ++c) {
      const uint32_t nkv = 1 + rng.Below(3), cap = 1 + rng.Below(5);
      const bool sliding = rng.Below(2) == 1;
      const uint32_t write_pos = sliding ? rng.Below(3 * cap) : rng.Below(cap);
      const std::vector<float> src = TestVector(rng, size_t{nkv} * d);
      CacheBuffers cache = MakeCache(nkv, cap, d, 4);
      const std::string what = "D=" + std::to_string(d) + " nkv=" + std::to_string(nkv) +
                               " cap=" + std::to_string(cap) +
                               " write_pos=" + std::to_string(write_pos);
      SCOPED_TRACE(what);
      const HadamardQuantizeKvParams params{.num_kv_heads = nkv,
                                            .head_dim = d,
                                            .cache_capacity = cap,
                                            .write_pos = write_pos,
                                            .is_sliding = sliding};
      const auto encode = [&](Queue& q) {
        HadamardQuantizeKv(q, params, In(src), Out(cache.packed), Out(cache.norms));
      };
      RunOn(GetParam(), cache.outputs(), encode);
      const uint64_t row = sliding ? write_pos % cap : write_pos;
      // D = 1024 has npp = 4 norm slots per row but the fallback writes one, at h·cap + p.
      CacheBuffers want = ExpectedCache(src, nkv, cap, d, 4, 1.0f, {row});
      ExpectSameCache(cache, want, what);
      ExpectNoRace(GetParam(), encode);
    }
  }
}

TEST_P(TqKvParity, SequenceEncoderMatchesTheReferenceAndPerTokenDispatches) {
  Rng rng(3);
  for (int c = 0; c < 10; ++c) {
    const uint32_t d = rng.Pick<uint32_t>({16, 64, 256, 512});
    const uint32_t nkv = rng.Pick<uint32_t>({1, 2, 3, 4, 8}), cap = 1 + rng.Below(6);
    const bool sliding = c % 2 == 1;
    const uint32_t n_tokens = 1 + rng.Below(sliding ? 2 * cap + 2 : cap);  // wraps when sliding
    const uint32_t start = sliding ? rng.Below(2 * cap) : rng.Below(cap - n_tokens + 1);
    const uint32_t offset = rng.Below(3);
    const float sf = rng.Pick<float>({1.0f, 16.0f});
    const std::vector<float> src = TestVector(rng, size_t{offset + n_tokens} * nkv * d);
    const std::string what = "D=" + std::to_string(d) + " nkv=" + std::to_string(nkv) +
                             " cap=" + std::to_string(cap) + " start=" + std::to_string(start) +
                             " n_tokens=" + std::to_string(n_tokens) + (sliding ? " sliding" : "");
    SCOPED_TRACE(what);
    const HadamardQuantizeKvSeqParams params{.num_kv_heads = nkv,
                                             .head_dim = d,
                                             .cache_capacity = cap,
                                             .write_pos_start = start,
                                             .n_tokens = n_tokens,
                                             .src_tok_offset = offset,
                                             .is_sliding = sliding,
                                             .scale_factor_d512 = sf};
    CacheBuffers cache = MakeCache(nkv, cap, d, 4);
    RunOn(GetParam(), cache.outputs(), [&](Queue& q) {
      HadamardQuantizeKvSeq(q, params, In(src), Out(cache.packed), Out(cache.norms));
    });
    ExpectSequenceCache(GetParam(), params, src, cache, what);
  }
}

// tgk's 5/6/8-bit sequence encoder is n_tokens HadamardQuantizeKvHb calls in order: every bits
// and D, src_tok_offset != 0, global caches and sliding ones given more tokens than rows, whose
// positions wrap.
TEST_P(TqKvParity, HigherBitSequenceEncoderMatchesTheReferenceAndPerTokenDispatches) {
  Rng rng(9);
  for (const uint32_t bits : {5u, 6u, 8u}) {
    for (const uint32_t d : {256u, 512u}) {
      for (const bool sliding : {false, true}) {
        const uint32_t nkv = rng.Pick<uint32_t>({1, 2, 3, 4, 8}), cap = 2 + rng.Below(5);
        const uint32_t n_tokens =
            sliding ? cap + 1 + rng.Below(cap + 2) : 1 + rng.Below(cap);  // > cap when sliding
        const uint32_t start = sliding ? rng.Below(2 * cap) : rng.Below(cap - n_tokens + 1);
        const uint32_t offset = 1 + rng.Below(3);
        const float sf = rng.Pick<float>({1.0f, 16.0f, 22.627f});
        const std::vector<float> src = TestVector(rng, size_t{offset + n_tokens} * nkv * d);
        const std::string what = "D=" + std::to_string(d) + " bits=" + std::to_string(bits) +
                                 " nkv=" + std::to_string(nkv) + " cap=" + std::to_string(cap) +
                                 " start=" + std::to_string(start) +
                                 " n_tokens=" + std::to_string(n_tokens) +
                                 " offset=" + std::to_string(offset) + (sliding ? " sliding" : "");
        SCOPED_TRACE(what);
        const HadamardQuantizeKvHbSeqParams params{.num_kv_heads = nkv,
                                                   .head_dim = d,
                                                   .cache_capacity = cap,
                                                   .write_pos_start = start,
                                                   .n_tokens = n_tokens,
                                                   .src_tok_offset = offset,
                                                   .is_sliding = sliding,
                                                   .scale_factor_d512 = sf,
                                                   .codebook_bits = bits};
        CacheBuffers cache = MakeCache(nkv, cap, d, bits);
        const auto encode = [&](Queue& q) {
          HadamardQuantizeKvHbSeq(q, params, In(src), Out(cache.packed), Out(cache.norms));
        };
        RunOn(GetParam(), cache.outputs(), encode);
        ExpectSequenceCache(GetParam(), params, src, cache, what);
        ExpectNoRace(GetParam(), encode);
      }
    }
  }
}

// One token of the sequence form is the per-token encoder bit for bit, at any row of a global
// or (wrapping) sliding cache.
TEST_P(TqKvParity, HigherBitSequenceEncoderOfOneTokenIsThePerTokenEncoder) {
  Rng rng(10);
  for (const uint32_t bits : {5u, 6u, 8u}) {
    for (const uint32_t d : {256u, 512u}) {
      const uint32_t nkv = rng.Pick<uint32_t>({1, 2, 6}), cap = 1 + rng.Below(5);
      const bool sliding = rng.Below(2) == 1;
      const uint32_t pos = sliding ? rng.Below(3 * cap) : rng.Below(cap);
      const float sf = rng.Pick<float>({1.0f, 16.0f});
      const std::vector<float> src = TestVector(rng, size_t{nkv} * d);
      SCOPED_TRACE("D=" + std::to_string(d) + " bits=" + std::to_string(bits) +
                   " pos=" + std::to_string(pos) + (sliding ? " sliding" : ""));
      CacheBuffers seq = MakeCache(nkv, cap, d, bits), one = MakeCache(nkv, cap, d, bits);
      RunOn(GetParam(), seq.outputs(), [&](Queue& q) {
        HadamardQuantizeKvHbSeq(q,
                                {.num_kv_heads = nkv,
                                 .head_dim = d,
                                 .cache_capacity = cap,
                                 .write_pos_start = pos,
                                 .n_tokens = 1,
                                 .is_sliding = sliding,
                                 .scale_factor_d512 = sf,
                                 .codebook_bits = bits},
                                In(src), Out(seq.packed), Out(seq.norms));
      });
      RunOn(GetParam(), one.outputs(), [&](Queue& q) {
        HadamardQuantizeKvHb(q,
                             {.num_kv_heads = nkv,
                              .head_dim = d,
                              .cache_capacity = cap,
                              .write_pos = pos,
                              .is_sliding = sliding,
                              .scale_factor_d512 = sf,
                              .codebook_bits = bits},
                             In(src), Out(one.packed), Out(one.norms));
      });
      ExpectSameCache(seq, one, "n_tokens=1");
    }
  }
}

// A NaN compares false against every boundary, and its norm is NaN. The fast encoder scales by
// inv = 0 and keeps the NaN (index 0); the fallback replaces u by 0 when !(n > 1e-10) (index 7).
TEST_P(TqKvParity, NaNInput) {
  for (const uint32_t d : {256u, 512u, 32u}) {
    SCOPED_TRACE("D=" + std::to_string(d));
    std::vector<float> src(d, 1.0f);
    src[3] = std::numeric_limits<float>::quiet_NaN();
    const uint8_t expected = d == 32 ? 0x77 : 0x00;
    CacheBuffers cache = MakeCache(1, 1, d, 4);
    RunOn(GetParam(), cache.outputs(), [&](Queue& q) {
      HadamardQuantizeKv(q, {.num_kv_heads = 1, .head_dim = d, .cache_capacity = 1}, In(src),
                         Out(cache.packed), Out(cache.norms));
    });
    for (const uint8_t b : cache.packed) ASSERT_EQ(b, expected);
    for (const float n : cache.norms) EXPECT_TRUE(std::isnan(n));
    ExpectSameCache(cache, ExpectedCache(src, 1, 1, d, 4, 1.0f, {0}), "NaN");
  }
}

TEST_P(TqKvParity, NibbleDequantizerMatchesTheReference) {
  Rng rng(4);
  for (const uint32_t d : {2u, 16u, 64u, 128u, 256u, 512u, 1024u, 2048u}) {
    for (int k = 0; k < 2; ++k) {
      const DequantCase c = RandomCache(rng, d, 4);
      const uint32_t read_pos = rng.Below(c.cap);
      SCOPED_TRACE("D=" + std::to_string(d) + " nkv=" + std::to_string(c.nkv) +
                   " read_pos=" + std::to_string(read_pos));
      std::vector<float> dst(size_t{c.nkv} * d + 5);  // the extra elements must stay poisoned
      RunOn(GetParam(), {Bytes(dst)}, [&](Queue& q) {
        TqDequantizeKv(q,
                       {.num_kv_heads = c.nkv,
                        .head_dim = d,
                        .cache_capacity = c.cap,
                        .read_pos = read_pos,
                        .scale_factor_d512 = c.sf},
                       In(c.packed), In(c.norms), View::Of<float>(dst.data(), size_t{c.nkv} * d));
      });
      ExpectSameFloats(dst, ExpectedRows(c, read_pos, 1));
      for (size_t i = size_t{c.nkv} * d; i < dst.size(); ++i) {
        ASSERT_EQ(BitsOf(dst[i]), BitsOf(test::PoisonValue<float>()));
      }
    }
  }
}

TEST_P(TqKvParity, ByteDequantizerMatchesTheReference) {
  Rng rng(5);
  for (const uint32_t d : {1u, 3u, 16u, 64u, 256u, 300u, 512u, 1500u, 2048u}) {
    for (const uint32_t bits : {5u, 6u, 8u}) {
      const DequantCase c = RandomCache(rng, d, bits);
      const uint32_t read_pos = rng.Below(c.cap);
      SCOPED_TRACE("D=" + std::to_string(d) + " bits=" + std::to_string(bits));
      std::vector<float> dst(size_t{c.nkv} * d + 3);
      RunOn(GetParam(), {Bytes(dst)}, [&](Queue& q) {
        TqDequantizeHbKv(q,
                         {.num_kv_heads = c.nkv,
                          .head_dim = d,
                          .cache_capacity = c.cap,
                          .read_pos = read_pos,
                          .scale_factor_d512 = c.sf,
                          .codebook_bits = bits},
                         In(c.packed), In(c.norms), View::Of<float>(dst.data(), size_t{c.nkv} * d));
      });
      ExpectSameFloats(dst, ExpectedRows(c, read_pos, 1));
      for (size_t i = size_t{c.nkv} * d; i < dst.size(); ++i) {
        ASSERT_EQ(BitsOf(dst[i]), BitsOf(test::PoisonValue<float>()));
      }
    }
  }
}

// Spec 5.3: n_tokens = 1 is the per-position kernel bit for bit, and slice [h, τ, :] of a longer
// sequence is the per-position kernel at start_pos + τ; so for tgk's 4-bit sequence form.
TEST_P(TqKvParity, SequenceDequantizerMatchesTheReferenceAndPerPosition) {
  Rng rng(6);
  for (const uint32_t d : {16u, 128u, 256u, 512u, 2048u}) {
    for (const uint32_t bits : {4u, 5u, 6u, 8u}) {
      const DequantCase c = RandomCache(rng, d, bits);
      const uint32_t n_tokens = 1 + rng.Below(c.cap);
      const uint32_t start = rng.Below(c.cap - n_tokens + 1);
      SCOPED_TRACE("D=" + std::to_string(d) + " bits=" + std::to_string(bits) +
                   " start=" + std::to_string(start) + " n_tokens=" + std::to_string(n_tokens));
      std::vector<float> seq(size_t{c.nkv} * n_tokens * d);
      RunOn(GetParam(), {Bytes(seq)}, [&](Queue& q) {
        if (bits == 4) {
          TqDequantizeKvSeq(q,
                            {.num_kv_heads = c.nkv,
                             .head_dim = d,
                             .cache_capacity = c.cap,
                             .start_pos = start,
                             .n_tokens = n_tokens,
                             .scale_factor_d512 = c.sf},
                            In(c.packed), In(c.norms), Out(seq));
          return;
        }
        TqDequantizeHbKvSeq(q,
                            {.num_kv_heads = c.nkv,
                             .head_dim = d,
                             .cache_capacity = c.cap,
                             .start_pos = start,
                             .n_tokens = n_tokens,
                             .scale_factor_d512 = c.sf,
                             .codebook_bits = bits},
                            In(c.packed), In(c.norms), Out(seq));
      });
      ExpectSameFloats(seq, ExpectedRows(c, start, n_tokens));
      Queue q(GetParam().options());
      for (uint32_t t = 0; t < n_tokens; ++t) {
        std::vector<float> one(size_t{c.nkv} * d);
        if (bits == 4) {
          TqDequantizeKv(q,
                         {.num_kv_heads = c.nkv,
                          .head_dim = d,
                          .cache_capacity = c.cap,
                          .read_pos = start + t,
                          .scale_factor_d512 = c.sf},
                         In(c.packed), In(c.norms), Out(one));
        } else {
          TqDequantizeHbKv(q,
                           {.num_kv_heads = c.nkv,
                            .head_dim = d,
                            .cache_capacity = c.cap,
                            .read_pos = start + t,
                            .scale_factor_d512 = c.sf,
                            .codebook_bits = bits},
                           In(c.packed), In(c.norms), Out(one));
        }
        q.commit_and_wait();
        for (uint32_t h = 0; h < c.nkv; ++h) {
          ASSERT_EQ(std::memcmp(one.data() + size_t{h} * d,
                                seq.data() + (size_t{h} * n_tokens + t) * d, d * sizeof(float)),
                    0)
              << "head " << h << " token " << t;
        }
      }
    }
  }
}

// A dst of more than kTqStreamDstBytes, cache-line aligned, is written past the caches
// (RowStore::kStream, tq_kv_args.h) by the sequence dequantisers, with the same values. The caches
// and their expected rows are made once for every configuration.
TEST_P(TqKvParity, SequenceDequantizersWriteALargeDstPastTheCaches) {
  static const std::vector<std::pair<DequantCase, std::vector<float>>> cases = [] {
    Rng rng(10);
    std::vector<std::pair<DequantCase, std::vector<float>>> made;
    for (const uint32_t bits : {4u, 8u}) {
      DequantCase c{1, 256, 32800, bits, 1.0f, {}, {}};  // dst: 32800 KiB
      c.packed = rng.Bytes(size_t{c.cap} * (bits == 4 ? c.d / 2 : c.d));
      c.norms = Normals(rng, c.cap, 2.0f);
      std::vector<float> want = ExpectedRows(c, 0, c.cap);
      made.emplace_back(std::move(c), std::move(want));
    }
    return made;
  }();
  for (const auto& made : cases) {
    const DequantCase& c = made.first;  // not a structured binding: the lambda below takes it
    const std::vector<float>& want = made.second;
    SCOPED_TRACE("bits=" + std::to_string(c.bits));
    ASSERT_GT(want.size() * sizeof(float), kTqStreamDstBytes);
    test::AlignedVector<float> seq(want.size());
    RunOn(GetParam(), {Bytes(seq)}, [&](Queue& q) {
      if (c.bits == 4) {
        TqDequantizeKvSeq(
            q, {.num_kv_heads = 1, .head_dim = c.d, .cache_capacity = c.cap, .n_tokens = c.cap},
            In(c.packed), In(c.norms), Out(seq));
        return;
      }
      TqDequantizeHbKvSeq(q,
                          {.num_kv_heads = 1,
                           .head_dim = c.d,
                           .cache_capacity = c.cap,
                           .n_tokens = c.cap,
                           .codebook_bits = c.bits},
                          In(c.packed), In(c.norms), Out(seq));
    });
    ExpectSameFloats(seq, want);
  }
}

// Codes of more than kTqStreamCodeBytes, their rows vector-aligned, are written past the caches
// (RowStore::kStream, tq_kv_args.h) by the sequence encoders, with the same bits: one call against
// the same tokens in calls of 4096 (codes of 1-2 MiB, written through the caches; the other
// tests hold those to the reference). Scalar lanes have no such path (their
// store_interleaved_stream is store_interleaved) and would take seconds here: skipped.
TEST_P(TqKvParity, SequenceEncodersWriteLongCodesPastTheCaches) {
  if (GetParam().target.is_scalar()) GTEST_SKIP() << "no stores past the caches on scalar lanes";
  constexpr uint32_t kNkv = 2, kDim = 256, kChunk = 4096;
  for (const uint32_t bits : {4u, 8u}) {
    // 100 tokens' codes more than the bound in one call; a call of kChunk tokens stays below.
    const uint32_t token_bytes = kNkv * (bits == 4 ? kDim / 2 : kDim);
    const uint32_t n_tokens = uint32_t(kTqStreamCodeBytes / token_bytes) + 100;
    ASSERT_LE(uint64_t{kChunk} * token_bytes, kTqStreamCodeBytes);
    SCOPED_TRACE("bits=" + std::to_string(bits));
    Rng rng(20 + bits);
    const std::vector<float> src = Normals(rng, size_t{n_tokens} * kNkv * kDim, 1.0f);
    const size_t code_bytes = size_t{n_tokens} * token_bytes;
    ASSERT_GT(code_bytes, kTqStreamCodeBytes);
    test::AlignedVector<uint8_t> packed(code_bytes), chunked_packed(code_bytes);
    std::vector<float> norms(size_t{n_tokens} * kNkv), chunked_norms(norms.size());
    const auto encode = [&](Queue& q, uint32_t first, uint32_t count, auto& codes, auto& n) {
      // src holds exactly the tokens up to the call's last.
      const ConstView tokens =
          ConstView::Of<float>(src.data(), size_t{first + count} * kNkv * kDim);
      if (bits == 4) {
        HadamardQuantizeKvSeq(q,
                              {.num_kv_heads = kNkv,
                               .head_dim = kDim,
                               .cache_capacity = n_tokens,
                               .write_pos_start = first,
                               .n_tokens = count,
                               .src_tok_offset = first},
                              tokens, Out(codes), Out(n));
        return;
      }
      HadamardQuantizeKvHbSeq(q,
                              {.num_kv_heads = kNkv,
                               .head_dim = kDim,
                               .cache_capacity = n_tokens,
                               .write_pos_start = first,
                               .n_tokens = count,
                               .src_tok_offset = first,
                               .codebook_bits = bits},
                              tokens, Out(codes), Out(n));
    };
    RunOn(GetParam(), {Bytes(packed), Bytes(norms)},
          [&](Queue& q) { encode(q, 0, n_tokens, packed, norms); });
    RunOn(GetParam(), {Bytes(chunked_packed), Bytes(chunked_norms)}, [&](Queue& q) {
      for (uint32_t first = 0; first < n_tokens; first += kChunk) {
        encode(q, first, std::min(kChunk, n_tokens - first), chunked_packed, chunked_norms);
      }
    });
    EXPECT_TRUE(
        test::BitsEqual(std::span<const uint8_t>(chunked_packed), std::span<const uint8_t>(packed)))
        << "codes";
    EXPECT_TRUE(test::BitsEqual(chunked_norms, norms)) << "norms";
  }
}

// The upstream tests' data: nkv = 2, cap = 8, D = 256, sf = 1, two byte and norm patterns.
TEST_P(TqKvParity, UpstreamPatterns) {
  struct Pattern {
    uint32_t mul, add;
    float norm0, norm_step;
  };
  for (const Pattern pat : {Pattern{37, 11, 0.5f, 0.0625f}, Pattern{53, 17, 0.25f, 0.125f}}) {
    for (const uint32_t bits : {4u, 5u, 6u, 8u}) {
      SCOPED_TRACE("pattern " + std::to_string(pat.mul) + " bits=" + std::to_string(bits));
      DequantCase c{2, 256, 8, bits, 1.0f, {}, {}};
      c.packed.resize(size_t{2} * 8 * (bits == 4 ? 128 : 256));
      for (size_t i = 0; i < c.packed.size(); ++i)
        c.packed[i] = uint8_t((i * pat.mul + pat.add) % 256);
      c.norms.resize(16);
      for (size_t i = 0; i < 16; ++i) c.norms[i] = pat.norm0 + float(i) * pat.norm_step;
      for (uint32_t start = 0; start < 8; start += 3) {
        const uint32_t n_tokens = std::min(3u, 8 - start);
        std::vector<float> got(size_t{2} * n_tokens * 256);
        if (bits == 4) {
          for (uint32_t t = 0; t < n_tokens; ++t) {
            std::vector<float> one(512);
            RunOn(GetParam(), {Bytes(one)}, [&](Queue& q) {
              TqDequantizeKv(
                  q,
                  {.num_kv_heads = 2, .head_dim = 256, .cache_capacity = 8, .read_pos = start + t},
                  In(c.packed), In(c.norms), Out(one));
            });
            for (uint32_t h = 0; h < 2; ++h) {
              std::copy_n(one.begin() + h * 256, 256, got.begin() + (h * n_tokens + t) * 256);
            }
          }
        } else {
          RunOn(GetParam(), {Bytes(got)}, [&](Queue& q) {
            TqDequantizeHbKvSeq(q,
                                {.num_kv_heads = 2,
                                 .head_dim = 256,
                                 .cache_capacity = 8,
                                 .start_pos = start,
                                 .n_tokens = n_tokens,
                                 .codebook_bits = bits},
                                In(c.packed), In(c.norms), Out(got));
          });
        }
        ExpectSameFloats(got, ExpectedRows(c, start, n_tokens));
      }
    }
  }
}

TEST_P(TqKvParity, InverseRotationMatchesTheReference) {
  Rng rng(7);
  for (const uint32_t d : {1u, 2u, 16u, 128u, 256u, 512u, 1024u}) {
    const uint32_t rows = 1 + rng.Below(3);
    SCOPED_TRACE("D=" + std::to_string(d));
    const std::vector<float> in = Normals(rng, size_t{rows} * d);
    std::vector<float> want;
    for (uint32_t r = 0; r < rows; ++r) {
      const auto row = reference::tq::InverseRotate(in.data() + size_t{r} * d, d);
      want.insert(want.end(), row.begin(), row.end());
    }
    std::vector<float> out(size_t{rows} * d + 4);
    const auto rotate = [&](Queue& q) {
      TqInverseRotate(q, {.rows = rows, .head_dim = d}, In(in),
                      View::Of<float>(out.data(), size_t{rows} * d));
    };
    RunOn(GetParam(), {Bytes(out)}, rotate);
    ExpectSameFloats(out, want);
    ASSERT_EQ(BitsOf(out.back()), BitsOf(test::PoisonValue<float>()));
    // In place.
    std::vector<float> inout = in;
    Queue q(GetParam().options());
    TqInverseRotate(q, {.rows = rows, .head_dim = d}, In(inout), Out(inout));
    q.commit_and_wait();
    ExpectSameFloats(inout, want);
    ExpectNoRace(GetParam(), rotate);
  }
}

// H is self-inverse, exactly so when every stage sum is exact and r_D is a power of two:
// small integers at D = 256 (through σ, which the test undoes exactly), 16, 64, 1024.
TEST_P(TqKvParity, InverseRotationIsSelfInverseOnSmallIntegers) {
  Rng rng(8);
  for (const uint32_t d : {256u, 16u, 64u, 1024u}) {
    SCOPED_TRACE("D=" + std::to_string(d));
    std::vector<float> y(size_t{2} * d);
    for (float& v : y) v = float(int(rng.Below(17)) - 8);
    const auto flip = [&](std::vector<float>& v) {
      if (d != 256) return;
      for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * reference::tq::Sigma(256, i % 256);
    };
    Queue q(GetParam().options());
    std::vector<float> once(y.size()), twice(y.size());
    TqInverseRotate(q, {.rows = 2, .head_dim = d}, In(y), Out(once));  // σ ⊙ H(y)
    q.commit_and_wait();
    flip(once);                                                            // H(y)
    TqInverseRotate(q, {.rows = 2, .head_dim = d}, In(once), Out(twice));  // σ ⊙ H(H(y))
    q.commit_and_wait();
    flip(twice);
    ExpectSameFloats(twice, y);
  }
}

TGK_INSTANTIATE_CONFIGS(TqKvParity);

}  // namespace
}  // namespace tgk
