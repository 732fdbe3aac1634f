// gated_delta_net_kkt_bf16: per-target instantiation of the functor and the validating host
// entry point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/kkt/kkt.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/kkt/kkt-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(KktKernel, KktArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <string>

#include "kernels/kkt/kkt.h"
#include "tgk/detail/checked_math.h"
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

TGK_EXPORT_KERNEL(KktKernel, "gated_delta_net_kkt_bf16")

namespace {

constexpr const char* kPrefix = "gated_delta_net_kkt";

void CheckBuffer(const char* name, ConstView view, DType dtype, uint64_t count) {
  if (view.count() != count || view.dtype() != dtype) {
    ThrowInvalidArgument(std::string(kPrefix) + ": " + name + " must be " +
                         std::string(Name(dtype)) + "[" + std::to_string(count) + "] (got " +
                         std::to_string(view.count()) + " " + std::string(Name(view.dtype())) +
                         ")");
  }
  if (count > 0 && view.data() == nullptr) {
    ThrowInvalidArgument(std::string(kPrefix) + ": " + name + " has " + std::to_string(count) +
                         " elements but a null data pointer");
  }
}

}  // namespace

void GatedDeltaNetKkt(Queue& queue, const KktShape& s, ConstView k, ConstView beta, ConstView g,
                      View A) {
  const std::string p = kPrefix;
  if (s.B == 0 || s.T == 0 || s.Hg == 0 || s.H == 0 || s.K == 0 || s.BT == 0) {
    ThrowInvalidArgument(p + ": all dims must be > 0");
  }
  if (s.H % s.Hg != 0) {
    ThrowInvalidArgument(p + ": h (" + std::to_string(s.H) + ") must be a multiple of hg (" +
                         std::to_string(s.Hg) + ")");
  }
  if (s.K > kKktMaxK) {
    ThrowInvalidArgument(p + ": K (" + std::to_string(s.K) +
                         ") exceeds MAX_K = " + std::to_string(kKktMaxK) +
                         " (tgk lifts the Metal kernel's 32 KB threadgroup memory budget, MAX_K "
                         "= 192, to 512)");
  }
  if (s.BT != kKktChunk) {
    ThrowInvalidArgument(p + " (iter 2): bt must be 64 (got " + std::to_string(s.BT) + ")");
  }
  if (s.K % kKktTile != 0) {
    ThrowInvalidArgument(p + " (iter 2): k (" + std::to_string(s.K) +
                         ") must be a multiple of BK (64)");
  }
  const auto count = [&](std::initializer_list<uint64_t> dims, const char* what) {
    const auto product = detail::CheckedProduct(dims);
    if (!product) ThrowInvalidArgument(p + ": element count of " + what + " overflows 64 bits");
    return *product;
  };
  CheckBuffer("k", k, DType::kBF16, count({s.B, s.T, s.Hg, s.K}, "k"));
  CheckBuffer("beta", beta, DType::kF32, count({s.B, s.T, s.H}, "beta"));
  CheckBuffer("g", g, DType::kF32, count({s.B, s.T, s.H}, "g"));
  CheckBuffer("A", A, DType::kF32, count({s.B, s.T, s.H, s.BT}, "A"));

  const KktArgs args{
      k.as<bf16>(), beta.as<float>(), g.as<float>(), A.as<float>(), s.B, s.T, s.Hg, s.H, s.K};
  const uint32_t chunks = (s.T + kKktChunk - 1) / kKktChunk;
  queue.dispatch(KktKernelEntry(), Dim3{s.H, chunks, s.B}, kKktGroupSize, KktArenaSizes(), args);
}

double KktFlops(const KktShape& s) {
  const double full_chunks = s.T / kKktChunk;
  const double tail = s.T % kKktChunk;
  return 2.0 * s.K * s.H * s.B * (full_chunks * kKktChunk * kKktChunk + tail * tail);
}

}  // namespace tgk
#endif  // HWY_ONCE
