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
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

TGK_EXPORT_KERNEL(SdpaF32Kernel, "sdpa")
TGK_EXPORT_KERNEL(SdpaBF16Kernel, "sdpa_bf16")

namespace {

std::string Str(uint64_t x) { return std::to_string(x); }

// Spec rule 7 for one buffer: at least `dims`' product of elements of the buffer's own dtype.
// Returns whether the dispatch reads or writes any of it.
bool CheckSize(const char* name, ConstView view, std::initializer_list<uint64_t> dims) {
  const std::string n = name;
  const auto count = detail::CheckedProduct(dims);
  uint64_t bytes = 0;
  if (!count || __builtin_mul_overflow(*count, uint64_t{SizeOf(view.dtype())}, &bytes)) {
    ThrowInvalidArgument(n + " buffer size overflows 64 bits");
  }
  if (view.bytes() < bytes) {
    ThrowInvalidArgument(n + " buffer too small: expected at least " + Str(bytes) + " bytes, got " +
                         Str(view.bytes()));
  }
  return bytes > 0;
}

void CheckDType(const char* name, ConstView view, DType q) {
  if (view.dtype() != q) {
    ThrowInvalidArgument(std::string(name) + " dtype (" + std::string(Name(view.dtype())) +
                         ") must match Q's dtype (" + std::string(Name(q)) + ")");
  }
}

void CheckNotNull(const char* name, ConstView view) {
  if (view.data() == nullptr) ThrowInvalidArgument(std::string(name) + " buffer is null");
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

  // tgk's dtype rules: the kernel follows Q, the other buffers must agree with it.
  const DType dtype = Q.dtype();
  if (dtype != DType::kF32 && dtype != DType::kBF16) {
    ThrowInvalidArgument("Q dtype must be f32 or bf16 (got " + std::string(Name(dtype)) + ")");
  }
  CheckDType("K", K, dtype);
  CheckDType("V", V, dtype);
  CheckDType("output", out, dtype);

  // The spec's rule 7, with the resolved capacity.
  const uint32_t capacity = p.kv_capacity == 0 ? p.kv_seq_len : p.kv_capacity;
  const bool used = CheckSize("Q", Q, {p.batch, p.n_heads, p.seq_len, p.head_dim});
  CheckSize("K", K, {p.batch, p.n_kv_heads, capacity, p.head_dim});
  CheckSize("V", V, {p.batch, p.n_kv_heads, capacity, p.head_dim});
  CheckSize("output", out, {p.batch, p.n_heads, p.seq_len, p.head_dim});
  if (!used) return;  // batch == 0
  CheckNotNull("Q", Q);
  CheckNotNull("K", K);
  CheckNotNull("V", V);
  CheckNotNull("output", out);

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
