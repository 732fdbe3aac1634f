// A 256-entry f32 table in the form the byte-table operations of table-inl.h read: the entries,
// and byte planes of the upper half for the VBMI byte permutes of AVX3_DL.
#ifndef TGK_TABLE_H_
#define TGK_TABLE_H_

#include <bit>
#include <cstdint>

namespace tgk {

// The table must be odd: entry[q] == −entry[255 − q] exactly, every entry non-zero, so that the
// upper 128 entries and a sign determine it (IsOddTable256; the user checks it, e.g. in a
// static_assert). plane[b][e] is byte b (little-endian) of entry[128 + e]'s bits.
struct alignas(64) ByteTable256 {
  float entry[256];
  uint8_t plane[4][128];
};

constexpr bool IsOddTable256(const float (&t)[256]) {
  for (uint32_t q = 0; q < 256; ++q) {
    if (t[q] == 0.0f ||
        std::bit_cast<uint32_t>(t[q]) != (std::bit_cast<uint32_t>(t[255 - q]) ^ 0x80000000u)) {
      return false;
    }
  }
  return true;
}

constexpr ByteTable256 MakeByteTable256(const float (&t)[256]) {
  ByteTable256 table{};
  for (uint32_t q = 0; q < 256; ++q) table.entry[q] = t[q];
  for (uint32_t e = 0; e < 128; ++e) {
    const uint32_t bits = std::bit_cast<uint32_t>(t[128 + e]);
    for (uint32_t b = 0; b < 4; ++b) table.plane[b][e] = uint8_t(bits >> (8 * b));
  }
  return table;
}

}  // namespace tgk

#endif  // TGK_TABLE_H_
