// The tq_kv family: per-target instantiation of the functors and the validating host entry
// points (docs/spec/tq_kv.md sections 3.4 and 5.4, plus tgk's additions listed in tq_kv.h).

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/tq_kv/tq_kv.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/tq_kv/tq_kv-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
using TqEncodeFastD256 = TqEncodeFastKernel<256, 4>;
using TqEncodeFastD512 = TqEncodeFastKernel<512, 4>;
using TqEncodeHb5D256 = TqEncodeFastKernel<256, 5>;
using TqEncodeHb5D512 = TqEncodeFastKernel<512, 5>;
using TqEncodeHb6D256 = TqEncodeFastKernel<256, 6>;
using TqEncodeHb6D512 = TqEncodeFastKernel<512, 6>;
using TqEncodeHb8D256 = TqEncodeFastKernel<256, 8>;
using TqEncodeHb8D512 = TqEncodeFastKernel<512, 8>;
using TqDequantize4 = TqDequantizeKernel<4>;
using TqDequantize5 = TqDequantizeKernel<5>;
using TqDequantize6 = TqDequantizeKernel<6>;
using TqDequantize8 = TqDequantizeKernel<8>;
using TqInverseRotateD256 = TqInverseRotateFastKernel<256>;
using TqInverseRotateD512 = TqInverseRotateFastKernel<512>;
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeFastD256, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeFastD512, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeHb5D256, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeHb5D512, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeHb6D256, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeHb6D512, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeHb8D256, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeHb8D512, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqEncodeFallbackKernel, TqEncodeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqDequantize4, TqDequantizeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqDequantize5, TqDequantizeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqDequantize6, TqDequantizeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqDequantize8, TqDequantizeArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqInverseRotateD256, TqInverseRotateArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqInverseRotateD512, TqInverseRotateArgs)
TGK_DEFINE_KERNEL_RUNNERS(TqInverseRotateFallbackKernel, TqInverseRotateArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "kernels/tq_kv/tq_codebooks.h"
#include "kernels/tq_kv/tq_kv.h"
#include "tgk/detail/checked_math.h"
#include "tgk/detail/validate.h"
#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

TGK_EXPORT_KERNEL(TqEncodeFastD256, "hadamard_quantize_kv_fast_d256")
TGK_EXPORT_KERNEL(TqEncodeFastD512, "hadamard_quantize_kv_fast_d512")
TGK_EXPORT_KERNEL(TqEncodeHb5D256, "hadamard_quantize_kv_hb_d256")
TGK_EXPORT_KERNEL(TqEncodeHb5D512, "hadamard_quantize_kv_hb_d512")
TGK_EXPORT_KERNEL(TqEncodeHb6D256, "hadamard_quantize_kv_hb_d256")
TGK_EXPORT_KERNEL(TqEncodeHb6D512, "hadamard_quantize_kv_hb_d512")
TGK_EXPORT_KERNEL(TqEncodeHb8D256, "hadamard_quantize_kv_hb_d256")
TGK_EXPORT_KERNEL(TqEncodeHb8D512, "hadamard_quantize_kv_hb_d512")
TGK_EXPORT_KERNEL(TqEncodeFallbackKernel, "hadamard_quantize_kv")
TGK_EXPORT_KERNEL(TqDequantize4, "tq_dequantize_kv")
TGK_EXPORT_KERNEL(TqDequantize5, "tq_dequantize_hb_kv_seq")
TGK_EXPORT_KERNEL(TqDequantize6, "tq_dequantize_hb_kv_seq")
TGK_EXPORT_KERNEL(TqDequantize8, "tq_dequantize_hb_kv_seq")
TGK_EXPORT_KERNEL(TqInverseRotateD256, "tq_inverse_rotate_d256")
TGK_EXPORT_KERNEL(TqInverseRotateD512, "tq_inverse_rotate_d512")
TGK_EXPORT_KERNEL(TqInverseRotateFallbackKernel, "tq_inverse_rotate")

namespace {

template <class... Args>
[[noreturn]] void Fail(std::string_view prefix, const Args&... args) {
  ThrowInvalidArgument(detail::Cat(prefix, ": ", args...));
}

bool IsPowerOfTwo(uint32_t n) { return n != 0 && (n & (n - 1)) == 0; }
uint32_t NormsPerPos(uint32_t head_dim) { return std::max(1u, head_dim / 256); }

uint64_t Product(std::string_view prefix, const char* what,
                 std::initializer_list<uint64_t> factors) {
  const auto product = detail::CheckedProduct(factors);
  if (!product) Fail(prefix, "the size of ", what, " overflows 64 bits");
  return *product;
}

// Dtype and null pointer (the README's rules 2 and 3).
void CheckBuffer(std::string_view prefix, const char* name, ConstView view, DType dtype) {
  if (view.dtype() != dtype) {
    Fail(prefix, name, " must be ", Name(dtype), " (got ", Name(view.dtype()), ")");
  }
  detail::CheckNotNull(prefix, name, view);
}

// The encoders' src rule, one token: nkv·D f32 elements.
void CheckSrc(std::string_view prefix, ConstView src, uint64_t need, uint32_t nkv, uint32_t d) {
  CheckBuffer(prefix, "src", src, DType::kF32);
  if (src.count() < need) {
    Fail(prefix, "src has ", src.count(), " elements but need ", need, " (num_kv_heads=", nkv,
         " * head_dim=", d, ")");
  }
}

// packed u8 [nkv, cap, D/2] (nibbles) or [nkv, cap, D] (bytes).
void CheckPacked(std::string_view prefix, ConstView packed, uint64_t need, uint32_t nkv,
                 uint32_t cap, uint32_t d, bool nibbles) {
  CheckBuffer(prefix, "packed", packed, DType::kU8);
  if (packed.bytes() < need) {
    Fail(prefix, "packed buffer has ", packed.bytes(), " bytes but need ", need,
         " (num_kv_heads=", nkv, " * cache_capacity=", cap,
         nibbles ? " * head_dim/2=" : " * head_dim=", nibbles ? d / 2 : d, ")");
  }
}

void CheckNorms(std::string_view prefix, ConstView norms, uint64_t need, uint32_t nkv, uint32_t cap,
                uint32_t d) {
  CheckBuffer(prefix, "norms", norms, DType::kF32);
  if (norms.count() < need) {
    Fail(prefix, "norms buffer has ", norms.count(), " elements but need ", need,
         " (num_kv_heads=", nkv, " * cache_capacity=", cap, " * norms_per_pos=", NormsPerPos(d),
         ")");
  }
}

// The README's rules 1 and 4 for an encoder, after the spec's checks.
void CheckEncodeBuffers(std::string_view prefix, const TqEncodeElements& need, ConstView src,
                        View packed, View norms) {
  detail::CheckExactCount(prefix, "src", src, need.src);
  detail::CheckExactCount(prefix, "packed", packed, need.packed);
  detail::CheckExactCount(prefix, "norms", norms, need.norms);
  detail::CheckNoOverlap(prefix, {{"packed", packed}, {"norms", norms}}, {{"src", src}});
}

// The same for a dequantiser.
void CheckDequantizeBuffers(std::string_view prefix, const TqDequantizeElements& need,
                            ConstView packed, ConstView norms, View dst) {
  detail::CheckExactCount(prefix, "packed", packed, need.packed);
  detail::CheckExactCount(prefix, "norms", norms, need.norms);
  detail::CheckExactCount(prefix, "dst", dst, need.dst);
  detail::CheckNoOverlap(prefix, {{"dst", dst}}, {{"packed", packed}, {"norms", norms}});
}

void CheckSlidingCapacity(std::string_view prefix, bool is_sliding, uint32_t cap) {
  if (is_sliding && cap == 0) {
    Fail(prefix,
         "a sliding cache needs cache_capacity > 0 (the row is write_pos mod "
         "cache_capacity)");
  }
}

// The fallback encoder and the rotation run one lane per element.
void CheckLanes(std::string_view prefix, uint32_t d, const char* what) {
  if (d > kMaxGroupSize) {
    Fail(prefix, "head_dim ", d, " needs ", d, " lanes per threadgroup, more than ", kMaxGroupSize,
         " (", what, " runs one lane per element)");
  }
}

void CheckReadPos(std::string_view prefix, uint32_t read_pos, uint32_t cap) {
  if (read_pos >= cap) Fail(prefix, "read_pos(", read_pos, ") >= cache_capacity(", cap, ")");
}

// The sequence dequantisers' dst size and row range (64-bit sum).
void CheckSequenceDst(std::string_view prefix, View dst, uint64_t need, uint32_t nkv,
                      uint32_t n_tokens, uint32_t d) {
  if (dst.count() < need) {
    Fail(prefix, "dst has ", dst.count(), " elements, need ", need, " (num_kv_heads=", nkv,
         " × n_tokens=", n_tokens, " × head_dim=", d, ")");
  }
}
void CheckSequenceRows(std::string_view prefix, uint32_t start_pos, uint32_t n_tokens,
                       uint32_t cap) {
  if (uint64_t{start_pos} + n_tokens > cap) {
    Fail(prefix, "start_pos(", start_pos, ") + n_tokens(", n_tokens, ") > cache_capacity(", cap,
         ")");
  }
}

// The dequantisers divide by scale_factor_d512 for D > 256; for D <= 256 it is unused, and
// still must be finite (a NaN there is a caller's mistake, never a meaning).
void CheckScaleFactor(std::string_view prefix, uint32_t d, float sf) {
  if (d > 256 && !(std::isfinite(sf) && sf != 0.0f)) {
    Fail(prefix, "scale_factor_d512 must be finite and non-zero for head_dim ", d,
         " > 256 (the decoder divides the norms by it), got ", sf);
  }
  detail::CheckFinite(prefix, "scale_factor_d512", sf);
}

// The element counts of the encoders' buffers, in their check order.
TqEncodeElements EncodeElements(std::string_view prefix, uint64_t src_tokens, uint32_t nkv,
                                uint32_t d, uint32_t cap, bool nibbles) {
  return TqEncodeElements{.src = Product(prefix, "src", {src_tokens, nkv, d}),
                          .packed = Product(prefix, "packed", {nkv, cap, nibbles ? d / 2 : d}),
                          .norms = Product(prefix, "norms", {nkv, cap, NormsPerPos(d)})};
}

// The same for the dequantisers (dst [nkv, n_tokens, D]).
TqDequantizeElements DequantizeElements(std::string_view prefix, uint32_t nkv, uint32_t d,
                                        uint32_t cap, uint32_t n_tokens, bool nibbles) {
  const uint64_t dst = Product(prefix, "dst", {nkv, n_tokens, d});
  return TqDequantizeElements{.packed = Product(prefix, "packed", {nkv, cap, nibbles ? d / 2 : d}),
                              .norms = Product(prefix, "norms", {nkv, cap, NormsPerPos(d)}),
                              .dst = dst};
}

constexpr std::string_view kEncodePrefix = "hadamard_quantize_kv";
constexpr std::string_view kEncodeSeqPrefix = "hadamard_quantize_kv_seq";
constexpr std::string_view kEncodeHbPrefix = "hadamard_quantize_kv_hb";
constexpr std::string_view kEncodeHbSeqPrefix = "hadamard_quantize_kv_hb_seq";
constexpr std::string_view kDequantizePrefix = "tq_dequantize_kv";
constexpr std::string_view kDequantizeSeqPrefix = "tq_dequantize_kv_seq";
constexpr std::string_view kDequantizeHbPrefix = "dispatch_tq_dequantize_hb_kv";
constexpr std::string_view kDequantizeHbSeqPrefix = "dispatch_tq_dequantize_hb_kv_seq";
constexpr std::string_view kRotatePrefix = "tq_inverse_rotate";

// Records the encoder for `tokens` tokens, token t at position first_pos + t (groups as in
// tq_kv_args.h).
void RecordEncode(Queue& queue, uint32_t bits, uint32_t nkv, uint32_t d, uint32_t cap,
                  uint64_t first_pos, uint32_t tokens, bool is_sliding, float sf, const float* src,
                  View packed, View norms) {
  const uint64_t code_bytes = uint64_t{tokens} * nkv * (bits == 4 ? d / 2 : d);
  const TqEncodeArgs args{src,
                          packed.as<uint8_t>(),
                          norms.as<float>(),
                          nkv,
                          d,
                          cap,
                          first_pos,
                          is_sliding,
                          TqRotationScale(d),
                          sf,
                          code_bytes > kTqStreamCodeBytes ? RowStore::kStream : RowStore::kCached};
  const uint32_t heads = d == 256 || d == 512 ? TqEncodeHeadsPerGroup(nkv) : 1;
  const Dim3 grid{nkv / heads, tokens, 1};
  if (d == 256) {
    const detail::KernelEntry& entry = bits == 4   ? TqEncodeFastD256Entry()
                                       : bits == 5 ? TqEncodeHb5D256Entry()
                                       : bits == 6 ? TqEncodeHb6D256Entry()
                                                   : TqEncodeHb8D256Entry();
    queue.dispatch(entry, grid, heads * kSimdWidth, ArenaSizes{}, args);
  } else if (d == 512) {
    const detail::KernelEntry& entry = bits == 4   ? TqEncodeFastD512Entry()
                                       : bits == 5 ? TqEncodeHb5D512Entry()
                                       : bits == 6 ? TqEncodeHb6D512Entry()
                                                   : TqEncodeHb8D512Entry();
    queue.dispatch(entry, grid, heads * kSimdWidth, ArenaSizes{}, args);
  } else {
    queue.dispatch(TqEncodeFallbackKernelEntry(), grid, TqFallbackGroupSize(d),
                   TqFallbackArenaSizes(d), args);
  }
}

// The sequence encoders' src count rule: (src_tok_offset + n_tokens)·nkv·D elements.
template <class SeqParams>
void CheckSeqSrc(std::string_view prefix, const SeqParams& p, ConstView src, uint64_t need) {
  if (src.count() < need) {
    Fail(prefix, "src has ", src.count(), " elements but need ", need,
         " (src_tok_offset=", p.src_tok_offset, " + n_tokens=", p.n_tokens,
         " * num_kv_heads=", p.num_kv_heads, " * head_dim=", p.head_dim, ")");
  }
}

// A global cache must hold every position write_pos_start + i (64-bit sums).
template <class SeqParams>
void CheckSeqWritePos(std::string_view prefix, const SeqParams& p) {
  const uint32_t cap = p.cache_capacity;
  if (!p.is_sliding && uint64_t{p.write_pos_start} + p.n_tokens > cap) {
    // The first token whose position is past the cache.
    const uint64_t first_bad = p.write_pos_start >= cap ? 0 : cap - p.write_pos_start;
    Fail(prefix, "global cache write_pos(", p.write_pos_start + first_bad, ") >= cache_capacity(",
         cap, ") at seq idx ", first_bad);
  }
}

// The tokens a sequence encoder skips: a sliding cache keeps the last cap tokens, the earlier
// ones would be overwritten in order.
uint32_t SkippedTokens(bool is_sliding, uint32_t n_tokens, uint32_t cap) {
  return is_sliding && n_tokens > cap ? n_tokens - cap : 0;
}

template <class SeqParams>
void RecordEncodeSeq(Queue& queue, uint32_t bits, const SeqParams& p, ConstView src, View packed,
                     View norms) {
  const uint32_t nkv = p.num_kv_heads, d = p.head_dim;
  const uint32_t skipped = SkippedTokens(p.is_sliding, p.n_tokens, p.cache_capacity);
  const float* first_token = src.as<float>() + (uint64_t{p.src_tok_offset} + skipped) * nkv * d;
  RecordEncode(queue, bits, nkv, d, p.cache_capacity, uint64_t{p.write_pos_start} + skipped,
               p.n_tokens - skipped, p.is_sliding, p.scale_factor_d512, first_token, packed, norms);
}

void CheckCodebookBits(std::string_view prefix, uint32_t bits) {
  if (bits != 5 && bits != 6 && bits != 8) {
    Fail(prefix, "codebook_bits must be 5, 6, or 8, got ", bits);
  }
}

void RecordDequantize(Queue& queue, uint32_t bits, uint32_t nkv, uint32_t d, uint32_t cap,
                      uint32_t start_pos, uint32_t n_tokens, float sf, ConstView packed,
                      ConstView norms, View dst) {
  const TqDequantizeArgs args{packed.as<uint8_t>(),
                              norms.as<float>(),
                              dst.as<float>(),
                              TqTableFor(bits).codebook,
                              d,
                              cap,
                              start_pos,
                              n_tokens,
                              NormsPerPos(d),
                              TqRotationScale(d),
                              sf,
                              uint64_t{nkv} * n_tokens * d * sizeof(float) > kTqStreamDstBytes
                                  ? RowStore::kStream
                                  : RowStore::kCached};
  const detail::KernelEntry& entry = bits == 4   ? TqDequantize4Entry()
                                     : bits == 5 ? TqDequantize5Entry()
                                     : bits == 6 ? TqDequantize6Entry()
                                                 : TqDequantize8Entry();
  queue.dispatch(entry, Dim3{n_tokens, nkv, 1}, TqDequantizeGroupSize(d), ArenaSizes{}, args);
}

}  // namespace

float TqRotationScale(uint32_t head_dim) {
  // 1/√D is 2^-k or 2^-k/√2 for the powers of two the encoders use, far from any binary32
  // tie, so rounding the double quotient once more gives the nearest binary32.
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
}

// ---- element counts ------------------------------------------------------------------------

TqEncodeElements HadamardQuantizeKvRequiredElements(const HadamardQuantizeKvParams& p) {
  return EncodeElements(kEncodePrefix, 1, p.num_kv_heads, p.head_dim, p.cache_capacity, true);
}
TqEncodeElements HadamardQuantizeKvSeqRequiredElements(const HadamardQuantizeKvSeqParams& p) {
  return EncodeElements(kEncodeSeqPrefix, uint64_t{p.src_tok_offset} + p.n_tokens, p.num_kv_heads,
                        p.head_dim, p.cache_capacity, true);
}
TqEncodeElements HadamardQuantizeKvHbRequiredElements(const HadamardQuantizeKvHbParams& p) {
  return EncodeElements(kEncodeHbPrefix, 1, p.num_kv_heads, p.head_dim, p.cache_capacity, false);
}
TqEncodeElements HadamardQuantizeKvHbSeqRequiredElements(const HadamardQuantizeKvHbSeqParams& p) {
  return EncodeElements(kEncodeHbSeqPrefix, uint64_t{p.src_tok_offset} + p.n_tokens, p.num_kv_heads,
                        p.head_dim, p.cache_capacity, false);
}
TqDequantizeElements TqDequantizeKvRequiredElements(const TqDequantizeKvParams& p) {
  return DequantizeElements(kDequantizePrefix, p.num_kv_heads, p.head_dim, p.cache_capacity, 1,
                            true);
}
TqDequantizeElements TqDequantizeKvSeqRequiredElements(const TqDequantizeKvSeqParams& p) {
  return DequantizeElements(kDequantizeSeqPrefix, p.num_kv_heads, p.head_dim, p.cache_capacity,
                            p.n_tokens, true);
}
TqDequantizeElements TqDequantizeHbKvRequiredElements(const TqDequantizeHbKvParams& p) {
  return DequantizeElements(kDequantizeHbPrefix, p.num_kv_heads, p.head_dim, p.cache_capacity, 1,
                            false);
}
TqDequantizeElements TqDequantizeHbKvSeqRequiredElements(const TqDequantizeHbKvSeqParams& p) {
  return DequantizeElements(kDequantizeHbSeqPrefix, p.num_kv_heads, p.head_dim, p.cache_capacity,
                            p.n_tokens, false);
}
TqInverseRotateElements TqInverseRotateRequiredElements(const TqInverseRotateParams& p) {
  const uint64_t n = Product(kRotatePrefix, "rotated", {p.rows, p.head_dim});
  return TqInverseRotateElements{.rotated = n, .out = n};
}

// ---- encoders ----------------------------------------------------------------------------

void HadamardQuantizeKv(Queue& queue, const HadamardQuantizeKvParams& p, ConstView src, View packed,
                        View norms) {
  constexpr std::string_view kPrefix = kEncodePrefix;
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (nkv == 0 || d == 0) return;
  if (!IsPowerOfTwo(d)) Fail(kPrefix, "head_dim must be a power of two, got ", d);
  if (d > 4096) {
    Fail(kPrefix, "head_dim ", d,
         " exceeds Metal 32 KB threadgroup limit (max 4096 for 2x f32 shared memory)");
  }
  if (d % 2 != 0) Fail(kPrefix, "head_dim must be even for nibble packing, got ", d);
  if (d != 256 && d != 512) CheckLanes(kPrefix, d, "the fallback encoder");
  if (!p.is_sliding && p.write_pos >= cap) {
    Fail(kPrefix, "global cache write_pos(", p.write_pos, ") >= cache_capacity(", cap, ")");
  }
  CheckSlidingCapacity(kPrefix, p.is_sliding, cap);
  detail::CheckFinite(kPrefix, "scale_factor_d512", p.scale_factor_d512);
  const TqEncodeElements need = HadamardQuantizeKvRequiredElements(p);
  CheckSrc(kPrefix, src, need.src, nkv, d);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/true);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckEncodeBuffers(kPrefix, need, src, packed, norms);
  RecordEncode(queue, 4, nkv, d, cap, p.write_pos, 1, p.is_sliding, p.scale_factor_d512,
               src.as<float>(), packed, norms);
}

void HadamardQuantizeKvSeq(Queue& queue, const HadamardQuantizeKvSeqParams& p, ConstView src,
                           View packed, View norms) {
  constexpr std::string_view kPrefix = kEncodeSeqPrefix;
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (p.n_tokens == 0 || nkv == 0 || d == 0) return;
  CheckBuffer(kPrefix, "src", src, DType::kF32);
  const TqEncodeElements need = HadamardQuantizeKvSeqRequiredElements(p);
  CheckSeqSrc(kPrefix, p, src, need.src);
  if (!IsPowerOfTwo(d)) Fail(kPrefix, "head_dim must be a power of two, got ", d);
  if (d > 4096) Fail(kPrefix, "head_dim ", d, " exceeds Metal 32 KB threadgroup limit");
  if (d % 2 != 0) Fail(kPrefix, "head_dim must be even for nibble packing, got ", d);
  if (d != 256 && d != 512) CheckLanes(kPrefix, d, "the fallback encoder");
  CheckSeqWritePos(kPrefix, p);
  CheckSlidingCapacity(kPrefix, p.is_sliding, cap);
  detail::CheckFinite(kPrefix, "scale_factor_d512", p.scale_factor_d512);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/true);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckEncodeBuffers(kPrefix, need, src, packed, norms);
  RecordEncodeSeq(queue, 4, p, src, packed, norms);
}

void HadamardQuantizeKvHb(Queue& queue, const HadamardQuantizeKvHbParams& p, ConstView src,
                          View packed, View norms) {
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (nkv == 0 || d == 0) return;
  CheckCodebookBits("dispatch_hadamard_quantize_kv_hb", p.codebook_bits);
  constexpr std::string_view kPrefix = kEncodeHbPrefix;
  if (d != 256 && d != 512) Fail(kPrefix, "head_dim ", d, " not supported (need 256 or 512)");
  if (!p.is_sliding && p.write_pos >= cap) {
    Fail(kPrefix, "global cache write_pos(", p.write_pos, ") >= cache_capacity(", cap, ")");
  }
  CheckSlidingCapacity(kPrefix, p.is_sliding, cap);
  detail::CheckFinite(kPrefix, "scale_factor_d512", p.scale_factor_d512);
  const TqEncodeElements need = HadamardQuantizeKvHbRequiredElements(p);
  CheckSrc(kPrefix, src, need.src, nkv, d);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/false);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckEncodeBuffers(kPrefix, need, src, packed, norms);
  RecordEncode(queue, p.codebook_bits, nkv, d, cap, p.write_pos, 1, p.is_sliding,
               p.scale_factor_d512, src.as<float>(), packed, norms);
}

void HadamardQuantizeKvHbSeq(Queue& queue, const HadamardQuantizeKvHbSeqParams& p, ConstView src,
                             View packed, View norms) {
  constexpr std::string_view kPrefix = kEncodeHbSeqPrefix;
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (p.n_tokens == 0 || nkv == 0 || d == 0) return;
  CheckBuffer(kPrefix, "src", src, DType::kF32);
  const TqEncodeElements need = HadamardQuantizeKvHbSeqRequiredElements(p);
  CheckSeqSrc(kPrefix, p, src, need.src);
  CheckCodebookBits(kPrefix, p.codebook_bits);
  if (d != 256 && d != 512) Fail(kPrefix, "head_dim ", d, " not supported (need 256 or 512)");
  CheckSeqWritePos(kPrefix, p);
  CheckSlidingCapacity(kPrefix, p.is_sliding, cap);
  detail::CheckFinite(kPrefix, "scale_factor_d512", p.scale_factor_d512);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/false);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckEncodeBuffers(kPrefix, need, src, packed, norms);
  RecordEncodeSeq(queue, p.codebook_bits, p, src, packed, norms);
}

// ---- dequantisers ------------------------------------------------------------------------

void TqDequantizeKv(Queue& queue, const TqDequantizeKvParams& p, ConstView packed, ConstView norms,
                    View dst) {
  constexpr std::string_view kPrefix = kDequantizePrefix;
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (nkv == 0 || d == 0) return;
  if (!IsPowerOfTwo(d)) Fail(kPrefix, "head_dim must be a power of two, got ", d);
  CheckBuffer(kPrefix, "dst", dst, DType::kF32);
  const TqDequantizeElements need = TqDequantizeKvRequiredElements(p);
  if (dst.count() < need.dst) Fail(kPrefix, "dst has ", dst.count(), " elements, need ", need.dst);
  if (d % 2 != 0) Fail(kPrefix, "head_dim must be even for nibble packing, got ", d);
  CheckReadPos(kPrefix, p.read_pos, cap);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/true);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckScaleFactor(kPrefix, d, p.scale_factor_d512);
  CheckDequantizeBuffers(kPrefix, need, packed, norms, dst);
  RecordDequantize(queue, 4, nkv, d, cap, p.read_pos, 1, p.scale_factor_d512, packed, norms, dst);
}

void TqDequantizeKvSeq(Queue& queue, const TqDequantizeKvSeqParams& p, ConstView packed,
                       ConstView norms, View dst) {
  constexpr std::string_view kPrefix = kDequantizeSeqPrefix;
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (nkv == 0 || d == 0 || p.n_tokens == 0) return;
  if (!IsPowerOfTwo(d)) Fail(kPrefix, "head_dim must be a power of two, got ", d);
  CheckBuffer(kPrefix, "dst", dst, DType::kF32);
  const TqDequantizeElements need = TqDequantizeKvSeqRequiredElements(p);
  CheckSequenceDst(kPrefix, dst, need.dst, nkv, p.n_tokens, d);
  if (d % 2 != 0) Fail(kPrefix, "head_dim must be even for nibble packing, got ", d);
  CheckSequenceRows(kPrefix, p.start_pos, p.n_tokens, cap);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/true);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckScaleFactor(kPrefix, d, p.scale_factor_d512);
  CheckDequantizeBuffers(kPrefix, need, packed, norms, dst);
  RecordDequantize(queue, 4, nkv, d, cap, p.start_pos, p.n_tokens, p.scale_factor_d512, packed,
                   norms, dst);
}

void TqDequantizeHbKv(Queue& queue, const TqDequantizeHbKvParams& p, ConstView packed,
                      ConstView norms, View dst) {
  constexpr std::string_view kPrefix = kDequantizeHbPrefix;
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (nkv == 0 || d == 0) return;
  CheckCodebookBits(kPrefix, p.codebook_bits);
  CheckBuffer(kPrefix, "dst", dst, DType::kF32);
  const TqDequantizeElements need = TqDequantizeHbKvRequiredElements(p);
  if (dst.count() < need.dst) Fail(kPrefix, "dst has ", dst.count(), " elements, need ", need.dst);
  CheckReadPos(kPrefix, p.read_pos, cap);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/false);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckScaleFactor(kPrefix, d, p.scale_factor_d512);
  CheckDequantizeBuffers(kPrefix, need, packed, norms, dst);
  RecordDequantize(queue, p.codebook_bits, nkv, d, cap, p.read_pos, 1, p.scale_factor_d512, packed,
                   norms, dst);
}

void TqDequantizeHbKvSeq(Queue& queue, const TqDequantizeHbKvSeqParams& p, ConstView packed,
                         ConstView norms, View dst) {
  constexpr std::string_view kPrefix = kDequantizeHbSeqPrefix;
  const uint32_t d = p.head_dim, nkv = p.num_kv_heads, cap = p.cache_capacity;
  if (nkv == 0 || d == 0 || p.n_tokens == 0) return;
  if (!IsPowerOfTwo(d)) Fail(kPrefix, "head_dim must be power of two, got ", d);
  CheckCodebookBits(kPrefix, p.codebook_bits);
  CheckBuffer(kPrefix, "dst", dst, DType::kF32);
  const TqDequantizeElements need = TqDequantizeHbKvSeqRequiredElements(p);
  CheckSequenceDst(kPrefix, dst, need.dst, nkv, p.n_tokens, d);
  CheckSequenceRows(kPrefix, p.start_pos, p.n_tokens, cap);
  CheckPacked(kPrefix, packed, need.packed, nkv, cap, d, /*nibbles=*/false);
  CheckNorms(kPrefix, norms, need.norms, nkv, cap, d);
  CheckScaleFactor(kPrefix, d, p.scale_factor_d512);
  CheckDequantizeBuffers(kPrefix, need, packed, norms, dst);
  RecordDequantize(queue, p.codebook_bits, nkv, d, cap, p.start_pos, p.n_tokens,
                   p.scale_factor_d512, packed, norms, dst);
}

// ---- the inverse rotation ------------------------------------------------------------------

void TqInverseRotate(Queue& queue, const TqInverseRotateParams& p, ConstView rotated, View out) {
  constexpr std::string_view kPrefix = kRotatePrefix;
  const uint32_t d = p.head_dim;
  if (p.rows == 0 || d == 0) return;
  if (!IsPowerOfTwo(d)) Fail(kPrefix, "head_dim must be a power of two, got ", d);
  CheckLanes(kPrefix, d, "the rotation");
  const TqInverseRotateElements need = TqInverseRotateRequiredElements(p);
  const auto check = [&](const char* name, ConstView view, uint64_t n) {
    CheckBuffer(kPrefix, name, view, DType::kF32);
    if (view.count() < n) {
      Fail(kPrefix, name, " has ", view.count(), " elements but need ", n, " (rows=", p.rows,
           " * head_dim=", d, ")");
    }
  };
  check("rotated", rotated, need.rotated);
  check("out", out, need.out);
  detail::CheckExactCount(kPrefix, "rotated", rotated, need.rotated);
  detail::CheckExactCount(kPrefix, "out", out, need.out);
  detail::CheckInPlaceOrDisjoint(kPrefix, {"out", out}, {"rotated", rotated});
  const TqInverseRotateArgs args{rotated.as<float>(), out.as<float>(), d, TqRotationScale(d)};
  const Dim3 grid{p.rows, 1, 1};
  if (d == 256) {
    queue.dispatch(TqInverseRotateD256Entry(), grid, kTqFastGroupSize, ArenaSizes{}, args);
  } else if (d == 512) {
    queue.dispatch(TqInverseRotateD512Entry(), grid, kTqFastGroupSize, ArenaSizes{}, args);
  } else {
    queue.dispatch(TqInverseRotateFallbackKernelEntry(), grid, TqFallbackGroupSize(d),
                   TqFallbackArenaSizes(d), args);
  }
}

// ---- bytes moved ----------------------------------------------------------------------------

namespace {

// Per (head, token): f32 input, the packed row, the norms.
uint64_t EncodeBytes(uint64_t heads_times_tokens, uint32_t d, bool nibbles) {
  if (d == 0) return 0;
  return heads_times_tokens * (uint64_t{d} * 4 + (nibbles ? d / 2 : d) + NormsPerPos(d) * 4);
}
// Per (head, token): the packed row, the norms, f32 output.
uint64_t DequantizeBytes(uint64_t heads_times_tokens, uint32_t d, bool nibbles) {
  if (d == 0) return 0;
  return heads_times_tokens * ((nibbles ? d / 2 : d) + NormsPerPos(d) * 4 + uint64_t{d} * 4);
}

}  // namespace

uint64_t HadamardQuantizeKvBytes(const HadamardQuantizeKvParams& p) {
  return EncodeBytes(p.num_kv_heads, p.head_dim, true);
}
uint64_t HadamardQuantizeKvSeqBytes(const HadamardQuantizeKvSeqParams& p) {
  const uint32_t tokens = p.n_tokens - SkippedTokens(p.is_sliding, p.n_tokens, p.cache_capacity);
  return EncodeBytes(uint64_t{p.num_kv_heads} * tokens, p.head_dim, true);
}
uint64_t HadamardQuantizeKvHbBytes(const HadamardQuantizeKvHbParams& p) {
  return EncodeBytes(p.num_kv_heads, p.head_dim, false);
}
uint64_t HadamardQuantizeKvHbSeqBytes(const HadamardQuantizeKvHbSeqParams& p) {
  const uint32_t tokens = p.n_tokens - SkippedTokens(p.is_sliding, p.n_tokens, p.cache_capacity);
  return EncodeBytes(uint64_t{p.num_kv_heads} * tokens, p.head_dim, false);
}
uint64_t TqDequantizeKvBytes(const TqDequantizeKvParams& p) {
  return DequantizeBytes(p.num_kv_heads, p.head_dim, true);
}
uint64_t TqDequantizeKvSeqBytes(const TqDequantizeKvSeqParams& p) {
  return DequantizeBytes(uint64_t{p.num_kv_heads} * p.n_tokens, p.head_dim, true);
}
uint64_t TqDequantizeHbKvBytes(const TqDequantizeHbKvParams& p) {
  return DequantizeBytes(p.num_kv_heads, p.head_dim, false);
}
uint64_t TqDequantizeHbKvSeqBytes(const TqDequantizeHbKvSeqParams& p) {
  return DequantizeBytes(uint64_t{p.num_kv_heads} * p.n_tokens, p.head_dim, false);
}
uint64_t TqInverseRotateBytes(const TqInverseRotateParams& p) {
  return uint64_t{p.rows} * p.head_dim * 2 * sizeof(float);
}

}  // namespace tgk
#endif  // HWY_ONCE
