// Tables in the forms the table operations of table-inl.h read: a 256-entry f32 table with byte
// planes of its upper half for the VBMI byte permutes of AVX3_DL (DecodeTableRow), and sorted
// decision boundaries with their search tree (BucketIndex), optionally with a direct bin lookup
// (BinnedBucketTable); and where the row decoders write (RowStore).
#ifndef TGK_TABLE_H_
#define TGK_TABLE_H_

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace tgk {

// Where a row operation (DecodeTableRow, DecodeNibbleRow) writes its output: through the caches,
// or past them where it can, as lane.store_stream does, for an output no group reads again soon
// (a whole dequantised cache). The values are the same either way.
enum class RowStore { kCached, kStream };

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

// kLevels − 1 decision boundaries, non-decreasing (IsNonDecreasing), that split the floats into
// kLevels buckets (kLevels a power of two, 2 to 256): BucketIndex(z) = #{i : z > boundary[i]}.
// The binary search takes log2(kLevels) steps; step s adds kLevels >> (s + 1) to the index when
// z is above the boundary it probes, which depends on the index found so far. Two arrangements
// of the probes serve lookups in registers:
//   heap: as the search meets them, breadth first: heap[1] is the middle boundary, heap[2n] and
//     heap[2n + 1] the probes after node n's comparison came out false and true; heap[0] unused.
//   by_index (kLevels 16 and 32, whose indices address a register or a pair): by_index[s − 1][i]
//     is the probe of step s >= 1 when the index so far is i (a multiple of kLevels >> s), other
//     entries 0.
template <uint32_t kLevels>
struct alignas(64) BucketTable {
  static_assert(kLevels >= 2 && kLevels <= 256 && (kLevels & (kLevels - 1)) == 0);
  static constexpr uint32_t kSteps = uint32_t(std::bit_width(kLevels)) - 1;
  static constexpr uint32_t kIndexedSteps = kLevels == 16 || kLevels == 32 ? kSteps - 1 : 0;
  float heap[kLevels];
  std::array<std::array<float, kLevels>, kIndexedSteps> by_index;
  float boundary[kLevels - 1];
};

template <size_t kCount>
constexpr bool IsNonDecreasing(const float (&values)[kCount]) {
  for (size_t i = 1; i < kCount; ++i) {
    if (!(values[i - 1] <= values[i])) return false;
  }
  return true;
}

template <uint32_t kLevels>
constexpr BucketTable<kLevels> MakeBucketTable(const float (&boundaries)[kLevels - 1]) {
  BucketTable<kLevels> table{};
  for (uint32_t i = 0; i + 1 < kLevels; ++i) table.boundary[i] = boundaries[i];
  // Node n at depth d (2^d <= n < 2^(d + 1)) decides between the buckets of its span of
  // kLevels / 2^d, the (n − 2^d)-th such span; it probes the boundary after the span's lower half.
  for (uint32_t n = 1; n < kLevels; ++n) {
    const uint32_t depth = uint32_t(std::bit_width(n)) - 1;
    const uint32_t span = kLevels >> depth;
    table.heap[n] = boundaries[(n - (1u << depth)) * span + span / 2 - 1];
  }
  for (uint32_t s = 1; s <= table.by_index.size(); ++s) {
    for (uint32_t i = 0; i < kLevels; i += kLevels >> s) {
      table.by_index[s - 1][i] = boundaries[i + (kLevels >> (s + 1)) - 1];
    }
  }
  return table;
}

// A BucketTable with a direct lookup of the bucket, for the permutes of AVX-512. The bin of
// z, BinOf, is a non-decreasing function of z computed in f32 (NaN: bin 0). Construction
// requires every bin to hold at most one boundary; then for every z, with c = BinOf(z) and
// boundary[kLevels − 1] = +inf,
//   #{i : z > boundary[i]} = base[c] + (z > boundary[base[c]]),
// base[c] the count of boundaries in the bins below c (all below z): boundary[base[c]] is the
// one in bin c if there is one, else one in a higher bin, above z. A NaN gets base[0] = 0 and a
// false comparison: bucket 0, as the search gives. plane[b][j] is byte b (little-endian) of
// boundary[j]'s bits, for j < kProbes (entries from kLevels − 1 on: +inf). kBins is 32 (at
// most 16 levels: AVX-512 looks up 16 values at a time in f32 and u32 registers), or 64, 128,
// 256 or 512 (the bytes of AVX3_DL: one permute of a register, one two-table permute, or two or
// four of them and a blend tree).
template <uint32_t kLevels, uint32_t kBins>
struct alignas(64) BinnedBucketTable {
  static_assert(kLevels >= 4, "bins spread the span between the lowest and highest boundary");
  static_assert((kBins == 32 && kLevels <= 16) || kBins == 64 || kBins == 128 || kBins == 256 ||
                kBins == 512);
  static constexpr uint32_t kProbes = kLevels < 64 ? 64 : kLevels;  // a whole register or more
  BucketTable<kLevels> search;
  float lo;
  float inv_width;
  alignas(64) uint8_t base[kBins];
  uint8_t plane[4][kProbes];
};

// The bin as the AVX-512 lookups compute it: t = (z − lo)·inv_width rounded at each step, then
// min(kBins − 1, t) truncated toward zero, and every t below 1 (negative, −inf, NaN) is bin 0:
// AVX3_DL keeps a NaN t through the min and has the conversion's 0x80000000 saturate to 0, the
// 32-bin lookup takes max(t, 0) first.
template <uint32_t kBins>
constexpr uint32_t BinOf(float z, float lo, float inv_width) {
  const float t = (z - lo) * inv_width;
  if (t >= float(kBins - 1)) return kBins - 1;
  return t >= 1.0f ? uint32_t(t) : 0;
}

// lo is the lowest boundary and inv_width spreads the boundaries over the kBins bins. Throws
// (which fails a constant initialisation at compile time) when a bin would hold two boundaries:
// equal boundaries, or any two closer than about (highest − lowest) / kBins.
template <uint32_t kLevels, uint32_t kBins>
constexpr BinnedBucketTable<kLevels, kBins> MakeBinnedBucketTable(
    const float (&boundaries)[kLevels - 1]) {
  using Table = BinnedBucketTable<kLevels, kBins>;
  Table table{};
  table.search = MakeBucketTable<kLevels>(boundaries);
  table.lo = boundaries[0];
  table.inv_width = float(kBins) / (boundaries[kLevels - 2] - boundaries[0]);
  uint32_t count[kBins] = {};
  for (uint32_t i = 0; i + 1 < kLevels; ++i) {
    if (count[BinOf<kBins>(boundaries[i], table.lo, table.inv_width)]++ > 0) {
      throw std::invalid_argument("MakeBinnedBucketTable: two boundaries in a bin");
    }
  }
  uint32_t below = 0;
  for (uint32_t c = 0; c < kBins; ++c) {
    table.base[c] = uint8_t(below);
    below += count[c];
  }
  for (uint32_t j = 0; j < Table::kProbes; ++j) {
    const uint32_t bits = std::bit_cast<uint32_t>(
        j + 1 < kLevels ? boundaries[j] : std::numeric_limits<float>::infinity());
    for (uint32_t b = 0; b < 4; ++b) table.plane[b][j] = uint8_t(bits >> (8 * b));
  }
  return table;
}

}  // namespace tgk

#endif  // TGK_TABLE_H_
