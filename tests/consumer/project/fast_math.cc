// A program that only calls tgk's kernels, compiled and linked with -ffast-math, against
// tgk::tgk (or tgk.pc): tgk must leave this translation unit's flags alone, and its kernels
// must still give the scalar oracle's bits on every target and thread count, although the
// fast-math startup code runs the process with flush-to-zero.
#ifndef __FAST_MATH__
#error "linking tgk took -ffast-math away from this translation unit"
#endif

#include <xmmintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tgk/convert.h"
#include "tgk/kernels/kkt.h"
#include "tgk/kernels/sdpa.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/version.h"

namespace {

// Integer-made inputs: fast math cannot change them.
std::vector<float> Inputs(size_t n, uint32_t seed, int shift) {
  std::vector<float> v(n);
  for (float& x : v)
    x = float(int32_t(seed = seed * 1664525u + 1013904223u) >> 8) / float(1 << shift);
  return v;
}

template <class T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct Outputs {
  std::vector<float> A, O;
};

Outputs Run(const tgk::QueueOptions& options) {
  const tgk::KktShape s{.B = 1, .T = 100, .Hg = 1, .H = 2, .K = 128};
  std::vector<tgk::bf16> k;
  for (float x : Inputs(size_t{s.T} * s.K, 1, 23)) k.push_back(tgk::BF16FromF32(x));
  const std::vector<float> beta = Inputs(size_t{s.T} * s.H, 2, 24);
  std::vector<float> g = Inputs(beta.size(), 3, 30);
  for (size_t i = s.H; i < g.size(); ++i) g[i] = g[i - s.H] - (g[i] < 0 ? -g[i] : g[i]);
  const tgk::SdpaParams p{.n_heads = 4,
                          .n_kv_heads = 2,
                          .head_dim = 64,
                          .seq_len = 33,
                          .kv_seq_len = 70,
                          .scale = 0.125f};
  const std::vector<float> q = Inputs(size_t{4} * 33 * 64, 4, 22),
                           kv = Inputs(size_t{2} * 70 * 64, 5, 22);

  Outputs out{std::vector<float>(size_t{s.T} * s.H * 64, -1.0f),
              std::vector<float>(q.size(), -1.0f)};
  tgk::Queue queue(options);
  tgk::GatedDeltaNetKkt(queue, s, tgk::ConstView::Of<tgk::bf16>(k.data(), k.size()),
                        tgk::ConstView::Of<float>(beta.data(), beta.size()),
                        tgk::ConstView::Of<float>(g.data(), g.size()),
                        tgk::View::Of<float>(out.A.data(), out.A.size()));
  tgk::Sdpa(queue, p, tgk::ConstView::Of<float>(q.data(), q.size()),
            tgk::ConstView::Of<float>(kv.data(), kv.size()),
            tgk::ConstView::Of<float>(kv.data(), kv.size()),
            tgk::View::Of<float>(out.O.data(), out.O.size()));
  queue.commit_and_wait();
  return out;
}

}  // namespace

int main() {
  int failures = 0;
  if ((_mm_getcsr() & 0x8040) != 0x8040) {
    std::fprintf(stderr, "FAIL: flush-to-zero is off: not linked with -ffast-math\n");
    ++failures;
  }
  const Outputs oracle = Run({.threads = 1, .target = tgk::Target::Scalar()});
  for (tgk::Target target : tgk::AvailableTargets()) {
    for (int threads : {1, 2}) {
      const Outputs got = Run({.threads = threads, .target = target});
      if (!SameBits(got.A, oracle.A) || !SameBits(got.O, oracle.O)) {
        std::fprintf(stderr, "FAIL: %s, %d threads differs from the scalar oracle\n",
                     target.name().c_str(), threads);
        ++failures;
      }
    }
  }
  if (std::strcmp(tgk::Version(), TGK_VERSION_STRING) != 0) {
    std::fprintf(stderr, "FAIL: library %s, headers %s\n", tgk::Version(), TGK_VERSION_STRING);
    ++failures;
  }
  std::printf("tgk %s under -ffast-math: %s\n", tgk::Version(), failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}
