// flash_attn_vec: per-target instantiation of the functors and the validating host entry points.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/flash_attn_vec/flash_attn_vec.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/flash_attn_vec/flash_attn_vec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
using FlashAttnVecKernel = fav::VecKernel<1>;
using FlashAttnVecNwg32Kernel = fav::VecKernel<kFlashAttnVecNwg>;
using FlashAttnVecReduceKernel = fav::ReduceKernel;
TGK_DEFINE_KERNEL_RUNNERS(FlashAttnVecKernel, FlashAttnVecArgs)
TGK_DEFINE_KERNEL_RUNNERS(FlashAttnVecNwg32Kernel, FlashAttnVecArgs)
TGK_DEFINE_KERNEL_RUNNERS(FlashAttnVecReduceKernel, FlashAttnVecReduceArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "kernels/flash_attn_vec/flash_attn_vec.h"
#include "tgk/detail/checked_math.h"
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

TGK_EXPORT_KERNEL(FlashAttnVecKernel, "flash_attn_vec_peer_port_f16")
TGK_EXPORT_KERNEL(FlashAttnVecNwg32Kernel, "flash_attn_vec_peer_port_f16_nwg32")
TGK_EXPORT_KERNEL(FlashAttnVecReduceKernel, "flash_attn_vec_peer_port_f16_reduce_nwg32")

namespace {

using std::to_string;

std::string DTypeText(DType t) { return std::string(DebugName(t)); }

class Validator {
 public:
  explicit Validator(const char* prefix) : prefix_(prefix) {}

  [[noreturn]] void Fail(const std::string& message) const {
    ThrowInvalidArgument(prefix_ + ": " + message);
  }

  // The port's checks (spec section 7, items 1-7), in its order and words.
  void PortChecks(const FlashAttnVecParams& p, ConstView k, ConstView v, bool nwg32) const {
    if (p.head_dim != 128 && p.head_dim != 256 && p.head_dim != 512) {
      Fail("head_dim must be 128, 256 or 512, got " + to_string(p.head_dim));
    }
    if (k.dtype() != DType::kF16) Fail("k_f16 must be DType::F16, got " + DTypeText(k.dtype()));
    if (v.dtype() != DType::kF16) Fail("v_f16 must be DType::F16, got " + DTypeText(v.dtype()));
    if (p.num_heads == 0 || p.num_kv_heads == 0) {
      Fail(nwg32 ? "num_heads/num_kv_heads must be > 0" : "num_heads and num_kv_heads must be > 0");
    }
    if (p.num_heads % p.num_kv_heads != 0) {
      Fail("num_heads (" + to_string(p.num_heads) + ") % num_kv_heads (" +
           to_string(p.num_kv_heads) + ") != 0");
    }
    if (p.kv_seq_len == 0) Fail("kv_seq_len must be > 0");
    if (p.kv_capacity < p.kv_seq_len) {
      Fail("kv_capacity (" + to_string(p.kv_capacity) + ") < kv_seq_len (" +
           to_string(p.kv_seq_len) + ")");
    }
  }

  // tgk's own: `view` holds at least the product of `dims` elements of `dtype`.
  void Buffer(const char* name, ConstView view, DType dtype, const char* dims_text,
              std::initializer_list<uint64_t> dims) const {
    if (view.dtype() != dtype) {
      Fail(std::string(name) + " must be DType::" + DTypeText(dtype) + ", got " +
           DTypeText(view.dtype()));
    }
    std::string values;
    for (uint64_t d : dims) values += (values.empty() ? "" : " * ") + to_string(d);
    const auto need = detail::CheckedProduct(dims);
    if (!need) {
      Fail(std::string(name) + " size " + dims_text + " (" + values + ") overflows 64 bits");
    }
    if (view.count() < *need) {
      Fail(std::string(name) + " has " + to_string(view.count()) + " elements, needs at least " +
           to_string(*need) + " (" + dims_text + " = " + values + ")");
    }
    NotNull(name, view);
  }

  void NotNull(const char* name, ConstView view) const {
    if (view.count() > 0 && view.data() == nullptr) {
      Fail(std::string(name) + " has " + to_string(view.count()) +
           " elements but a null data pointer");
    }
  }

  void Tensors(const FlashAttnVecParams& p, ConstView q, ConstView k, ConstView v,
               ConstView out) const {
    Buffer("q", q, DType::kF32, "num_heads * head_dim", {p.num_heads, p.head_dim});
    Buffer("k_f16", k, DType::kF16, "num_kv_heads * kv_capacity * head_dim",
           {p.num_kv_heads, p.kv_capacity, p.head_dim});
    Buffer("v_f16", v, DType::kF16, "num_kv_heads * kv_capacity * head_dim",
           {p.num_kv_heads, p.kv_capacity, p.head_dim});
    Buffer("output", out, DType::kF32, "num_heads * head_dim", {p.num_heads, p.head_dim});
  }

 private:
  std::string prefix_;
};

FlashAttnVecArgs MakeArgs(const FlashAttnVecParams& p, ConstView q, ConstView k, ConstView v,
                          float* out) {
  return FlashAttnVecArgs{.q = q.as<float>(),
                          .k = k.as<f16>(),
                          .v = v.as<f16>(),
                          .out = out,
                          .num_heads = p.num_heads,
                          .num_kv_heads = p.num_kv_heads,
                          .head_dim = p.head_dim,
                          .kv_seq_len = p.kv_seq_len,
                          .kv_capacity = p.kv_capacity,
                          .scale = p.scale,
                          .mask_type = p.mask_type,
                          .sliding_window = p.sliding_window,
                          .ring_start = p.ring_start,
                          .workgroups_per_group = 1};
}

// Grid (head tiles, kv heads, workgroup sets): a group computes up to
// kFlashAttnVecHeadsPerGroup query heads of one kv head, for `workgroups_per_group`
// consecutive workgroups of the NWG split.
void DispatchVec(Queue& queue, const detail::KernelEntry& kernel, const FlashAttnVecParams& p,
                 FlashAttnVecArgs args, uint32_t nwg) {
  const uint32_t ratio = p.num_heads / p.num_kv_heads;
  const uint32_t heads = std::min(ratio, kFlashAttnVecHeadsPerGroup);
  const uint32_t tiles = (ratio + heads - 1) / heads;
  const size_t row = size_t{heads} * p.head_dim;
  // One group per kv head (and tile) reads the KV range in order; the split path divides the
  // workgroups over more groups only while the threads would otherwise lack groups to run, or
  // to keep a group's O states small.
  constexpr size_t kMaxStateBytes = size_t{256} << 10;
  const uint64_t units = uint64_t{tiles} * p.num_kv_heads;
  uint32_t wpg = nwg;
  while (wpg > 1 && (units * (nwg / wpg) < 8 * uint64_t(queue.threads()) ||
                     wpg * row * sizeof(float) > kMaxStateBytes)) {
    wpg /= 2;
  }
  args.workgroups_per_group = wpg;
  queue.dispatch(kernel, Dim3{tiles, p.num_kv_heads, nwg / wpg}, kFlashAttnVecGroupSize,
                 FlashAttnVecArenaSizes(heads, p.head_dim, wpg), args);
}

}  // namespace

void FlashAttnVecF16(Queue& queue, const FlashAttnVecParams& params, ConstView q, ConstView k,
                     ConstView v, View out) {
  const Validator check("flash_attn_vec_peer_port_f16");
  check.PortChecks(params, k, v, /*nwg32=*/false);
  check.Tensors(params, q, k, v, out);
  DispatchVec(queue, FlashAttnVecKernelEntry(), params, MakeArgs(params, q, k, v, out.as<float>()),
              1);
}

void FlashAttnVecF16Nwg32(Queue& queue, const FlashAttnVecParams& params, ConstView q, ConstView k,
                          ConstView v, View tmp, View out) {
  const Validator check("flash_attn_vec_peer_port_f16_nwg32");
  check.PortChecks(params, k, v, /*nwg32=*/true);
  const uint64_t need = FlashAttnVecNwg32TmpBytes(params.num_heads, params.head_dim);
  if (tmp.bytes() < need) {
    check.Fail("tmp buffer too small (" + to_string(tmp.bytes()) + " < " + to_string(need) +
               " bytes)");
  }
  check.Tensors(params, q, k, v, out);
  if (tmp.dtype() != DType::kF32) {
    check.Fail("tmp must be DType::F32, got " + DTypeText(tmp.dtype()));
  }
  check.NotNull("tmp", tmp);

  DispatchVec(queue, FlashAttnVecNwg32KernelEntry(), params,
              MakeArgs(params, q, k, v, tmp.as<float>()), kFlashAttnVecNwg);
  queue.memory_barrier();
  queue.dispatch(
      FlashAttnVecReduceKernelEntry(), Dim3{params.num_heads, 1, 1}, kFlashAttnVecReduceGroupSize,
      ArenaSizes{},
      FlashAttnVecReduceArgs{tmp.as<float>(), out.as<float>(), params.num_heads, params.head_dim});
}

uint64_t FlashAttnVecNwg32TmpBytes(uint32_t num_heads, uint32_t head_dim) {
  return uint64_t{num_heads} * kFlashAttnVecNwg * (uint64_t{head_dim} + 2) * sizeof(float);
}

uint64_t FlashAttnVecBytes(const FlashAttnVecParams& p) {
  const FlashAttnVecArgs args = MakeArgs(p, ConstView(), ConstView(), ConstView(), nullptr);
  uint64_t rows = 0;
  for (uint64_t first = 0; first < p.kv_seq_len; first += kFlashAttnVecBlock) {
    const fav::BlockMask mask = fav::MaskBlock(args, uint32_t(first));
    if (mask.any_visible) rows += mask.rows;
  }
  const uint64_t kv = 2 * rows * p.num_kv_heads * p.head_dim * sizeof(f16);
  return kv + 2 * uint64_t{p.num_heads} * p.head_dim * sizeof(float);
}

}  // namespace tgk
#endif  // HWY_ONCE
