// l2_norm_bf16 / _f32 / _f16: per-target instantiation of the functor and the validating host
// entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_l2norm/gdn_l2norm.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_l2norm/gdn_l2norm-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnL2NormBF16Kernel, GdnL2NormArgs<bf16>)
TGK_DEFINE_KERNEL_RUNNERS(GdnL2NormF32Kernel, GdnL2NormArgs<float>)
TGK_DEFINE_KERNEL_RUNNERS(GdnL2NormF16Kernel, GdnL2NormArgs<f16>)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <string>

#include "kernels/gdn_l2norm/gdn_l2norm.h"
#include "tgk/detail/checked_math.h"
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnL2NormBF16Kernel, "l2_norm_bf16")
TGK_EXPORT_KERNEL(GdnL2NormF32Kernel, "l2_norm_f32")
TGK_EXPORT_KERNEL(GdnL2NormF16Kernel, "l2_norm_f16")

namespace {

template <class T>
void Record(Queue& queue, const detail::KernelEntry& kernel, const GdnL2NormShape& s,
            ConstView input, View output) {
  const uint64_t groups = (s.rows + kGdnL2NormRowsPerGroup - 1) / kGdnL2NormRowsPerGroup;
  const uint32_t x = uint32_t(std::min<uint64_t>(groups, 65536));
  const Dim3 grid{x, uint32_t((groups + x - 1) / x), 1};
  const size_t stride = GdnL2NormPartStride(s.dim);
  const ArenaSizes arenas{(kGdnL2NormRowsPerGroup * stride + 16) * sizeof(float),
                          (GdnL2NormLanes(s.dim) + 16) * sizeof(float)};
  queue.dispatch(kernel, grid, GdnL2NormLanes(s.dim), arenas,
                 GdnL2NormArgs<T>{input.as<T>(), output.as<T>(), s.rows, s.dim});
}

}  // namespace

void GatedDeltaNetL2Norm(Queue& queue, const GdnL2NormShape& s, ConstView input, View output) {
  static const std::string p = "L2 norm ";  // built once: a valid call allocates nothing
  if (s.rows == 0 || s.dim == 0) ThrowInvalidArgument(p + "rows and dim must be > 0");
  const auto n = detail::CheckedProduct({s.rows, s.dim});
  if (!n) {
    ThrowInvalidArgument(p + "rows(" + std::to_string(s.rows) + ") * dim(" + std::to_string(s.dim) +
                         ") overflows 64 bits");
  }
  for (const auto& [name, view] : {std::pair<const char*, ConstView>{"input", input},
                                   std::pair<const char*, ConstView>{"output", output}}) {
    if (view.count() != *n) {
      ThrowInvalidArgument(p + name + " element count " + std::to_string(view.count()) +
                           " != rows(" + std::to_string(s.rows) + ") * dim(" +
                           std::to_string(s.dim) + ")");
    }
  }
  if (input.dtype() != output.dtype()) {
    ThrowInvalidArgument(p + "input/output dtype mismatch: " + std::string(Name(input.dtype())) +
                         " vs " + std::string(Name(output.dtype())));
  }
  const DType dtype = input.dtype();
  if (dtype != DType::kBF16 && dtype != DType::kF32 && dtype != DType::kF16) {
    ThrowInvalidArgument(p + "unsupported dtype: " + std::string(Name(dtype)));
  }
  for (const auto& [name, data] : {std::pair<const char*, const void*>{"input", input.data()},
                                   std::pair<const char*, const void*>{"output", output.data()}}) {
    if (data == nullptr) {
      ThrowInvalidArgument(p + name + " has " + std::to_string(*n) +
                           " elements but a null data pointer");
    }
  }
  if (dtype == DType::kBF16) {
    Record<bf16>(queue, GdnL2NormBF16KernelEntry(), s, input, output);
  } else if (dtype == DType::kF32) {
    Record<float>(queue, GdnL2NormF32KernelEntry(), s, input, output);
  } else {
    Record<f16>(queue, GdnL2NormF16KernelEntry(), s, input, output);
  }
}

double GdnL2NormBytes(const GdnL2NormShape& s, uint32_t element_bytes) {
  return 2.0 * double(s.rows) * s.dim * element_bytes;
}

}  // namespace tgk
#endif  // HWY_ONCE
