// What the Gated DeltaNet families share on the host: the chunk size and the size limit of the
// chunk stages (gdn_cumsum, gdn_solve, gdn_wu, gdn_state, gdn_output, gdn_chunk), and the
// checks of shapes and buffers in their messages' forms, which gdn_recurrent shares too.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "tgk/detail/checked_math.h"
#include "tgk/detail/validate.h"
#include "tgk/dtype.h"
#include "tgk/error.h"
#include "tgk/view.h"

namespace tgk::gdn {

inline constexpr uint32_t kChunk = 64;  // BT, fixed: another chunk size changes the rounding
// K and V beyond this would need threadgroup arenas past tgk's per-arena ceiling.
inline constexpr uint32_t kMaxDim = 16384;

inline uint32_t Chunks(uint32_t t) { return (t + kChunk - 1) / kChunk; }

// An f32 as the spec's messages (from Rust's Display) print the values that reach them, the
// non-finite ones: inf, -inf, NaN; finite values print with their shortest round-trip digits.
inline std::string FormatF32(float x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, x).ptr;
  return std::string(text, end);
}

// The checks below give the messages of the spec's forms; `prefix` is the entry point's name as
// its messages start (they follow it with ": "). Like tgk/detail/validate.h's, they build a
// message only when a check fails, so a valid call allocates nothing.

// The product of `dims`, or an error naming `what` if it overflows 64 bits.
inline uint64_t Count(std::string_view prefix, std::initializer_list<uint64_t> dims,
                      std::string_view what) {
  const auto product = detail::CheckedProduct(dims);
  if (!product)
    ThrowInvalidArgument(detail::Cat(prefix, ": element count of ", what, " overflows 64 bits"));
  return *product;
}

using detail::CheckNotNull;  // the shared rule and message (tgk/detail/validate.h)

// "all dims must be > 0", every stage's first rule.
inline void CheckDims(std::string_view prefix, std::initializer_list<uint32_t> dims) {
  for (uint32_t d : dims) {
    if (d == 0) ThrowInvalidArgument(detail::Cat(prefix, ": all dims must be > 0"));
  }
}

// "h ({H}) must be a multiple of hg ({Hg})": value heads share key heads in blocks.
inline void CheckHeads(std::string_view prefix, uint32_t H, uint32_t Hg) {
  if (H % Hg != 0) {
    ThrowInvalidArgument(detail::Cat(prefix, ": h (", H, ") must be a multiple of hg (", Hg, ")"));
  }
}

// The state stages' K and V limit (stages 6 and 7).
inline void CheckStateDims(std::string_view prefix, uint32_t K, uint32_t V) {
  if (K > kMaxDim || V > kMaxDim) {
    ThrowInvalidArgument(detail::Cat(prefix, ": K (", K, ") and V (", V, ") must be at most ",
                                     kMaxDim, " (tgk lifts the Metal kernel's K = 128, V <= 256)"));
  }
}

// "{prefix}{where}: bt must be 64 (got {bt})", `where` naming the Metal kernel's iteration
// (" (iter 4)") where the spec's message does.
inline void CheckChunkSize(std::string_view prefix, std::string_view where, uint32_t bt) {
  if (bt != kChunk) {
    ThrowInvalidArgument(detail::Cat(prefix, where, ": bt must be 64 (got ", bt, ")"));
  }
}

inline void CheckScale(std::string_view prefix, float scale) {
  if (!std::isfinite(scale)) {
    ThrowInvalidArgument(
        detail::Cat(prefix, ": scale must be finite (got ", FormatF32(scale), ")"));
  }
}

// "{name} must be {dtype}[{n}] (got {count} {dtype})", the form of the spec's stages 3, 5, 7.
inline void CheckTyped(std::string_view prefix, std::string_view name, ConstView view, DType dtype,
                       uint64_t count) {
  if (view.count() != count || view.dtype() != dtype) {
    ThrowInvalidArgument(detail::Cat(prefix, ": ", name, " must be ", Name(dtype), "[", count,
                                     "] (got ", view.count(), " ", Name(view.dtype()), ")"));
  }
  CheckNotNull(prefix, name, view);
}

// "{name} element count {count} != expected {n}", then "{name} must be {dtype} (got {dtype})",
// the form of the spec's stages 2, 4 and 6, of the orchestrator and of the recurrent kernels.
inline void CheckCount(std::string_view prefix, std::string_view name, ConstView view,
                       uint64_t count) {
  if (view.count() != count) {
    ThrowInvalidArgument(
        detail::Cat(prefix, ": ", name, " element count ", view.count(), " != expected ", count));
  }
}
inline void CheckDType(std::string_view prefix, std::string_view name, ConstView view,
                       DType dtype) {
  if (view.dtype() != dtype) {
    ThrowInvalidArgument(detail::Cat(prefix, ": ", name, " must be ", Name(dtype), " (got ",
                                     Name(view.dtype()), ")"));
  }
  CheckNotNull(prefix, name, view);
}
// Both, for one buffer.
inline void CheckBuffer(std::string_view prefix, std::string_view name, ConstView view,
                        uint64_t count, DType dtype) {
  CheckCount(prefix, name, view, count);
  CheckDType(prefix, name, view, dtype);
}

}  // namespace tgk::gdn
