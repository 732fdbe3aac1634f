// The bytes of .npy and .npz files, as numpy writes them, for the tests of their readers
// (npy.h): tool_test.cc damages them further, safetensors_memory_test.cc measures reading them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tgk::tool::testing {

// Appends `value` as `bytes` little-endian bytes.
inline void PutLittleEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += char(value >> (8 * i) & 0xFF);
}

// A .npy file of format version `major`.0 with the header text `header`, padded as numpy pads
// it (spaces and a newline up to a multiple of 64 bytes), then `data`.
inline std::string NpyWithHeader(std::string header, const std::string& data, int major = 1) {
  const size_t preamble = major == 1 ? 10 : 12;
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY", 6);
  out += char(major);
  out += '\0';
  PutLittleEndian(out, header.size(), major == 1 ? 2 : 4);
  return out + header + data;
}

// A .npy file as np.save writes it: `descr` ("<f4"), `shape` as Python writes a tuple ("(2, 3)").
inline std::string Npy(const std::string& descr, const std::string& shape, const std::string& data,
                       bool fortran_order = false, int major = 1) {
  return NpyWithHeader("{'descr': '" + descr + "', 'fortran_order': " +
                           (fortran_order ? "True" : "False") + ", 'shape': " + shape + ", }",
                       data, major);
}

struct ZipMember {
  std::string name, data;
  uint16_t method = 0;  // 0 stored; the data is as given whatever the method says
  uint16_t flags = 0;
};

// A zip archive as Python's zipfile writes np.savez's: each local header with saturated sizes
// and the sizes in a ZIP64 extra field (np.savez forces ZIP64), the central directory with the
// sizes, and the end record. With `zip64`, the central directory's sizes and offsets are in
// ZIP64 extra fields too, and the end record is saturated, with a ZIP64 end record and locator
// before it (what zipfile writes past 4 GiB or 65535 entries).
inline std::string Zip(const std::vector<ZipMember>& members, bool zip64 = false) {
  constexpr uint64_t kSaturated = 0xFFFFFFFF;
  std::string out, directory;
  for (const ZipMember& m : members) {
    const uint64_t offset = out.size();
    PutLittleEndian(out, 0x04034b50, 4);
    PutLittleEndian(out, 45, 2);  // version needed: 4.5, ZIP64
    PutLittleEndian(out, m.flags, 2);
    PutLittleEndian(out, m.method, 2);
    PutLittleEndian(out, 0, 4);  // time, date
    PutLittleEndian(out, 0, 4);  // CRC-32: not checked by the reader
    PutLittleEndian(out, kSaturated, 4);
    PutLittleEndian(out, kSaturated, 4);
    PutLittleEndian(out, m.name.size(), 2);
    PutLittleEndian(out, 20, 2);
    out += m.name;
    PutLittleEndian(out, 1, 2);
    PutLittleEndian(out, 16, 2);
    PutLittleEndian(out, m.data.size(), 8);
    PutLittleEndian(out, m.data.size(), 8);
    out += m.data;

    PutLittleEndian(directory, 0x02014b50, 4);
    PutLittleEndian(directory, 45, 2);
    PutLittleEndian(directory, 45, 2);
    PutLittleEndian(directory, m.flags, 2);
    PutLittleEndian(directory, m.method, 2);
    PutLittleEndian(directory, 0, 4);
    PutLittleEndian(directory, 0, 4);
    PutLittleEndian(directory, zip64 ? kSaturated : m.data.size(), 4);
    PutLittleEndian(directory, zip64 ? kSaturated : m.data.size(), 4);
    PutLittleEndian(directory, m.name.size(), 2);
    PutLittleEndian(directory, zip64 ? 28 : 0, 2);
    PutLittleEndian(directory, 0, 2);  // comment
    PutLittleEndian(directory, 0, 2);  // disk
    PutLittleEndian(directory, 0, 2);  // internal attributes
    PutLittleEndian(directory, 0, 4);  // external attributes
    PutLittleEndian(directory, zip64 ? kSaturated : offset, 4);
    directory += m.name;
    if (zip64) {
      PutLittleEndian(directory, 1, 2);
      PutLittleEndian(directory, 24, 2);
      PutLittleEndian(directory, m.data.size(), 8);
      PutLittleEndian(directory, m.data.size(), 8);
      PutLittleEndian(directory, offset, 8);
    }
  }
  const uint64_t directory_at = out.size();
  out += directory;
  if (zip64) {
    const uint64_t record_at = out.size();
    PutLittleEndian(out, 0x06064b50, 4);
    PutLittleEndian(out, 44, 8);  // the record's size after this field
    PutLittleEndian(out, 45, 2);
    PutLittleEndian(out, 45, 2);
    PutLittleEndian(out, 0, 4);
    PutLittleEndian(out, 0, 4);
    PutLittleEndian(out, members.size(), 8);
    PutLittleEndian(out, members.size(), 8);
    PutLittleEndian(out, directory.size(), 8);
    PutLittleEndian(out, directory_at, 8);
    PutLittleEndian(out, 0x07064b50, 4);
    PutLittleEndian(out, 0, 4);
    PutLittleEndian(out, record_at, 8);
    PutLittleEndian(out, 1, 4);
  }
  PutLittleEndian(out, 0x06054b50, 4);
  PutLittleEndian(out, 0, 2);
  PutLittleEndian(out, 0, 2);
  PutLittleEndian(out, zip64 ? 0xFFFF : members.size(), 2);
  PutLittleEndian(out, zip64 ? 0xFFFF : members.size(), 2);
  PutLittleEndian(out, zip64 ? kSaturated : directory.size(), 4);
  PutLittleEndian(out, zip64 ? kSaturated : directory_at, 4);
  PutLittleEndian(out, 0, 2);  // comment
  return out;
}

}  // namespace tgk::tool::testing
