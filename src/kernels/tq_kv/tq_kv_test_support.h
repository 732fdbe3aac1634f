// What the tq_kv tests share: test data, the poisoned output buffers, the cache and row
// expectations built from the reference (tq_kv_reference.cc), the race checker's run and the
// validation harness.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/tq_kv/tq_kv.h"
#include "kernels/tq_kv/tq_kv_reference.h"
#include "testing/compare.h"
#include "testing/configs.h"
#include "testing/expect_error.h"
#include "testing/poison.h"
#include "testing/random.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/view.h"

namespace tgk::tq_test {

using Rng = test::Random;

// n values of N(0, scale²).
inline std::vector<float> Normals(Rng& rng, size_t n, float scale = 1.0f) {
  return rng.Vector<float>(n, test::Normal(0.0f, scale));
}

template <class T, class A>
ConstView In(const std::vector<T, A>& v) {
  return ConstView::Of<T>(v.data(), v.size());
}
template <class T, class A>
View Out(std::vector<T, A>& v) {
  return View::Of<T>(v.data(), v.size());
}

// A buffer a kernel writes (and must leave alone outside what it owns), poisoned with its
// element type's pattern (testing/poison.h).
struct Output {
  void* data;
  size_t bytes;
  std::function<void()> poison;
};
template <class T, class A>
Output Bytes(std::vector<T, A>& v) {
  return Output{v.data(), v.size() * sizeof(T), [&v] { test::Poison(std::span<T>(v)); }};
}

inline std::vector<uint8_t> Snapshot(const std::vector<Output>& outputs) {
  std::vector<uint8_t> all;
  for (const Output& o : outputs) {
    const auto* p = static_cast<const uint8_t*>(o.data);
    all.insert(all.end(), p, p + o.bytes);
  }
  return all;
}

inline void Poison(const std::vector<Output>& outputs) {
  for (const Output& o : outputs) o.poison();
}

// Index of the first differing byte, or -1.
inline int64_t FirstDifference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 0;
  const auto it = std::mismatch(a.begin(), a.end(), b.begin());
  return it.first == a.end() ? -1 : int64_t(it.first - a.begin());
}

// Poisons the outputs, then runs `record` (which records on the queue it gets) with `config`.
inline void RunOn(const test::Config& config, const std::vector<Output>& outputs,
                  const std::function<void(Queue&)>& record) {
  Poison(outputs);
  Queue queue(config.options());
  record(queue);
  queue.commit_and_wait();
}

// Records `record` on the race checker's queue (scalar, checked) and expects its commit to
// find no race, such as a missing barrier around the groups' arena exchange. That run is the
// same for every configuration, so only the first (scalar, one thread) does it.
inline void ExpectNoRace(const test::Config& config, const std::function<void(Queue&)>& record) {
  if (!config.target.is_scalar() || config.threads != 1) return;
  Queue checked(QueueOptions{.threads = 1, .target = Target::Scalar(), .check_races = true});
  record(checked);
  EXPECT_NO_THROW(checked.commit_and_wait());
}

// A vector whose size varies: mostly N(0,1), sometimes tiny (the n <= 1e-10 branch), huge or
// zero.
inline std::vector<float> TestVector(Rng& rng, size_t n) {
  const float scale = rng.Pick<float>({1.0f, 1.0f, 1.0f, 3e-3f, 1e3f, 1e-12f, 0.0f});
  return Normals(rng, n, scale);
}

struct CacheBuffers {
  std::vector<uint8_t> packed;
  std::vector<float> norms;
  std::vector<Output> outputs() { return {Bytes(packed), Bytes(norms)}; }
};

inline CacheBuffers MakeCache(uint32_t nkv, uint32_t cap, uint32_t d, uint32_t bits) {
  const uint32_t npp = std::max(1u, d / 256);
  return CacheBuffers{std::vector<uint8_t>(size_t{nkv} * cap * (bits == 4 ? d / 2 : d)),
                      std::vector<float>(size_t{nkv} * cap * npp)};
}

// What an encoder must leave in poisoned cache buffers after writing `tokens` of src into
// rows `rows[t]`.
inline CacheBuffers ExpectedCache(const std::vector<float>& src, uint32_t nkv, uint32_t cap,
                                  uint32_t d, uint32_t bits, float sf,
                                  const std::vector<uint64_t>& rows) {
  CacheBuffers cache = MakeCache(nkv, cap, d, bits);
  test::Poison(cache.packed);
  test::Poison(cache.norms);
  for (size_t t = 0; t < rows.size(); ++t) {
    for (uint32_t h = 0; h < nkv; ++h) {
      const reference::tq::Encoded e =
          reference::tq::Encode(src.data() + (t * nkv + h) * d, d, bits, sf);
      reference::tq::Store(e, d, bits, uint64_t{h} * cap + rows[t], cache.packed, cache.norms);
    }
  }
  return cache;
}

inline void ExpectSameCache(const CacheBuffers& got, const CacheBuffers& want,
                            const std::string& what) {
  EXPECT_TRUE(test::BitsEqual(want.packed, got.packed)) << what << ": packed";
  EXPECT_TRUE(test::BitsEqual(want.norms, got.norms)) << what << ": norms";
}

// Expects `cache`, which the sequence encoder with `params` (HadamardQuantizeKvSeqParams: 4
// bits, or HadamardQuantizeKvHbSeqParams) wrote from src, to hold both the reference's tokens
// stored in order, a later one overwriting an earlier one's row, and what the port does
// instead: one single-token dispatch per token, in order, run with `config`.
template <class SeqParams>
void ExpectSequenceCache(const test::Config& config, const SeqParams& params,
                         const std::vector<float>& src, const CacheBuffers& cache,
                         const std::string& what) {
  constexpr bool kHb = std::is_same_v<SeqParams, HadamardQuantizeKvHbSeqParams>;
  uint32_t bits = 4;
  if constexpr (kHb) bits = params.codebook_bits;
  const uint32_t nkv = params.num_kv_heads, d = params.head_dim, cap = params.cache_capacity;
  const uint32_t start = params.write_pos_start, offset = params.src_tok_offset;
  std::vector<uint64_t> rows;
  for (uint32_t i = 0; i < params.n_tokens; ++i) {
    rows.push_back(params.is_sliding ? (start + i) % cap : start + i);
  }
  ExpectSameCache(
      cache,
      ExpectedCache(std::vector<float>(src.begin() + size_t{offset} * nkv * d, src.end()), nkv, cap,
                    d, bits, params.scale_factor_d512, rows),
      what);
  CacheBuffers want = MakeCache(nkv, cap, d, bits);
  test::Poison(want.packed);
  test::Poison(want.norms);
  Queue q(config.options());
  for (uint32_t i = 0; i < params.n_tokens; ++i) {
    const std::vector<float> token(src.begin() + size_t{offset + i} * nkv * d,
                                   src.begin() + size_t{offset + i + 1} * nkv * d);
    if constexpr (kHb) {
      HadamardQuantizeKvHb(q,
                           {.num_kv_heads = nkv,
                            .head_dim = d,
                            .cache_capacity = cap,
                            .write_pos = start + i,
                            .is_sliding = params.is_sliding,
                            .scale_factor_d512 = params.scale_factor_d512,
                            .codebook_bits = bits},
                           In(token), Out(want.packed), Out(want.norms));
    } else {
      HadamardQuantizeKv(q,
                         {.num_kv_heads = nkv,
                          .head_dim = d,
                          .cache_capacity = cap,
                          .write_pos = start + i,
                          .is_sliding = params.is_sliding,
                          .scale_factor_d512 = params.scale_factor_d512},
                         In(token), Out(want.packed), Out(want.norms));
    }
    q.commit_and_wait();
  }
  ExpectSameCache(cache, want, what);
}

struct DequantCase {
  uint32_t nkv, d, cap, bits;
  float sf;
  std::vector<uint8_t> packed;
  std::vector<float> norms;
};

inline DequantCase RandomCache(Rng& rng, uint32_t d, uint32_t bits) {
  DequantCase c{1 + rng.Below(3),
                d,
                1 + rng.Below(6),
                bits,
                rng.Pick<float>({1.0f, 16.0f, 22.627f, 0.5f}),
                {},
                {}};
  c.packed = rng.Bytes(size_t{c.nkv} * c.cap * (bits == 4 ? d / 2 : d));
  c.norms = Normals(rng, size_t{c.nkv} * c.cap * std::max(1u, d / 256), 2.0f);
  c.norms[0] = 0.0f;
  return c;
}

inline std::vector<float> ExpectedRows(const DequantCase& c, uint32_t start, uint32_t n_tokens) {
  std::vector<float> want(size_t{c.nkv} * n_tokens * c.d);
  for (uint32_t h = 0; h < c.nkv; ++h) {
    for (uint32_t t = 0; t < n_tokens; ++t) {
      for (size_t j = 0; j < c.d; ++j) {
        want[(size_t{h} * n_tokens + t) * c.d + j] = reference::tq::Decode(
            c.packed, c.norms, c.d, c.bits, uint64_t{h} * c.cap + start + t, j, c.sf);
      }
    }
  }
  return want;
}

// The first want.size() elements of got hold want's bits.
inline void ExpectSameFloats(std::span<const float> got, const std::vector<float>& want) {
  ASSERT_GE(got.size(), want.size());
  EXPECT_TRUE(test::BitsEqual(std::span<const float>(want), got.first(want.size())));
}

// Expects `call` to throw InvalidArgument with exactly `message`, recording nothing: the
// queue's commit then leaves every output byte as it was.
inline void ExpectInvalid(const std::string& message, const std::vector<Output>& outputs,
                          const std::function<void(Queue&)>& call) {
  SCOPED_TRACE(message);
  Poison(outputs);
  const std::vector<uint8_t> before = Snapshot(outputs);
  Queue q;
  test::ExpectInvalidArgument([&] { call(q); }, message);
  q.commit_and_wait();
  EXPECT_EQ(FirstDifference(Snapshot(outputs), before), -1);
}

// Expects `call` to record nothing and not throw.
inline void ExpectNoOp(const std::vector<Output>& outputs,
                       const std::function<void(Queue&)>& call) {
  Poison(outputs);
  const std::vector<uint8_t> before = Snapshot(outputs);
  Queue q;
  EXPECT_NO_THROW(call(q));
  q.commit_and_wait();
  EXPECT_EQ(FirstDifference(Snapshot(outputs), before), -1);
}

}  // namespace tgk::tq_test
