// sdpa / sdpa_bf16: per-target instantiation of the functor and the validating host entry
// point.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/sdpa/sdpa.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/sdpa/sdpa-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
using SdpaF32Kernel = SdpaKernel<float>;
using SdpaBF16Kernel = SdpaKernel<bf16>;
TGK_DEFINE_KERNEL_RUNNERS(SdpaF32Kernel, SdpaArgs<float>)
TGK_DEFINE_KERNEL_RUNNERS(SdpaBF16Kernel, SdpaArgs<bf16>)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <initializer_list>
#include <string>

#include "kernels/sdpa/sdpa.h"
#include "tgk/detail/checked_math.h"
#include "tgk/detail/validate.h"
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

TGK_EXPORT_KERNEL(SdpaF32Kernel, "sdpa")
TGK_EXPORT_KERNEL(SdpaBF16Kernel, "sdpa_bf16")

namespace {

std::string Str(uint64_t x) { return std::to_string(x); }

// Spec rule 7 for one buffer: at least `need` elements, counted in bytes of its own dtype.
void CheckAtLeast(const char* name, ConstView view, uint64_t need) {
  const uint64_t bytes = need * SizeOf(view.dtype());  // fits: SdpaRequiredElements checked it
  if (view.bytes() < bytes) {
    ThrowInvalidArgument(std::string(name) + " buffer too small: expected at least " + Str(bytes) +
                         " bytes, got " + Str(view.bytes()));
  }
}

void CheckDType(const char* name, ConstView view, DType q) {
  if (view.dtype() != q) {
    ThrowInvalidArgument(std::string(name) + " dtype (" + std::string(Name(view.dtype())) +
                         ") must match Q's dtype (" + std::string(Name(q)) + ")");
  }
}

template <class T>
SdpaArgs<T> Args(const SdpaParams& p, uint32_t capacity, ConstView Q, ConstView K, ConstView V,
                 View out) {
  return SdpaArgs<T>{Q.as<T>(),  K.as<T>(), V.as<T>(),    out.as<T>(), p.n_heads, p.n_kv_heads,
                     p.head_dim, p.seq_len, p.kv_seq_len, capacity,    p.scale};
}

}  // namespace

void Sdpa(Queue& queue, const SdpaParams& p, ConstView Q, ConstView K, ConstView V, View out) {
  // The spec's rules 1–6.
  if (p.head_dim == 0) ThrowInvalidArgument("head_dim must be > 0");
  if (p.n_heads == 0) ThrowInvalidArgument("n_heads must be > 0");
  if (p.n_kv_heads == 0) ThrowInvalidArgument("n_kv_heads must be > 0");
  if (p.n_heads % p.n_kv_heads != 0) {
    ThrowInvalidArgument("n_heads (" + Str(p.n_heads) + ") must be divisible by n_kv_heads (" +
                         Str(p.n_kv_heads) + ")");
  }
  if (p.seq_len == 0) ThrowInvalidArgument("seq_len must be > 0");
  if (p.kv_seq_len == 0) ThrowInvalidArgument("kv_seq_len must be > 0");

  // tgk's shape rules.
  if (p.seq_len > p.kv_seq_len) {
    ThrowInvalidArgument("seq_len (" + Str(p.seq_len) + ") must be <= kv_seq_len (" +
                         Str(p.kv_seq_len) + ")");
  }
  if (p.head_dim > kSdpaMaxHeadDim) {
    ThrowInvalidArgument("head_dim (" + Str(p.head_dim) + ") must be <= " + Str(kSdpaMaxHeadDim));
  }
  if (p.kv_capacity != 0 && p.kv_capacity < p.kv_seq_len) {
    ThrowInvalidArgument("kv_capacity (" + Str(p.kv_capacity) + ") must be 0 or >= kv_seq_len (" +
                         Str(p.kv_seq_len) + ")");
  }

  detail::CheckFinite("", "scale", p.scale);

  // tgk's dtype rules: the kernel follows Q, the other buffers must agree with it.
  const DType dtype = Q.dtype();
  if (dtype != DType::kF32 && dtype != DType::kBF16) {
    ThrowInvalidArgument("Q dtype must be f32 or bf16 (got " + std::string(Name(dtype)) + ")");
  }
  CheckDType("K", K, dtype);
  CheckDType("V", V, dtype);
  CheckDType("output", out, dtype);

  // The spec's rule 7, with the resolved capacity, then tgk's exact sizes.
  const uint32_t capacity = p.kv_capacity == 0 ? p.kv_seq_len : p.kv_capacity;
  const SdpaElements need = SdpaRequiredElements(p);
  CheckAtLeast("Q", Q, need.Q);
  CheckAtLeast("K", K, need.K);
  CheckAtLeast("V", V, need.V);
  CheckAtLeast("output", out, need.out);
  constexpr std::string_view kQDims = "batch * n_heads * seq_len * head_dim";
  constexpr std::string_view kKvDims = "batch * n_kv_heads * kv_capacity * head_dim";
  const std::initializer_list<uint64_t> q_dims = {p.batch, p.n_heads, p.seq_len, p.head_dim};
  const std::initializer_list<uint64_t> kv_dims = {p.batch, p.n_kv_heads, capacity, p.head_dim};
  detail::CheckExactCount("", "Q", Q, need.Q, kQDims, q_dims);
  detail::CheckExactCount("", "K", K, need.K, kKvDims, kv_dims);
  detail::CheckExactCount("", "V", V, need.V, kKvDims, kv_dims);
  detail::CheckExactCount("", "output", out, need.out, kQDims, q_dims);
  detail::CheckNotNull("", "Q", Q);
  detail::CheckNotNull("", "K", K);
  detail::CheckNotNull("", "V", V);
  detail::CheckNotNull("", "output", out);
  detail::CheckNoOverlap("", {{"output", out}}, {{"Q", Q}, {"K", K}, {"V", V}});
  if (p.batch == 0) return;

  const Dim3 grid{p.batch, p.n_heads, (p.seq_len + kSdpaGroupSize - 1) / kSdpaGroupSize};
  const ArenaSizes arenas = SdpaArenaSizes(p.head_dim);
  if (dtype == DType::kF32) {
    queue.dispatch(SdpaF32KernelEntry(), grid, kSdpaGroupSize, arenas,
                   Args<float>(p, capacity, Q, K, V, out));
  } else {
    queue.dispatch(SdpaBF16KernelEntry(), grid, kSdpaGroupSize, arenas,
                   Args<bf16>(p, capacity, Q, K, V, out));
  }
}

SdpaElements SdpaRequiredElements(const SdpaParams& p) {
  const uint64_t capacity = p.kv_capacity == 0 ? p.kv_seq_len : p.kv_capacity;
  const auto count = [](const char* name, std::initializer_list<uint64_t> dims) {
    const auto n = detail::CheckedProduct(dims);
    uint64_t bytes = 0;
    if (!n || __builtin_mul_overflow(*n, uint64_t{sizeof(float)}, &bytes)) {
      ThrowInvalidArgument(std::string(name) + " buffer size overflows 64 bits");
    }
    return *n;
  };
  return SdpaElements{.Q = count("Q", {p.batch, p.n_heads, p.seq_len, p.head_dim}),
                      .K = count("K", {p.batch, p.n_kv_heads, capacity, p.head_dim}),
                      .V = count("V", {p.batch, p.n_kv_heads, capacity, p.head_dim}),
                      .out = count("output", {p.batch, p.n_heads, p.seq_len, p.head_dim})};
}

double SdpaFlops(const SdpaParams& p) {
  // Row q sees n_q = kv_seq_len − seq_len + q + 1 keys: seq_len·(kv_seq_len − seq_len) from the
  // offset plus 1 + 2 + ... + seq_len.
  const double seq = p.seq_len;
  const double offset = double(p.kv_seq_len) - seq;
  const double pairs = seq * offset + seq * (seq + 1) / 2;
  return 4.0 * p.head_dim * pairs * p.n_heads * p.batch;
}

}  // namespace tgk
#endif  // HWY_ONCE
