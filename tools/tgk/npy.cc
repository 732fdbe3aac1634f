#include "npy.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "tgk/error.h"

namespace tgk::tool {
namespace {

// `bytes` (at most 8) little-endian bytes at `p`.
uint64_t LittleEndian(const unsigned char* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | p[i];
  return value;
}

struct NpyHeader {
  std::string dtype_name;
  std::optional<uint64_t> element_bytes;  // known for the descrs of kDescrs
  bool float16_bits = false;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
};

// numpy's descrs of fixed-size numbers, without the byte order, as safetensors names them.
struct Descr {
  const char* type;
  const char* name;
  uint64_t bytes;
};
constexpr Descr kDescrs[] = {
    {"f2", "F16", 2}, {"f4", "F32", 4},  {"f8", "F64", 8}, {"i1", "I8", 1},  {"i2", "I16", 2},
    {"i4", "I32", 4}, {"i8", "I64", 8},  {"u1", "U8", 1},  {"u2", "U16", 2}, {"u4", "U32", 4},
    {"u8", "U64", 8}, {"b1", "BOOL", 1}, {"V2", "BF16", 2}};

void SetDType(const std::string& descr, NpyHeader& header) {
  header.dtype_name = descr;
  if (descr.size() < 2 || std::string_view("<>|=").find(descr[0]) == std::string_view::npos) {
    return;
  }
  for (const Descr& d : kDescrs) {
    if (descr.compare(1, std::string::npos, d.type) != 0) continue;
    header.element_bytes = d.bytes;
    // Big-endian data would need its bytes swapped: indexed under numpy's spelling.
    if (descr[0] == '>' && d.bytes > 1) return;
    header.dtype_name = d.name;
    header.float16_bits = std::string_view(d.type) == "u2";
    return;
  }
}

// The header: a Python dict literal with exactly the keys 'descr', 'fortran_order' and
// 'shape', read in one pass with nothing built but those three values. A structured descr (a
// list) is checked for balance and skipped.
class NpyHeaderParser {
 public:
  NpyHeaderParser(const TensorFile& file, const std::string& context, std::string_view text)
      : file_(file), context_(context), text_(text) {}

  NpyHeader Parse() {
    NpyHeader header;
    bool descr = false, fortran_order = false, shape = false;
    Expect('{');
    while (!Next('}')) {
      const std::string key = String();
      Expect(':');
      if (key == "descr") {
        Once(descr, key);
        SkipSpace();
        if (at_ < text_.size() && (text_[at_] == '\'' || text_[at_] == '"')) {
          SetDType(String(), header);
        } else {
          SkipValue(2);
          header.dtype_name = "structured";
        }
      } else if (key == "fortran_order") {
        Once(fortran_order, key);
        const std::string word = Word();
        if (word != "True" && word != "False") Stop("'fortran_order' is neither True nor False");
        header.fortran_order = word == "True";
      } else if (key == "shape") {
        Once(shape, key);
        header.shape = Shape();
      } else {
        Stop("unexpected key '" + Escaped(key) +
             "' (a .npy header has descr, fortran_order "
             "and shape)");
      }
      if (!Next(',')) {
        Expect('}');
        break;
      }
    }
    SkipSpace();
    if (at_ != text_.size()) Stop("text after the dict");
    if (!descr || !fortran_order || !shape) {
      Stop(std::string("'") +
           (!descr           ? "descr"
            : !fortran_order ? "fortran_order"
                             : "shape") +
           "' is missing");
    }
    return header;
  }

 private:
  [[noreturn]] void Stop(const std::string& problem) const {
    file_.Fail(context_ + "invalid .npy header: " + problem + " (at byte " + std::to_string(at_) +
               " of the header)");
  }

  void Once(bool& seen, const std::string& key) const {
    if (seen) Stop("'" + key + "' appears twice");
    seen = true;
  }

  void SkipSpace() {
    while (at_ < text_.size() &&
           std::string_view(" \t\r\n").find(text_[at_]) != std::string::npos) {
      ++at_;
    }
  }

  // Consumes `c` (after spaces) when it comes next.
  bool Next(char c) {
    SkipSpace();
    if (at_ == text_.size() || text_[at_] != c) return false;
    ++at_;
    return true;
  }

  void Expect(char c) {
    if (!Next(c)) Stop(std::string("expected '") + c + "'");
  }

  // A quoted string; an escaped character is taken as it is (the keys and descrs numpy writes
  // have none).
  std::string String() {
    SkipSpace();
    if (at_ == text_.size() || (text_[at_] != '\'' && text_[at_] != '"')) {
      Stop("expected a quoted string");
    }
    const char quote = text_[at_++];
    std::string s;
    for (;;) {
      if (at_ == text_.size() || text_[at_] == '\n') Stop("unterminated string");
      char c = text_[at_++];
      if (c == quote) return s;
      if (c == '\\') {
        if (at_ == text_.size()) Stop("unterminated string");
        c = text_[at_++];
      }
      s += c;
    }
  }

  // A number or a name (True, None, -1, 1.5e3).
  std::string Word() {
    SkipSpace();
    const size_t begin = at_;
    while (at_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[at_])) ||
                                  std::string_view("_.+-").find(text_[at_]) != std::string::npos)) {
      ++at_;
    }
    if (at_ == begin) Stop("expected a value");
    return std::string(text_.substr(begin, at_ - begin));
  }

  // Any literal: strings, words, and lists, tuples and dicts of them.
  void SkipValue(int depth) {
    if (depth > kMaxNpyHeaderDepth) {
      Stop("nesting deeper than " + std::to_string(kMaxNpyHeaderDepth) + " levels");
    }
    SkipSpace();
    const char open = at_ < text_.size() ? text_[at_] : '\0';
    const size_t kind = std::string_view("[({").find(open);
    if (kind == std::string_view::npos) {
      if (open == '\'' || open == '"') {
        String();
      } else {
        Word();
      }
      return;
    }
    const char close = "])}"[kind];
    ++at_;
    while (!Next(close)) {
      SkipValue(depth + 1);
      if (open == '{') {
        Expect(':');
        SkipValue(depth + 1);
      }
      if (!Next(',')) {
        Expect(close);
        return;
      }
    }
  }

  // A tuple of non-negative integers: (), (3,), (2, 3).
  std::vector<uint64_t> Shape() {
    std::vector<uint64_t> dims;
    Expect('(');
    while (!Next(')')) {
      if (dims.size() == kMaxRank) {
        Stop("the shape has more than " + std::to_string(kMaxRank) + " dims (the reader's limit)");
      }
      const std::string word = Word();
      uint64_t dim = 0;
      for (const char c : word) {
        if (c < '0' || c > '9' || __builtin_mul_overflow(dim, 10, &dim) ||
            __builtin_add_overflow(dim, uint64_t(c - '0'), &dim)) {
          Stop("the dim '" + Escaped(word) + "' is not a non-negative 64-bit integer");
        }
      }
      dims.push_back(dim);
      if (!Next(',')) {
        Expect(')');
        break;
      }
    }
    return dims;
  }

  const TensorFile& file_;
  const std::string& context_;
  std::string_view text_;
  size_t at_ = 0;
};

// The .npy file held by `bytes` bytes of `file` from `begin` (the whole file, or an .npz
// entry); `context` leads each error ("entry 'k.npy': ").
TensorInfo ParseNpy(const TensorFile& file, std::ifstream& in, const std::string& context,
                    uint64_t begin, uint64_t bytes) {
  constexpr std::string_view kMagic("\x93NUMPY", 6);
  std::array<unsigned char, 12> preamble{};
  if (bytes < 10) {
    file.Fail(context + "truncated: " + std::to_string(bytes) +
              " bytes, fewer than a .npy preamble");
  }
  ReadExactly(file, in, preamble.data(), begin, std::min<uint64_t>(bytes, preamble.size()),
              context + "the .npy preamble");
  if (std::memcmp(preamble.data(), kMagic.data(), kMagic.size()) != 0) {
    file.Fail(context + "not a .npy file (it does not start with \\x93NUMPY)");
  }
  const int major = preamble[6], minor = preamble[7];
  if (major < 1 || major > 3 || minor != 0) {
    file.Fail(context + "unsupported .npy format version " + std::to_string(major) + "." +
              std::to_string(minor) + " (tgk reads 1.0, 2.0 and 3.0)");
  }
  const int length_bytes = major == 1 ? 2 : 4;
  const uint64_t header_at = 8 + uint64_t(length_bytes);
  if (bytes < header_at) {
    file.Fail(context + "truncated: " + std::to_string(bytes) +
              " bytes, fewer than a .npy preamble");
  }
  const uint64_t header_bytes = LittleEndian(preamble.data() + 8, length_bytes);
  if (header_bytes > kMaxNpyHeaderBytes) {
    file.Fail(context + "the .npy header length (" + std::to_string(header_bytes) +
              " bytes) exceeds the reader's limit of " + std::to_string(kMaxNpyHeaderBytes) +
              " bytes");
  }
  if (header_bytes > bytes - header_at) {
    file.Fail(context + "the .npy header length (" + std::to_string(header_bytes) +
              " bytes) runs past the end of the data (" + std::to_string(bytes) + " bytes)");
  }
  std::string text(size_t(header_bytes), '\0');
  ReadExactly(file, in, text.data(), begin + header_at, header_bytes, context + "the .npy header");
  NpyHeader header = NpyHeaderParser(file, context, text).Parse();

  const uint64_t data_begin = begin + header_at + header_bytes;
  const uint64_t data_bytes = bytes - header_at - header_bytes;
  if (header.element_bytes) {
    const std::optional<uint64_t> needed = TensorBytes(*header.element_bytes, header.shape);
    if (!needed) {
      file.Fail(context + "the size of shape " + ShapeString(header.shape) + " overflows 64 bits");
    }
    if (*needed != data_bytes) {
      file.Fail(context + "the data holds " + std::to_string(data_bytes) + " bytes, but " +
                Escaped(header.dtype_name) + " " + ShapeString(header.shape) + " needs " +
                std::to_string(*needed));
    }
  }
  TensorInfo info{header.dtype_name, DTypeFromName(header.dtype_name), std::move(header.shape),
                  data_begin, data_begin + data_bytes};
  info.column_major = header.fortran_order && info.shape.size() > 1;
  info.float16_bits = header.float16_bits;
  return info;
}

// One entry of an .npz's central directory.
struct ZipEntry {
  std::string name;
  uint16_t flags = 0, method = 0;
  uint64_t compressed = 0, size = 0, local_header = 0;
  uint64_t data_begin = 0;  // found in the local header
};

std::string EntryContext(const std::string& name) { return "entry '" + Escaped(name) + "': "; }

// The central directory's entries, from the end of central directory record (and its ZIP64
// form, when there is one).
std::vector<ZipEntry> ReadCentralDirectory(const TensorFile& file, std::ifstream& in,
                                           uint64_t file_bytes) {
  constexpr uint64_t kEndRecord = 22, kMaxComment = 65535;
  if (file_bytes < kEndRecord) {
    file.Fail("not a zip archive: " + std::to_string(file_bytes) +
              " bytes, fewer than its end record");
  }
  const uint64_t tail_bytes = std::min(file_bytes, kEndRecord + kMaxComment);
  std::vector<unsigned char> tail(static_cast<size_t>(tail_bytes));
  ReadExactly(file, in, tail.data(), file_bytes - tail_bytes, tail_bytes, "the zip end record");
  std::optional<uint64_t> found;
  for (uint64_t i = tail_bytes - kEndRecord + 1; i-- > 0;) {
    if (LittleEndian(&tail[i], 4) == 0x06054b50 &&
        i + kEndRecord + LittleEndian(&tail[i + 20], 2) == tail_bytes) {
      found = i;
      break;
    }
  }
  if (!found) {
    file.Fail("not a zip archive (no end of central directory record; np.savez writes one)");
  }
  const unsigned char* end = &tail[*found];
  uint64_t end_at = file_bytes - tail_bytes + *found;
  uint64_t disk = LittleEndian(end + 4, 2), directory_disk = LittleEndian(end + 6, 2);
  uint64_t count = LittleEndian(end + 10, 2);
  uint64_t directory_bytes = LittleEndian(end + 12, 4), directory_at = LittleEndian(end + 16, 4);

  std::array<unsigned char, 56> zip64{};
  if (end_at >= 20) {
    ReadExactly(file, in, zip64.data(), end_at - 20, 20, "the ZIP64 locator");
  }
  if (end_at >= 20 && LittleEndian(zip64.data(), 4) == 0x07064b50) {
    const uint64_t record_at = LittleEndian(zip64.data() + 8, 8);
    if (record_at > end_at - 20 || end_at - 20 - record_at < zip64.size()) {
      file.Fail("the ZIP64 end record (offset " + std::to_string(record_at) +
                ") lies outside the archive");
    }
    ReadExactly(file, in, zip64.data(), record_at, zip64.size(), "the ZIP64 end record");
    if (LittleEndian(zip64.data(), 4) != 0x06064b50) {
      file.Fail("the ZIP64 end record has a bad signature");
    }
    disk = LittleEndian(zip64.data() + 16, 4);
    directory_disk = LittleEndian(zip64.data() + 20, 4);
    count = LittleEndian(zip64.data() + 32, 8);
    directory_bytes = LittleEndian(zip64.data() + 40, 8);
    directory_at = LittleEndian(zip64.data() + 48, 8);
    end_at = record_at;
  } else if (count == 0xFFFF || directory_bytes == 0xFFFFFFFF || directory_at == 0xFFFFFFFF) {
    file.Fail("the end record needs a ZIP64 end record, which is missing");
  }
  if (disk != 0 || directory_disk != 0) file.Fail("a zip archive of several parts");
  if (directory_at > end_at || directory_bytes > end_at - directory_at) {
    file.Fail("the central directory (offset " + std::to_string(directory_at) + ", " +
              std::to_string(directory_bytes) + " bytes) lies outside the archive");
  }
  std::vector<unsigned char> directory(static_cast<size_t>(directory_bytes));
  ReadExactly(file, in, directory.data(), directory_at, directory_bytes, "the central directory");

  constexpr uint64_t kRecord = 46;
  std::vector<ZipEntry> entries;
  uint64_t at = 0;
  for (uint64_t n = 0; n < count; ++n) {
    if (directory_bytes - at < kRecord || LittleEndian(&directory[at], 4) != 0x02014b50) {
      file.Fail("the central directory holds " + std::to_string(n) + " of its " +
                std::to_string(count) + " entries");
    }
    const unsigned char* r = &directory[at];
    const uint64_t name_bytes = LittleEndian(r + 28, 2), extra_bytes = LittleEndian(r + 30, 2);
    const uint64_t record_bytes = kRecord + name_bytes + extra_bytes + LittleEndian(r + 32, 2);
    if (directory_bytes - at < record_bytes) {
      file.Fail("the central directory holds " + std::to_string(n) + " of its " +
                std::to_string(count) + " entries");
    }
    ZipEntry e;
    e.name.assign(reinterpret_cast<const char*>(r + kRecord), name_bytes);
    e.flags = uint16_t(LittleEndian(r + 8, 2));
    e.method = uint16_t(LittleEndian(r + 10, 2));
    e.compressed = LittleEndian(r + 20, 4);
    e.size = LittleEndian(r + 24, 4);
    e.local_header = LittleEndian(r + 42, 4);
    // Saturated fields are in the ZIP64 extra field (id 1), in this order.
    std::array<uint64_t*, 3> wide{};
    size_t n_wide = 0;
    for (uint64_t* field : {&e.size, &e.compressed, &e.local_header}) {
      if (*field == 0xFFFFFFFF) wide[n_wide++] = field;
    }
    if (n_wide > 0) {
      const unsigned char* extra = r + kRecord + name_bytes;
      uint64_t x = 0;  // the offset of a field (id, size, data) in the extra data
      while (extra_bytes - x >= 4 && LittleEndian(extra + x, 2) != 1) {
        x = std::min(extra_bytes, x + 4 + LittleEndian(extra + x + 2, 2));
      }
      if (extra_bytes - x < 4 + 8 * n_wide || LittleEndian(extra + x + 2, 2) < 8 * n_wide) {
        file.Fail(EntryContext(e.name) + "its ZIP64 extra field is missing or short");
      }
      for (size_t i = 0; i < n_wide; ++i) *wide[i] = LittleEndian(extra + x + 4 + 8 * i, 8);
    }
    entries.push_back(std::move(e));
    at += record_bytes;
  }
  return entries;
}

bool IsNpyEntry(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0;
}

}  // namespace

TensorFileReader NumpyReader(const std::string& path) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  if (extension == ".npy") return ReadNpy;
  if (extension == ".npz") return ReadNpz;
  return nullptr;
}

TensorFile ReadNpy(const std::string& path) {
  TensorFile file{path, {}, {}, 0};
  uint64_t bytes = 0;
  std::ifstream in = OpenTensorFile(file, bytes);
  file.index.emplace(std::filesystem::path(path).stem().string(), ParseNpy(file, in, "", 0, bytes));
  return file;
}

TensorFile ReadNpz(const std::string& path) {
  TensorFile file{path, {}, {}, 0};
  uint64_t file_bytes = 0;
  std::ifstream in = OpenTensorFile(file, file_bytes);
  std::vector<ZipEntry> entries = ReadCentralDirectory(file, in, file_bytes);
  std::erase_if(entries, [](const ZipEntry& e) { return !IsNpyEntry(e.name); });

  constexpr uint64_t kLocalHeader = 30;
  for (ZipEntry& e : entries) {
    const std::string context = EntryContext(e.name);
    if (e.flags & 1) file.Fail(context + "it is encrypted");
    if (e.method == 8) {
      file.Fail(context +
                "it is compressed (deflate), and tgk reads stored entries only: write the file "
                "with np.savez, not np.savez_compressed");
    }
    if (e.method != 0) {
      file.Fail(context + "it uses compression method " + std::to_string(e.method) +
                ", and tgk reads stored entries only (np.savez)");
    }
    if (e.compressed != e.size) {
      file.Fail(context + "a stored entry of " + std::to_string(e.size) + " bytes holds " +
                std::to_string(e.compressed));
    }
    if (e.local_header > file_bytes || file_bytes - e.local_header < kLocalHeader) {
      file.Fail(context + "its local header (offset " + std::to_string(e.local_header) +
                ") lies outside the file");
    }
    std::array<unsigned char, kLocalHeader> local;
    ReadExactly(file, in, local.data(), e.local_header, kLocalHeader, context + "its local header");
    const uint64_t name_bytes = LittleEndian(&local[26], 2);
    const uint64_t name_at = e.local_header + kLocalHeader;
    std::string name(size_t(name_bytes), '\0');
    if (LittleEndian(local.data(), 4) != 0x04034b50 || name_bytes != e.name.size() ||
        file_bytes - name_at < name_bytes) {
      file.Fail(context + "its local header is not the entry's");
    }
    ReadExactly(file, in, name.data(), name_at, name_bytes, context + "its local header");
    if (name != e.name) file.Fail(context + "its local header is not the entry's");
    e.data_begin = name_at + name_bytes + LittleEndian(&local[28], 2);
    if (e.data_begin > file_bytes || e.size > file_bytes - e.data_begin) {
      file.Fail(context + "its data (" + std::to_string(e.size) +
                " bytes) runs past the end of the file");
    }
  }
  // Overlapping entries would let a small file claim more tensors than it holds.
  std::vector<const ZipEntry*> order;
  for (const ZipEntry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->local_header < b->local_header; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->local_header < order[i - 1]->data_begin + order[i - 1]->size) {
      file.Fail(EntryContext(order[i - 1]->name) + "it overlaps entry '" + Escaped(order[i]->name) +
                "'");
    }
  }
  for (const ZipEntry& e : entries) {
    const std::string name = e.name.substr(0, e.name.size() - 4);
    if (file.index.count(name)) file.Fail(EntryContext(e.name) + "it appears twice");
    file.index.emplace(name, ParseNpy(file, in, EntryContext(e.name), e.data_begin, e.size));
  }
  return file;
}

}  // namespace tgk::tool
