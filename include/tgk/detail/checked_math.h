// Overflow-checked size arithmetic for host-side validation.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

namespace tgk::detail {

inline std::optional<uint64_t> CheckedProduct(std::initializer_list<uint64_t> factors) {
  uint64_t product = 1;
  for (uint64_t f : factors) {
    if (__builtin_mul_overflow(product, f, &product)) return std::nullopt;
  }
  return product;
}

}  // namespace tgk::detail
