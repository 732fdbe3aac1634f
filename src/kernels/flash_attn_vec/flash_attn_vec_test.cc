#include "kernels/flash_attn_vec/flash_attn_vec.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "testing/expect_error.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/target.h"

namespace tgk {
namespace {

constexpr int kThreadCounts[] = {1, 2, 3, 7};
const std::string kPrefix1 = "flash_attn_vec_peer_port_f16: ";
const std::string kPrefix32 = "flash_attn_vec_peer_port_f16_nwg32: ";

// Memory whose last element sits right before an inaccessible page, so that a read or write
// past the end faults.
template <class T>
class GuardedArray {
 public:
  explicit GuardedArray(size_t count) : count_(count) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    const size_t bytes = count * sizeof(T);
    const size_t data_pages = (bytes + page - 1) / page;
    mapped_ = (data_pages + 1) * page;
    void* base = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<std::byte*>(base);
    if (mprotect(base_ + data_pages * page, page, PROT_NONE) != 0) throw std::bad_alloc();
    data_ = reinterpret_cast<T*>(base_ + data_pages * page - bytes);
  }
  ~GuardedArray() { munmap(base_, mapped_); }
  GuardedArray(const GuardedArray&) = delete;
  GuardedArray& operator=(const GuardedArray&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return count_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  void Fill(T value) { std::fill(data_, data_ + count_, value); }

 private:
  size_t count_;
  size_t mapped_ = 0;
  std::byte* base_ = nullptr;
  T* data_ = nullptr;
};

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// A problem: parameters and inputs. K and V hold exactly num_kv_heads·kv_capacity rows, at the
// end of guarded memory; rows at or past kv_seq_len hold NaN, which tgk must never read.
struct Problem {
  explicit Problem(const FlashAttnVecParams& params)
      : p(params),
        q(size_t{p.num_heads} * p.head_dim),
        k(size_t{p.num_kv_heads} * p.kv_capacity * p.head_dim),
        v(size_t{p.num_kv_heads} * p.kv_capacity * p.head_dim) {}

  // Q, K, V ~ U(-1, 1) (K and V rounded to f16).
  void FillUniform(uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (size_t i = 0; i < q.size(); ++i) q[i] = u(rng);
    for (size_t i = 0; i < k.size(); ++i) k[i] = F16FromF32(u(rng));
    for (size_t i = 0; i < v.size(); ++i) v[i] = F16FromF32(u(rng));
    PoisonUnusedRows();
  }

  void PoisonUnusedRows() {
    const f16 nan{0x7E00};
    for (uint32_t kvh = 0; kvh < p.num_kv_heads; ++kvh) {
      for (uint32_t pos = p.kv_seq_len; pos < p.kv_capacity; ++pos) {
        const size_t row = (size_t{kvh} * p.kv_capacity + pos) * p.head_dim;
        for (uint32_t d = 0; d < p.head_dim; ++d) k[row + d] = v[row + d] = nan;
      }
    }
  }

  ConstView Q() const { return ConstView::Of<float>(q.data(), q.size()); }
  ConstView K() const { return ConstView::Of<f16>(k.data(), k.size()); }
  ConstView V() const { return ConstView::Of<f16>(v.data(), v.size()); }
  size_t out_count() const { return size_t{p.num_heads} * p.head_dim; }

  FlashAttnVecParams p;
  GuardedArray<float> q;
  GuardedArray<f16> k;
  GuardedArray<f16> v;
};

struct Result {
  std::vector<float> out;
  std::vector<float> tmp;  // NWG = 32 only
};

Result RunKernel(const Problem& pb, bool nwg32, Target target, int threads) {
  Queue queue(QueueOptions{.threads = threads, .target = target});
  GuardedArray<float> out(pb.out_count());
  out.Fill(std::numeric_limits<float>::quiet_NaN());
  Result result;
  if (nwg32) {
    GuardedArray<float> tmp(FlashAttnVecNwg32TmpBytes(pb.p.num_heads, pb.p.head_dim) / 4);
    tmp.Fill(std::numeric_limits<float>::quiet_NaN());
    FlashAttnVecF16Nwg32(queue, pb.p, pb.Q(), pb.K(), pb.V(),
                         View::Of<float>(tmp.data(), tmp.size()),
                         View::Of<float>(out.data(), out.size()));
    queue.commit_and_wait();
    result.tmp.assign(tmp.data(), tmp.data() + tmp.size());
  } else {
    FlashAttnVecF16(queue, pb.p, pb.Q(), pb.K(), pb.V(), View::Of<float>(out.data(), out.size()));
    queue.commit_and_wait();
  }
  result.out.assign(out.data(), out.data() + out.size());
  return result;
}

void ExpectSameBits(const std::vector<float>& want, const std::vector<float>& got,
                    const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  size_t mismatches = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (Bits(want[i]) != Bits(got[i]) && ++mismatches <= 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << " (0x" << std::hex
                    << Bits(got[i]) << "), oracle " << want[i] << " (0x" << Bits(want[i])
                    << std::dec << ")";
    }
  }
  EXPECT_EQ(mismatches, 0u) << what;
}

// The spec's visibility rule (2.1), literally.
bool Visible(const FlashAttnVecParams& p, uint32_t pos) {
  if (pos >= p.kv_seq_len) return false;
  const uint32_t logical = (pos - p.ring_start + p.kv_capacity) % p.kv_capacity;
  const uint32_t w0 = (p.mask_type == 2 && p.sliding_window > 0 && p.kv_seq_len > p.sliding_window)
                          ? p.kv_seq_len - p.sliding_window
                          : 0;
  return !(logical >= p.kv_seq_len || logical < w0);
}

// fp64 attention over the visible positions (masked ones weigh e^−65504 in the kernel: 0).
// `scale_out` gets Σ_p w_p·|V[p, d]| / Σ_p w_p, the magnitude an error is measured against.
std::vector<double> Reference(const Problem& pb, std::vector<double>* scale_out) {
  const FlashAttnVecParams& p = pb.p;
  const uint32_t dim = p.head_dim;
  std::vector<double> out(pb.out_count(), 0.0), scale(pb.out_count(), 0.0);
  for (uint32_t h = 0; h < p.num_heads; ++h) {
    const uint32_t kvh = h / (p.num_heads / p.num_kv_heads);
    std::vector<double> q(dim);
    for (uint32_t d = 0; d < dim; ++d) q[d] = F32FromF16(F16FromF32(pb.q[size_t{h} * dim + d]));
    std::vector<double> s;
    std::vector<uint32_t> positions;
    for (uint32_t pos = 0; pos < p.kv_seq_len; ++pos) {
      if (!Visible(p, pos)) continue;
      const size_t row = (size_t{kvh} * p.kv_capacity + pos) * dim;
      double dot = 0;
      for (uint32_t d = 0; d < dim; ++d) dot += q[d] * F32FromF16(pb.k[row + d]);
      s.push_back(dot * p.scale);
      positions.push_back(pos);
    }
    if (s.empty()) continue;
    const double max = *std::max_element(s.begin(), s.end());
    double sum = 0;
    for (double& x : s) sum += (x = std::exp(x - max));
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t row = (size_t{kvh} * p.kv_capacity + positions[i]) * dim;
      for (uint32_t d = 0; d < dim; ++d) {
        const double value = F32FromF16(pb.v[row + d]);
        out[size_t{h} * dim + d] += s[i] / sum * value;
        scale[size_t{h} * dim + d] += s[i] / sum * std::abs(value);
      }
    }
  }
  *scale_out = std::move(scale);
  return out;
}

void ExpectClose(const std::vector<double>& want, const std::vector<double>& scale,
                 const std::vector<float>& got, double tolerance, const std::string& what) {
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]);
    if (!(err <= tolerance * scale[i]) && ++bad <= 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", want " << want[i]
                    << " (error " << err << ", bound " << tolerance * scale[i] << ")";
    }
  }
  EXPECT_EQ(bad, 0u) << what;
}

std::string Describe(const FlashAttnVecParams& p) {
  return "heads " + std::to_string(p.num_heads) + "/" + std::to_string(p.num_kv_heads) + " dim " +
         std::to_string(p.head_dim) + " len " + std::to_string(p.kv_seq_len) + " cap " +
         std::to_string(p.kv_capacity) + " mask " + std::to_string(p.mask_type) + " window " +
         std::to_string(p.sliding_window) + " ring " + std::to_string(p.ring_start);
}

FlashAttnVecParams Params(uint32_t heads, uint32_t kv_heads, uint32_t dim, uint32_t len,
                          uint32_t cap) {
  FlashAttnVecParams p;
  p.num_heads = heads;
  p.num_kv_heads = kv_heads;
  p.head_dim = dim;
  p.kv_seq_len = len;
  p.kv_capacity = cap;
  p.scale = 1.0f / std::sqrt(float(dim));
  return p;
}

// Every target and thread count gives the oracle's bits, for both paths; the oracle is within
// 1e-5 of fp64 (relative to Σ w·|V|); NWG = 1 and NWG = 32 agree to f32 rounding.
void CheckProblem(const Problem& pb) {
  const std::string shape = Describe(pb.p);
  std::vector<double> scale;
  const std::vector<double> want = Reference(pb, &scale);
  std::vector<double> nwg1;
  for (bool nwg32 : {false, true}) {
    const std::string path = shape + (nwg32 ? " nwg32" : " nwg1");
    const Result oracle = RunKernel(pb, nwg32, Target::Scalar(), 1);
    for (float x : oracle.out) ASSERT_FALSE(std::isnan(x)) << path << ": output not written";
    for (float x : oracle.tmp) ASSERT_FALSE(std::isnan(x)) << path << ": tmp not written";
    ExpectClose(want, scale, oracle.out, 1e-5, path + " vs fp64");
    for (Target target : AvailableTargets()) {
      for (int threads : kThreadCounts) {
        if (target.is_scalar() && threads == 1) continue;
        const std::string what = path + " " + target.name() + " threads " + std::to_string(threads);
        const Result got = RunKernel(pb, nwg32, target, threads);
        ExpectSameBits(oracle.out, got.out, what + " out");
        if (nwg32) ExpectSameBits(oracle.tmp, got.tmp, what + " tmp");
      }
    }
    if (!nwg32) {
      nwg1.assign(oracle.out.begin(), oracle.out.end());
    } else {
      ExpectClose(nwg1, scale, oracle.out, 2e-5, shape + " nwg32 vs nwg1");
    }
  }
}

TEST(FlashAttnVec, RandomShapesMatchOracleAndFp64) {
  std::mt19937 rng(20240611);
  const uint32_t dims[] = {128, 256, 512};
  const uint32_t ratios[] = {1, 2, 4};
  const uint32_t lengths[] = {1, 31, 32, 33, 47, 64, 95, 130, 257, 700};
  for (int i = 0; i < 10; ++i) {
    const uint32_t dim = dims[i % 3];
    const uint32_t ratio = ratios[rng() % 3];
    const uint32_t kv_heads = 1 + rng() % 2;
    const uint32_t len = lengths[i];
    const uint32_t cap = len + rng() % 40;
    FlashAttnVecParams p = Params(kv_heads * ratio, kv_heads, dim, len, cap);
    p.mask_type = rng() % 3;
    p.sliding_window = rng() % 2 ? 0 : 1 + rng() % (len + 8);
    p.ring_start = rng() % 2 ? 0 : rng() % cap;
    Problem pb(p);
    pb.FillUniform(1000 + i);
    CheckProblem(pb);
  }
}

TEST(FlashAttnVec, RingBufferAndSlidingWindow) {
  struct Case {
    uint32_t len, cap, mask, window, ring;
  };
  const Case cases[] = {
      {96, 96, 0, 0, 37},     // full ring, ring_start inside a block
      {100, 100, 2, 40, 70},  // full ring with a sliding window across the wrap
      {130, 130, 1, 0, 129},  // full ring, oldest entry in the last slot
      {70, 200, 0, 0, 50},    // partly filled ring with ring_start ≠ 0: slots mapping past
                              // kv_seq_len are masked, whole blocks skipped
      {300, 300, 2, 20, 0},   // sliding window: all but the last block(s) skipped
      {33, 40, 0, 0, 4000},   // ring_start beyond the capacity (u32 arithmetic as written)
      {45, 45, 0, 0, 7},      // capacity not a multiple of 32
      {40, 40, 0, 0, 50},     // p − ring_start + capacity wraps past 2^32 inside the block
  };
  for (const Case& c : cases) {
    FlashAttnVecParams p = Params(4, 2, 256, c.len, c.cap);
    p.mask_type = c.mask;
    p.sliding_window = c.window;
    p.ring_start = c.ring;
    Problem pb(p);
    pb.FillUniform(c.len * 7 + c.ring);
    CheckProblem(pb);
  }
}

TEST(FlashAttnVec, ManyQueryHeadsPerKvHead) {
  // 20 query heads on one kv head: head tiles of 16 and 4 (register tiles 4, 2, 1 inside).
  Problem a(Params(20, 1, 128, 80, 80));
  a.FillUniform(5);
  CheckProblem(a);
  Problem b(Params(9, 3, 256, 40, 64));  // ratio 3
  b.FillUniform(6);
  CheckProblem(b);
}

TEST(FlashAttnVec, EverythingMaskedGivesZeros) {
  // Slots [0, 10) map to logical positions [50, 60) >= kv_seq_len: every block is skipped.
  FlashAttnVecParams p = Params(2, 1, 128, 10, 100);
  p.ring_start = 50;
  Problem pb(p);
  pb.FillUniform(9);
  for (bool nwg32 : {false, true}) {
    for (Target target : AvailableTargets()) {
      const Result r = RunKernel(pb, nwg32, target, 2);
      for (float x : r.out) ASSERT_EQ(Bits(x), 0u) << target.name() << (nwg32 ? " nwg32" : "");
    }
  }
}

TEST(FlashAttnVec, Nwg32TmpLayoutOfIdleWorkgroups) {
  // kv_seq_len 70: workgroups 0..2 own blocks 0..2, 3..31 are idle: O = 0, S = 0, M = −FLT_MAX/2.
  const FlashAttnVecParams p = Params(2, 2, 128, 70, 70);
  Problem pb(p);
  pb.FillUniform(11);
  const Result r = RunKernel(pb, true, BestTarget(), 2);
  const size_t rows = p.num_heads, dim = p.head_dim;
  for (size_t h = 0; h < rows; ++h) {
    for (size_t w = 0; w < 32; ++w) {
      const float s = r.tmp[rows * dim * 32 + h * 64 + 2 * w];
      const float m = r.tmp[rows * dim * 32 + h * 64 + 2 * w + 1];
      if (w < 3) {
        EXPECT_GT(s, 0.0f);
        EXPECT_GT(m, -1e30f);
      } else {
        EXPECT_EQ(Bits(s), 0u);
        EXPECT_EQ(Bits(m), 0xFEFFFFFFu);
      }
      for (size_t i = 0; i < dim / 4; ++i) {
        for (size_t e = 0; e < 4; ++e) {
          const float o = r.tmp[((h * (dim / 4) + i) * 32 + w) * 4 + e];
          EXPECT_EQ(Bits(o) == 0, w >= 3) << "h " << h << " w " << w << " i " << i;
        }
      }
    }
  }
}

TEST(FlashAttnVec, F16ExtremesSameBitsEverywhere) {
  // K and V drawn from every finite f16 pattern class (subnormals, ±0, the largest values),
  // Q tiny so that scores stay finite: the targets' f16 widening must match the scalar one.
  FlashAttnVecParams p = Params(2, 1, 256, 77, 77);
  p.scale = 1.0f;
  Problem pb(p);
  std::mt19937 rng(3);
  for (size_t i = 0; i < pb.q.size(); ++i) pb.q[i] = float(int(rng() % 2001) - 1000) * 1e-9f;
  for (size_t i = 0; i < pb.k.size(); ++i) {
    uint16_t bits;
    do bits = uint16_t(rng());
    while ((bits & 0x7C00u) == 0x7C00u);  // no Inf/NaN
    pb.k[i] = f16{bits};
    pb.v[i] = f16{uint16_t(i % 5 == 0 ? bits & 0x83FFu : bits)};  // many subnormals
  }
  for (bool nwg32 : {false, true}) {
    const Result oracle = RunKernel(pb, nwg32, Target::Scalar(), 1);
    for (Target target : AvailableTargets()) {
      ExpectSameBits(oracle.out, RunKernel(pb, nwg32, target, 3).out, target.name());
    }
  }
}

TEST(FlashAttnVec, CheckedScalarModeFindsNoRace) {
  FlashAttnVecParams p = Params(4, 2, 128, 70, 80);
  p.mask_type = 2;
  p.sliding_window = 50;
  Problem pb(p);
  pb.FillUniform(17);
  for (bool nwg32 : {false, true}) {
    Queue queue(QueueOptions{.threads = 2, .target = Target::Scalar(), .check_races = true});
    std::vector<float> out(pb.out_count());
    std::vector<float> tmp(FlashAttnVecNwg32TmpBytes(p.num_heads, p.head_dim) / 4);
    if (nwg32) {
      FlashAttnVecF16Nwg32(queue, p, pb.Q(), pb.K(), pb.V(),
                           View::Of<float>(tmp.data(), tmp.size()),
                           View::Of<float>(out.data(), out.size()));
    } else {
      FlashAttnVecF16(queue, p, pb.Q(), pb.K(), pb.V(), View::Of<float>(out.data(), out.size()));
    }
    EXPECT_NO_THROW(queue.commit_and_wait());
    EXPECT_TRUE(queue.race_reports().empty());
  }
}

TEST(FlashAttnVec, BytesCountReadRows) {
  FlashAttnVecParams p = Params(16, 8, 256, 1000, 1024);
  EXPECT_EQ(FlashAttnVecBytes(p), 2ull * 1000 * 8 * 256 * 2 + 2ull * 16 * 256 * 4);
  // A window of 10 at the end: only blocks 30 (positions 960..991) and 31 (992..999) are read.
  p.mask_type = 2;
  p.sliding_window = 10;
  EXPECT_EQ(FlashAttnVecBytes(p), 2ull * 40 * 8 * 256 * 2 + 2ull * 16 * 256 * 4);
  EXPECT_EQ(FlashAttnVecNwg32TmpBytes(16, 256), 16ull * 32 * 258 * 4);
}

// ---- validation -----------------------------------------------------------------------------

// Buffers of any dtype and size for the validation tests; `out` and `tmp` hold a sentinel
// that must survive a rejected call.
struct Buffers {
  explicit Buffers(size_t n = 1 << 16) : raw_in(n, 0), raw_out(n, 0), raw_tmp(n, 0) {
    std::fill(raw_out.begin(), raw_out.end(), 0x5A5A5A5Au);
    std::fill(raw_tmp.begin(), raw_tmp.end(), 0x5A5A5A5Au);
  }
  ConstView In(DType t, size_t count) const { return ConstView(raw_in.data(), count, t); }
  View Out(DType t, size_t count) { return View(raw_out.data(), count, t); }
  View Tmp(DType t, size_t count) { return View(raw_tmp.data(), count, t); }
  bool Untouched() const {
    for (uint32_t x : raw_out) {
      if (x != 0x5A5A5A5Au) return false;
    }
    for (uint32_t x : raw_tmp) {
      if (x != 0x5A5A5A5Au) return false;
    }
    return true;
  }
  std::vector<uint32_t> raw_in, raw_out, raw_tmp;
};

struct Call {
  FlashAttnVecParams p = Params(4, 2, 128, 40, 48);
  DType q_type = DType::kF32, k_type = DType::kF16, v_type = DType::kF16;
  DType out_type = DType::kF32, tmp_type = DType::kF32;
  size_t q_count = 4 * 128, k_count = 2 * 48 * 128, v_count = 2 * 48 * 128;
  size_t out_count = 4 * 128, tmp_count = 4 * 32 * 130;
  bool null_k = false;
};

// Runs `call` on both paths and expects `message` (after each path's prefix); nothing may be
// written, even after commit_and_wait().
void ExpectRejected(const Call& call, const std::string& message, const std::string& message32,
                    bool nwg1 = true) {
  for (bool nwg32 : {false, true}) {
    if (!nwg32 && !nwg1) continue;
    Buffers b;
    Queue queue(QueueOptions{.threads = 2});
    const ConstView k = call.null_k ? ConstView(nullptr, call.k_count, call.k_type)
                                    : b.In(call.k_type, call.k_count);
    test::ExpectInvalidArgument(
        [&] {
          if (nwg32) {
            FlashAttnVecF16Nwg32(
                queue, call.p, b.In(call.q_type, call.q_count), k, b.In(call.v_type, call.v_count),
                b.Tmp(call.tmp_type, call.tmp_count), b.Out(call.out_type, call.out_count));
          } else {
            FlashAttnVecF16(queue, call.p, b.In(call.q_type, call.q_count), k,
                            b.In(call.v_type, call.v_count), b.Out(call.out_type, call.out_count));
          }
        },
        (nwg32 ? kPrefix32 : kPrefix1) + (nwg32 ? message32 : message));
    queue.commit_and_wait();
    EXPECT_TRUE(b.Untouched()) << message;
  }
}

void ExpectRejected(const Call& call, const std::string& message) {
  ExpectRejected(call, message, message);
}

TEST(FlashAttnVecValidation, ValidCallRuns) {
  Call call;
  Buffers b;
  Queue queue(QueueOptions{.threads = 2});
  FlashAttnVecF16Nwg32(queue, call.p, b.In(DType::kF32, call.q_count),
                       b.In(DType::kF16, call.k_count), b.In(DType::kF16, call.v_count),
                       b.Tmp(DType::kF32, call.tmp_count), b.Out(DType::kF32, call.out_count));
  FlashAttnVecF16(queue, call.p, b.In(DType::kF32, call.q_count), b.In(DType::kF16, call.k_count),
                  b.In(DType::kF16, call.v_count), b.Out(DType::kF32, call.out_count));
  queue.commit_and_wait();
  EXPECT_EQ(b.raw_out[0], 0u);  // all-zero inputs: uniform weights over zero V rows
}

TEST(FlashAttnVecValidation, PortChecksInOrder) {
  Call c;
  c.p.head_dim = 64;
  c.k_type = DType::kBF16;  // also wrong: head_dim is reported first
  ExpectRejected(c, "head_dim must be 128, 256 or 512, got 64");
  c = Call();
  c.p.head_dim = 0;
  ExpectRejected(c, "head_dim must be 128, 256 or 512, got 0");
  c = Call();
  c.k_type = DType::kBF16;
  c.v_type = DType::kF32;
  ExpectRejected(c, "k_f16 must be DType::F16, got BF16");
  c = Call();
  c.v_type = DType::kF32;
  c.p.num_heads = 0;
  ExpectRejected(c, "v_f16 must be DType::F16, got F32");
  c = Call();
  c.p.num_heads = 0;
  c.p.kv_seq_len = 0;
  ExpectRejected(c, "num_heads and num_kv_heads must be > 0", "num_heads/num_kv_heads must be > 0");
  c = Call();
  c.p.num_kv_heads = 0;
  ExpectRejected(c, "num_heads and num_kv_heads must be > 0", "num_heads/num_kv_heads must be > 0");
  c = Call();
  c.p.num_heads = 6;
  c.p.num_kv_heads = 4;
  c.p.kv_seq_len = 0;
  ExpectRejected(c, "num_heads (6) % num_kv_heads (4) != 0");
  c = Call();
  c.p.kv_seq_len = 0;
  c.p.kv_capacity = 0;
  ExpectRejected(c, "kv_seq_len must be > 0");
  c = Call();
  c.p.kv_seq_len = 49;
  ExpectRejected(c, "kv_capacity (48) < kv_seq_len (49)");
  c = Call();
  c.tmp_count = 4 * 32 * 130 - 1;
  c.q_type = DType::kF16;  // tgk's checks come after the port's
  ExpectRejected(c, "", "tmp buffer too small (66556 < 66560 bytes)", /*nwg1=*/false);
}

TEST(FlashAttnVecValidation, TgkBufferChecks) {
  Call c;
  c.q_type = DType::kF16;
  ExpectRejected(c, "q must be DType::F32, got F16");
  c = Call();
  c.q_count = 511;
  ExpectRejected(c, "q has 511 elements, needs at least 512 (num_heads * head_dim = 4 * 128)");
  c = Call();
  c.k_count = 2 * 48 * 128 - 1;
  ExpectRejected(c,
                 "k_f16 has 12287 elements, needs at least 12288 (num_kv_heads * kv_capacity * "
                 "head_dim = 2 * 48 * 128)");
  c = Call();
  c.v_count = 2 * 40 * 128;  // enough for kv_seq_len rows, not for kv_capacity
  ExpectRejected(c,
                 "v_f16 has 10240 elements, needs at least 12288 (num_kv_heads * kv_capacity * "
                 "head_dim = 2 * 48 * 128)");
  c = Call();
  c.out_type = DType::kBF16;
  ExpectRejected(c, "output must be DType::F32, got BF16");
  c = Call();
  c.out_count = 100;
  ExpectRejected(c, "output has 100 elements, needs at least 512 (num_heads * head_dim = 4 * 128)");
  c = Call();
  c.tmp_type = DType::kU32;
  ExpectRejected(c, "", "tmp must be DType::F32, got U32", /*nwg1=*/false);
  c = Call();
  c.null_k = true;
  ExpectRejected(c, "k_f16 has 12288 elements but a null data pointer");
  c = Call();
  c.p.num_heads = 1u << 31;
  c.p.num_kv_heads = 1u << 31;
  c.p.kv_capacity = 1u << 31;
  c.p.head_dim = 512;
  c.q_count = c.out_count = c.tmp_count = 0;
  ExpectRejected(c,
                 "q has 0 elements, needs at least 1099511627776 (num_heads * head_dim = "
                 "2147483648 * 512)",
                 "tmp buffer too small (0 < 141287244169216 bytes)");
  c.q_count = size_t{1} << 40;  // views are only described, never read on error
  ExpectRejected(c,
                 "k_f16 size num_kv_heads * kv_capacity * head_dim (2147483648 * 2147483648 * "
                 "512) overflows 64 bits",
                 "tmp buffer too small (0 < 141287244169216 bytes)");
}

}  // namespace
}  // namespace tgk
