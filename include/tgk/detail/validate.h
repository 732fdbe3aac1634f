// The rules every host entry point applies to its buffer and scalar arguments, stated once
// (the README's "Buffers and validation" says the same for callers):
//
//   1. Size. A view holds exactly the elements its shape needs: count() equals the field of
//      the entry point's <Entry>RequiredElements(params) for that buffer. Exact, not "at
//      least": a view is free to narrow (View::Of(pool + offset, n)), so a server that keeps a
//      larger pool loses nothing, while a larger view than the shape needs is almost always a
//      shape mix-up (key heads for value heads, capacity for length) that "at least" would run
//      silently. A view that is too small gets its spec's message where the spec has one;
//      every other size mismatch gets CheckExactCount's.
//   2. Dtype. Every buffer has the dtype its entry point documents (messages per family).
//   3. Pointers. A non-empty view has a non-null data pointer.
//   4. Aliasing. No output shares a byte with any other buffer argument, input or output:
//      byte ranges [data, data + bytes()) are half-open and an empty view overlaps nothing. The
//      one exception is an in-place use a contract states (TqInverseRotate: out may be rotated
//      itself, the same data and size), checked by CheckInPlaceOrDisjoint.
//   5. Scalars. A float parameter is finite unless its spec gives NaN or Inf a meaning; an
//      enum or selector outside its documented values is rejected.
//
// The checks run before anything is recorded, so a rejected call writes nothing. The functions
// here give the messages of tgk's own rules; `prefix` is the entry point's name as its messages
// start ("gated_delta_net_kkt", which they follow with ": "), or empty where the spec's messages
// have none. They build a message only when a check fails: a valid call allocates nothing.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>

#include "tgk/error.h"
#include "tgk/view.h"

namespace tgk::detail {

// The message text of the arguments, streamed in order (floats as "nan", "inf", "0.5").
template <class... Args>
std::string Cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// What starts a message of the entry point named `prefix`: "prefix: ", or nothing.
inline std::string Lead(std::string_view prefix) {
  return prefix.empty() ? std::string() : Cat(prefix, ": ");
}

// The factors of a size for a message: "4 * 128".
inline std::string Factors(std::initializer_list<uint64_t> dims) {
  std::string text;
  for (uint64_t d : dims) text += (text.empty() ? "" : " * ") + std::to_string(d);
  return text;
}

// Rule 1. `factor_names` and `factors` spell the product in the message ("num_heads * head_dim"
// and {4, 128} give "(num_heads * head_dim = 4 * 128)"); without them the message has none.
inline void CheckExactCount(std::string_view prefix, std::string_view name, ConstView view,
                            uint64_t need, std::string_view factor_names = {},
                            std::initializer_list<uint64_t> factors = {}) {
  if (view.count() == need) return;
  ThrowInvalidArgument(
      Cat(Lead(prefix), name, " has ", view.count(), " elements, needs exactly ", need,
          factor_names.empty() ? std::string()
                               : Cat(" (", factor_names, " = ", Factors(factors), ")")));
}

// Rule 3.
inline void CheckNotNull(std::string_view prefix, std::string_view name, ConstView view) {
  if (view.count() > 0 && view.data() == nullptr) {
    ThrowInvalidArgument(
        Cat(Lead(prefix), name, " has ", view.count(), " elements but a null data pointer"));
  }
}

// A named buffer argument, for the aliasing rule.
struct NamedView {
  std::string_view name;
  ConstView view;
};

// Whether two views share a byte (rule 4's ranges).
inline bool Overlap(ConstView a, ConstView b) {
  if (a.bytes() == 0 || b.bytes() == 0) return false;
  const auto a_begin = reinterpret_cast<uintptr_t>(a.data());
  const auto b_begin = reinterpret_cast<uintptr_t>(b.data());
  return a_begin < b_begin + b.bytes() && b_begin < a_begin + a.bytes();
}

// Rule 4: each output against every input and every other output, in argument order.
inline void CheckNoOverlap(std::string_view prefix, std::initializer_list<NamedView> outputs,
                           std::initializer_list<NamedView> inputs) {
  for (auto out = outputs.begin(); out != outputs.end(); ++out) {
    const auto check = [&](const NamedView& other) {
      if (Overlap(out->view, other.view)) {
        ThrowInvalidArgument(Cat(Lead(prefix), out->name, " overlaps ", other.name,
                                 " (an output may not share memory with another buffer argument)"));
      }
    };
    for (const NamedView& in : inputs) check(in);
    for (auto other = out + 1; other != outputs.end(); ++other) check(*other);
  }
}

// Rule 4's exception: `out` is `in` itself (same data and size) or shares no byte with it.
inline void CheckInPlaceOrDisjoint(std::string_view prefix, const NamedView& out,
                                   const NamedView& in) {
  const bool same = out.view.data() == in.view.data() && out.view.bytes() == in.view.bytes();
  if (!same && Overlap(out.view, in.view)) {
    ThrowInvalidArgument(
        Cat(Lead(prefix), out.name, " overlaps ", in.name, " without being the same buffer"));
  }
}

// Rule 5 for floats.
inline void CheckFinite(std::string_view prefix, std::string_view name, float value) {
  if (!std::isfinite(value)) {
    ThrowInvalidArgument(Cat(Lead(prefix), name, " must be finite, got ", value));
  }
}

}  // namespace tgk::detail
