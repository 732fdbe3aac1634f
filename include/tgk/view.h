// tgk's one buffer type: a non-owning, dtype-tagged view of caller memory. Host entry points
// take views so that they can check dtype and size against the kernel's rules.
#pragma once

#include <cstddef>
#include <type_traits>

#include "tgk/dtype.h"
#include "tgk/error.h"

namespace tgk {

template <bool kMutable>
class BasicView {
 public:
  using Pointer = std::conditional_t<kMutable, void*, const void*>;

  BasicView() = default;
  BasicView(Pointer data, size_t count, DType dtype) : data_(data), count_(count), dtype_(dtype) {}
  // A mutable view converts to a read-only one.
  template <bool kOther, class = std::enable_if_t<kOther && !kMutable>>
  BasicView(const BasicView<kOther>& other)  // NOLINT(google-explicit-constructor)
      : data_(other.data()), count_(other.count()), dtype_(other.dtype()) {}

  template <class T>
  static BasicView Of(std::conditional_t<kMutable, T*, const T*> data, size_t count) {
    return BasicView(data, count, DTypeOf<std::remove_const_t<T>>());
  }

  Pointer data() const { return data_; }
  size_t count() const { return count_; }
  DType dtype() const { return dtype_; }
  size_t bytes() const { return count_ * SizeOf(dtype_); }

  // Typed access; the caller has checked the dtype (host entry points do, with a message).
  template <class T>
  auto as() const {
    using Elem = std::conditional_t<kMutable, T, const T>;
    return static_cast<Elem*>(data_);
  }

 private:
  Pointer data_ = nullptr;
  size_t count_ = 0;
  DType dtype_ = DType::kF32;
};

using View = BasicView<true>;
using ConstView = BasicView<false>;

}  // namespace tgk
