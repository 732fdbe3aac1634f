// The RMSNorm functor in the model's vocabulary, for every target, and its plain reference.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "rmsnorm.cc"
#include "rmsnorm.h"

#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "tgk/group-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk::HWY_NAMESPACE {

// Lane l sums x[l]², x[l + 128]², ... in order; simd_sum gives each simdgroup its total; the
// group adds the four totals in order, and every lane scales its elements.
struct RmsNormKernel {
  RmsNormArgs a;
  template <class Group>
  HWY_INLINE void operator()(Group& g) const {
    const size_t row = size_t{g.group_id().x} * a.d;
    auto partial = g.template lane_state<float>();
    auto totals = g.template arena<float>(0);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      auto sum = lane.zero();
      for (uint32_t j = lane.first(); j < a.d; j += kRmsNormLanes) {
        const auto v = lane.load(a.x + row + j);
        sum = sum + v * v;
      }
      lane.store(partial, 0, sum);
    });
    g.simd_sum(partial);
    g.for_each_lane([&](auto lane) HWY_ATTR {
      lane.store(totals, lane.first(), lane.load(partial, 0));  // a slot per lane: no race
    });
    g.barrier();  // the other simdgroups' totals are visible from here on
    float total = totals[0];
    for (uint32_t s = 1; s < g.simdgroups(); ++s) total = total + totals[s * kSimdWidth];
    const float scale = 1.0f / std::sqrt(total / float(a.d) + a.eps);  // uniform: plain C++
    g.for_each_lane([&](auto lane) HWY_ATTR {
      for (uint32_t j = lane.first(); j < a.d; j += kRmsNormLanes) {
        lane.store(a.out + row + j,
                   lane.load(a.x + row + j) * lane.splat(scale) * lane.load(a.w + j));
      }
    });
  }
};

TGK_DEFINE_KERNEL_RUNNERS(RmsNormKernel, RmsNormArgs)

}  // namespace tgk::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tgk {
TGK_EXPORT_KERNEL(RmsNormKernel, "rmsnorm")
}

void RmsNorm(tgk::Queue& queue, uint32_t rows, const RmsNormArgs& args) {
  queue.dispatch(tgk::RmsNormKernelEntry(), tgk::Dim3{rows}, kRmsNormLanes,
                 tgk::ArenaSizes{kRmsNormLanes * sizeof(float)}, args);
}

void RmsNormReference(uint32_t rows, const RmsNormArgs& a) {
  for (size_t row = 0; row < size_t{rows} * a.d; row += a.d) {
    float lane[kRmsNormLanes] = {}, total = 0;
    for (uint32_t j = 0; j < a.d; ++j) lane[j % kRmsNormLanes] += a.x[row + j] * a.x[row + j];
    for (uint32_t s = 0; s < kRmsNormLanes; s += 32) {  // each simdgroup's halving tree
      for (uint32_t offset = 16; offset >= 1; offset /= 2) {
        for (uint32_t l = 0; l < offset; ++l) lane[s + l] += lane[s + l + offset];
      }
      total = s == 0 ? lane[0] : total + lane[s];
    }
    const float scale = 1.0f / std::sqrt(total / float(a.d) + a.eps);
    for (uint32_t j = 0; j < a.d; ++j) a.out[row + j] = a.x[row + j] * scale * a.w[j];
  }
}
#endif  // HWY_ONCE
