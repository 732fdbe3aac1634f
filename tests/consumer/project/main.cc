// A program that sees tgk only through its installed package (find_package(tgk) or
// pkg-config). It runs a library kernel (kkt) and a kernel of its own, written with the
// installed per-target headers and Highway's dispatch, and checks their bits: the scalar
// oracle against every available target and thread count, and both against references
// computed here. Any failure prints a line and exits non-zero.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "main.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#ifndef TGK_CONSUMER_ARGS_
#define TGK_CONSUMER_ARGS_
#include <cstdint>

struct RotateFmaSumArgs {
  const float* x;
  const float* y;
  float c;
  float* out;
};
#endif  // TGK_CONSUMER_ARGS_

#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

// Groups of 64 lanes. Lane l computes fma(x, y, c) of its element into an arena; after the
// barrier it takes the value of lane (l + 32) % 64 (the other simdgroup's) into lane state;
// a simd_sum then gives each lane its simdgroup's total, which it stores.
struct RotateFmaSumKernel {
  static constexpr uint32_t kLanes = 64;
  RotateFmaSumArgs a;

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const size_t base = size_t{g.group_id().x} * kLanes;
    auto products = g.template arena<float>(0);
    auto state = g.template lane_state<float>();
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto p = Fma(lane.load(a.x + base + lane.first()), lane.load(a.y + base + lane.first()),
                         lane.splat(a.c));
      lane.store(products, lane.first(), p);
    });
    g.barrier();
    // A pack never straddles a simdgroup, so its partner lanes are contiguous too.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(state, 0, lane.load(products, (lane.first() + kLanes / 2) % kLanes));
    });
    g.simd_sum(state);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      const auto total = lane.load(state, 0);
      lane.store(a.out + base + lane.first(), total);
    });
  }
};

TGK_DEFINE_KERNEL_RUNNERS(RotateFmaSumKernel, RotateFmaSumArgs)

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/kernels/kkt.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/view.h"

// The package's compile definitions decide which targets this file's dispatch table holds;
// it must hold exactly the library's, or the queue would call the wrong entry.
#ifndef HWY_COMPILE_ALL_ATTAINABLE
#error "tgk::tgk did not pass HWY_COMPILE_ALL_ATTAINABLE"
#endif
static_assert((HWY_TARGETS & (HWY_SSSE3 | HWY_SSE4)) == 0, "tgk::tgk did not disable SSSE3/SSE4");

namespace tgk {
TGK_EXPORT_KERNEL(RotateFmaSumKernel, "rotate_fma_sum")
}  // namespace tgk

namespace {

int failures = 0;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

// Deterministic inputs with full 24-bit significands, so that fused and unfused
// multiply-adds differ.
std::vector<float> Inputs(size_t n, uint32_t seed, float lo, float hi) {
  std::vector<float> v(n);
  for (float& x : v) {
    seed = seed * 1664525u + 1013904223u;
    x = lo + (hi - lo) * float(seed >> 8) * 0x1p-24f;
  }
  return v;
}

bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

std::vector<tgk::QueueOptions> AllConfigurations() {
  std::vector<tgk::QueueOptions> all;
  for (tgk::Target target : tgk::AvailableTargets()) {
    for (int threads : {1, 2}) all.push_back({.threads = threads, .target = target});
  }
  return all;
}

void CheckOwnKernel() {
  constexpr uint32_t kGroups = 3, kLanes = 64, kN = kGroups * kLanes;
  const std::vector<float> x = Inputs(kN, 1, -2, 2), y = Inputs(kN, 2, -2, 2);
  const float c = 0.1f;

  // Reference: fused products, then the canonical halving tree of each simdgroup.
  std::vector<float> expected(kN);
  for (uint32_t group = 0; group < kGroups; ++group) {
    for (uint32_t simdgroup = 0; simdgroup < 2; ++simdgroup) {
      float tree[32];
      for (uint32_t l = 0; l < 32; ++l) {
        const uint32_t from = group * kLanes + (simdgroup * 32 + l + 32) % kLanes;
        tree[l] = std::fma(x[from], y[from], c);
      }
      for (uint32_t off = 16; off > 0; off /= 2) {
        for (uint32_t l = 0; l < off; ++l) tree[l] = tree[l] + tree[l + off];
      }
      for (uint32_t l = 0; l < 32; ++l) expected[group * kLanes + simdgroup * 32 + l] = tree[0];
    }
  }

  for (const tgk::QueueOptions& options : AllConfigurations()) {
    tgk::Queue queue(options);
    if (!options.target->is_scalar()) {
      Check((HWY_TARGETS & options.target->hwy_bit()) != 0,
            "a target of the library is missing from this program's HWY_TARGETS");
    }
    std::vector<float> out(kN, -1.0f);
    queue.dispatch(tgk::RotateFmaSumKernelEntry(), tgk::Dim3{kGroups}, kLanes,
                   tgk::ArenaSizes{kLanes * sizeof(float)},
                   RotateFmaSumArgs{x.data(), y.data(), c, out.data()});
    queue.commit_and_wait();
    Check(SameBits(out, expected), "own kernel: output differs from the fused halving-tree sum");
  }
}

struct KktProblem {
  tgk::KktShape shape;
  std::vector<tgk::bf16> k;
  std::vector<float> beta, g;

  // Runs the kernel into an output prefilled with -1.
  std::vector<float> Run(tgk::Queue& queue, const tgk::KktShape& s) const {
    std::vector<float> A(size_t{s.B} * s.T * s.H * 64, -1.0f);
    tgk::GatedDeltaNetKkt(queue, s, tgk::ConstView::Of<tgk::bf16>(k.data(), k.size()),
                          tgk::ConstView::Of<float>(beta.data(), beta.size()),
                          tgk::ConstView::Of<float>(g.data(), g.size()),
                          tgk::View::Of<float>(A.data(), A.size()));
    queue.commit_and_wait();
    return A;
  }
};

// T = 100: one full chunk and a partial one; K = 128: two tiles; two value heads share a key
// head.
KktProblem MakeKktProblem() {
  const tgk::KktShape s{.B = 1, .T = 100, .Hg = 1, .H = 2, .K = 128};
  KktProblem p{s, {}, Inputs(size_t{s.T} * s.H, 4, 0, 1), Inputs(size_t{s.T} * s.H, 5, -0.1f, 0)};
  for (float x : Inputs(size_t{s.T} * s.Hg * s.K, 3, -1, 1)) p.k.push_back(tgk::BF16FromF32(x));
  for (size_t i = s.H; i < p.g.size(); ++i) p.g[i] += p.g[i - s.H];  // cumulative, as in FLA
  return p;
}

// Against a double-precision evaluation of the formula (the exponential differs in its last
// bits, and f32 sums round): strictly lower cells within a relative bound, the others +0.
void CheckKktValues(const KktProblem& p, const std::vector<float>& A) {
  const tgk::KktShape& s = p.shape;
  for (uint32_t t = 0; t < s.T; ++t) {
    const uint32_t t0 = t / 64 * 64;
    for (uint32_t h = 0; h < s.H; ++h) {
      for (uint32_t j = 0; j < 64 && t0 + j < s.T; ++j) {
        const float got = A[(size_t{t} * s.H + h) * 64 + j];
        if (t0 + j >= t) {
          Check(tgk::BitsOf(got) == 0, "kkt: a cell on or above the diagonal is not +0");
          continue;
        }
        double dot = 0, magnitude = 0;
        for (uint32_t c = 0; c < s.K; ++c) {
          const double kb = tgk::RoundToBF16(tgk::F32FromBF16(p.k[size_t{t} * s.K + c]) *
                                             p.beta[size_t{t} * s.H + h]);
          const double term = kb * tgk::F32FromBF16(p.k[size_t{t0 + j} * s.K + c]);
          dot += term;
          magnitude += std::fabs(term);
        }
        const double gate =
            std::exp(double(p.g[size_t{t} * s.H + h]) - p.g[size_t{t0 + j} * s.H + h]);
        Check(std::fabs(got - dot * gate) <= 1e-5 * magnitude * gate,
              "kkt: a lower cell is off the double-precision reference");
      }
    }
  }
}

void CheckKkt() {
  const KktProblem p = MakeKktProblem();
  std::vector<float> oracle;
  for (const tgk::QueueOptions& options : AllConfigurations()) {
    tgk::Queue queue(options);
    const std::vector<float> A = p.Run(queue, p.shape);
    if (oracle.empty()) oracle = A;  // the scalar target comes first
    Check(SameBits(A, oracle), "kkt: a target or thread count differs from the scalar oracle");
  }
  CheckKktValues(p, oracle);

  // Invalid input is reported before anything is dispatched.
  tgk::Queue queue;
  tgk::KktShape bad = p.shape;
  bad.K = 96;
  try {
    p.Run(queue, bad);
    Check(false, "kkt: K = 96 was accepted");
  } catch (const tgk::Error& e) {
    Check(e.kind() == tgk::ErrorKind::kInvalidArgument, "kkt: K = 96 is not kInvalidArgument");
  }
}

}  // namespace

int main() {
  CheckOwnKernel();
  CheckKkt();
  std::printf("tgk consumer: %s; targets:", failures == 0 ? "ok" : "FAILED");
  for (tgk::Target t : tgk::AvailableTargets()) std::printf(" %s", t.name().c_str());
  std::printf("\n");
  return failures == 0 ? 0 : 1;
}
#endif  // HWY_ONCE
