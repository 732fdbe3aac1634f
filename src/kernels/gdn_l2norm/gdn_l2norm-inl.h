// The L2-norm functor (docs/spec/gdn_l2norm.md), one source for the
// scalar oracle and every Highway target, for bf16, f32 and f16 rows.
//
// Mapping from Metal: as on the GPU, lane l of a group of tg lanes holds part[l], and the
// halving tree runs over the group's lanes, one level per phase; a group does
// kGdnL2NormRowsPerGroup rows (Metal: one), each phase looping over them. The partial sums
// live in arena kGdnL2NormPartsArena, one row of max(tg, 16) floats per row. At the tree's
// levels narrower than a lane pack, the pack at lane 0 still computes and stores its whole
// width: the extra lanes land in cells past `off` of the same row, which no later level reads.
// A pack reaching past a row's last element reads it element-wise and writes it through
// kGdnL2NormStagingArena. The input is read again to scale it, so input and output may alias.

#if defined(TGK_KERNELS_GDN_L2NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TGK_KERNELS_GDN_L2NORM_INL_H_
#undef TGK_KERNELS_GDN_L2NORM_INL_H_
#else
#define TGK_KERNELS_GDN_L2NORM_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/gdn_l2norm/gdn_l2norm_args.h"
#include "tgk/convert.h"
#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {

template <class T>
struct GdnL2NormKernelT {
  GdnL2NormArgs<T> a;

  // One element converted as the lanes' stores convert it (tgk's round to nearest even).
  static void StoreElement(float* p, float v) { *p = v; }
  static void StoreElement(bf16* p, float v) { *p = BF16FromF32(v); }
  static void StoreElement(f16* p, float v) { *p = F16FromF32(v); }

  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const Dim3 id = g.group_id();
    const uint64_t group = uint64_t{id.y} * g.grid_size().x + id.x;
    const uint64_t row0 = group * kGdnL2NormRowsPerGroup;
    if (row0 >= a.rows) return;
    const uint32_t rows = uint32_t(std::min<uint64_t>(kGdnL2NormRowsPerGroup, a.rows - row0));
    const uint32_t dim = a.dim, tg = g.size(), stride = GdnL2NormPartStride(dim);
    auto parts = g.template arena<float>(kGdnL2NormPartsArena);
    auto staging = g.template arena<float>(kGdnL2NormStagingArena);
    const T* in = a.input + row0 * dim;
    T* out = a.output + row0 * dim;

    // Phase: part[l] = Σ x_i² over i = l, l + tg, … < dim, serially from +0.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      using L = decltype(lane);
      const uint32_t first = lane.first(), n_dim = dim, lanes = tg, row_stride = stride;
      for (uint32_t r = 0; r < rows; ++r) {
        const T* x = in + size_t{r} * n_dim;
        auto part = lane.zero();
        for (uint32_t i = first; i < n_dim; i += lanes) {
          const uint32_t n = std::min(L::kWidth, n_dim - i);
          const auto v = n == L::kWidth ? lane.load(x + i) : lane.load_strided(x + i, 1, n);
          part = part + v * v;
        }
        lane.store(parts, size_t{r} * row_stride + first, part);
      }
    });
    g.barrier();

    // Phases: the halving tree, one level each.
    for (uint32_t off = tg / 2; off >= 1; off /= 2) {
      g.for_each_lane([&](auto lane) HWY_ATTR {
        const uint32_t first = lane.first(), row_stride = stride;
        if (first >= off) return;
        for (uint32_t r = 0; r < rows; ++r) {
          const size_t at = size_t{r} * row_stride + first;
          lane.store(parts, at, lane.load(parts, at) + lane.load(parts, at + off));
        }
      });
      g.barrier();
    }

    // Phase: y = round(x · inv), inv = 1/sqrt(s + ε) in binary64, rounded once.
    g.for_each_lane([&](auto lane) HWY_ATTR {
      using L = decltype(lane);
      const uint32_t first = lane.first(), n_dim = dim, lanes = tg, row_stride = stride;
      for (uint32_t r = 0; r < rows; ++r) {
        const float sum = float(parts[size_t{r} * row_stride]) + kGdnL2NormEps;
        const auto inv = lane.splat(float(1.0 / std::sqrt(double(sum))));
        const T* x = in + size_t{r} * n_dim;
        T* y = out + size_t{r} * n_dim;
        for (uint32_t i = first; i < n_dim; i += lanes) {
          const uint32_t n = std::min(L::kWidth, n_dim - i);
          if (n == L::kWidth) {
            lane.store(y + i, lane.load(x + i) * inv);
          } else {
            lane.store(staging, first, lane.load_strided(x + i, 1, n) * inv);
            for (uint32_t k = 0; k < n; ++k) StoreElement(y + i + k, staging[first + k]);
          }
        }
      }
    });
  }
};

using GdnL2NormBF16Kernel = GdnL2NormKernelT<bf16>;
using GdnL2NormF32Kernel = GdnL2NormKernelT<float>;
using GdnL2NormF16Kernel = GdnL2NormKernelT<f16>;

}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#endif  // TGK_KERNELS_GDN_L2NORM_INL_H_
