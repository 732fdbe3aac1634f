// What the Gated DeltaNet chunk stages (gdn_solve, gdn_wu, gdn_state, gdn_output, gdn_chunk)
// share on the host: the chunk size, the size limit, and the checks of their buffers.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>

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

// The product of `dims`, or an error naming `what` if it overflows 64 bits.
inline uint64_t Count(const std::string& prefix, std::initializer_list<uint64_t> dims,
                      const char* what) {
  const auto product = detail::CheckedProduct(dims);
  if (!product) ThrowInvalidArgument(prefix + ": element count of " + what + " overflows 64 bits");
  return *product;
}

using detail::CheckNotNull;  // the shared rule and message (tgk/detail/validate.h)

// "{name} must be {dtype}[{n}] (got {count} {dtype})", the form of the spec's stages 3, 5, 7.
inline void CheckTyped(const std::string& prefix, const char* name, ConstView view, DType dtype,
                       uint64_t count) {
  if (view.count() != count || view.dtype() != dtype) {
    ThrowInvalidArgument(prefix + ": " + name + " must be " + std::string(Name(dtype)) + "[" +
                         std::to_string(count) + "] (got " + std::to_string(view.count()) + " " +
                         std::string(Name(view.dtype())) + ")");
  }
  CheckNotNull(prefix, name, view);
}

// "{name} element count {count} != expected {n}", then "{name} must be {dtype} (got {dtype})",
// the form of the spec's stages 4 and 6 and of the orchestrator.
inline void CheckCount(const std::string& prefix, const char* name, ConstView view,
                       uint64_t count) {
  if (view.count() != count) {
    ThrowInvalidArgument(prefix + ": " + name + " element count " + std::to_string(view.count()) +
                         " != expected " + std::to_string(count));
  }
}
inline void CheckDType(const std::string& prefix, const char* name, ConstView view, DType dtype) {
  if (view.dtype() != dtype) {
    ThrowInvalidArgument(prefix + ": " + name + " must be " + std::string(Name(dtype)) + " (got " +
                         std::string(Name(view.dtype())) + ")");
  }
  CheckNotNull(prefix, name, view);
}

}  // namespace tgk::gdn
