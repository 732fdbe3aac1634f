#include "safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "npy.h"
#include "tgk/convert.h"
#include "tgk/error.h"

namespace tgk::tool {
namespace {

// Tensor bytes are copied as they lie in the file, which the format defines as little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

using Json = nlohmann::json;

constexpr std::array kDTypes = {DType::kF32, DType::kF16, DType::kBF16,
                                DType::kU8,  DType::kU32, DType::kI32};

// Element sizes of the format's other dtypes, so that their offsets are checked too.
std::optional<uint64_t> ElementBytes(const std::string& name) {
  if (const auto t = DTypeFromName(name)) return SizeOf(*t);
  static constexpr std::pair<const char*, uint64_t> kOthers[] = {
      {"F64", 8}, {"I64", 8},  {"U64", 8},     {"I16", 2},     {"U16", 2},
      {"I8", 1},  {"BOOL", 1}, {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1}};
  for (const auto& [other, bytes] : kOthers) {
    if (name == other) return bytes;
  }
  return std::nullopt;
}

std::string Quoted(const std::string& name) { return "tensor '" + Escaped(name) + "'"; }

// One tensor entry as the parser meets it; Finish checks it.
struct RawEntry {
  std::string name;
  std::optional<std::string> dtype;
  bool dtype_bad = false;
  std::vector<uint64_t> shape, offsets;
  bool has_shape = false, shape_bad = false, has_offsets = false, offsets_bad = false;
};

TensorInfo Finish(const TensorFile& file, RawEntry& e, uint64_t data_bytes) {
  const std::string what = Quoted(e.name);
  if (!e.dtype || e.dtype_bad) file.Fail(what + ": \"dtype\" is missing or not a string");
  if (!e.has_shape || e.shape_bad) {
    file.Fail(what + ": \"shape\" is missing or not an array of non-negative integers");
  }
  if (!e.has_offsets || e.offsets_bad || e.offsets.size() != 2) {
    file.Fail(what + ": \"data_offsets\" is missing or not a pair of non-negative integers");
  }
  const uint64_t begin = e.offsets[0], end = e.offsets[1];
  const std::string range = ShapeString(e.offsets);
  if (begin > end) file.Fail(what + ": data_offsets " + range + " are reversed (begin > end)");
  if (end > data_bytes) {
    file.Fail(what + ": data_offsets " + range + " lie outside the data section (" +
              std::to_string(data_bytes) + " bytes; is the file truncated?)");
  }
  if (const std::optional<uint64_t> element = ElementBytes(*e.dtype)) {
    const std::optional<uint64_t> bytes = TensorBytes(*element, e.shape);
    if (!bytes) {
      file.Fail(what + ": the size of shape " + ShapeString(e.shape) + " overflows 64 bits");
    }
    if (end - begin != *bytes) {
      file.Fail(what + ": data_offsets " + range + " hold " + std::to_string(end - begin) +
                " bytes, but " + Escaped(*e.dtype) + " " + ShapeString(e.shape) + " needs " +
                std::to_string(*bytes));
    }
  }
  const std::optional<DType> dtype = DTypeFromName(*e.dtype);
  return TensorInfo{std::move(*e.dtype), dtype, std::move(e.shape), begin, end};
}

// The header's SAX handler: builds the index and the metadata as the parser reads, and throws
// (the file's tgk::Error, through the parser) at the first thing a header may not hold.
class HeaderParser {
 public:
  HeaderParser(TensorFile& file, uint64_t data_bytes) : file_(file), data_bytes_(data_bytes) {}

  bool null() { return Scalar(false, std::nullopt, nullptr); }
  bool boolean(bool) { return Scalar(false, std::nullopt, nullptr); }
  bool number_integer(Json::number_integer_t) { return Scalar(false, std::nullopt, nullptr); }
  bool number_unsigned(Json::number_unsigned_t v) { return Scalar(false, v, nullptr); }
  bool number_float(Json::number_float_t, const Json::string_t&) {
    return Scalar(false, std::nullopt, nullptr);
  }
  bool string(Json::string_t& s) { return Scalar(true, std::nullopt, &s); }
  bool binary(Json::binary_t&) { return Scalar(false, std::nullopt, nullptr); }
  bool key(Json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool start_object(std::size_t) { return Open(true); }
  bool start_array(std::size_t) { return Open(false); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    Stop(std::string("invalid JSON header: ") + e.what());
  }

 private:
  enum class Frame { kRoot, kEntry, kMetadata, kShape, kOffsets, kIgnored };

  [[noreturn]] void Stop(const std::string& problem) const { file_.Fail(problem); }

  // A container or scalar met where the root object holds its entries.
  [[noreturn]] void NotAnObjectAtRoot() const {
    if (key_ == "__metadata__") Stop("__metadata__ is not a JSON object");
    Stop(Quoted(key_) + ": header entry is not a JSON object");
  }

  bool Scalar(bool is_string, std::optional<uint64_t> unsigned_value, Json::string_t* text) {
    if (frames_.empty()) Stop("the JSON header is not an object");
    switch (frames_.back()) {
      case Frame::kRoot:
        NotAnObjectAtRoot();
      case Frame::kEntry:
        if (key_ == "dtype") {
          entry_.dtype = is_string ? std::move(*text) : std::string();
          entry_.dtype_bad = !is_string;
        } else if (key_ == "shape") {
          entry_.has_shape = entry_.shape_bad = true;
        } else if (key_ == "data_offsets") {
          entry_.has_offsets = entry_.offsets_bad = true;
        }
        return true;
      case Frame::kMetadata:
        if (!is_string) Stop("__metadata__ entry '" + Escaped(key_) + "' is not a string");
        if (file_.metadata.size() == kMaxMetadataEntries) {
          Stop("__metadata__ has more than " + std::to_string(kMaxMetadataEntries) +
               " entries (the reader's limit)");
        }
        if (!file_.metadata.emplace(key_, std::move(*text)).second) {
          Stop("__metadata__ entry '" + Escaped(key_) + "' appears twice");
        }
        return true;
      case Frame::kShape:
      case Frame::kOffsets: {
        const bool shape = frames_.back() == Frame::kShape;
        std::vector<uint64_t>& values = shape ? entry_.shape : entry_.offsets;
        if (shape && values.size() == kMaxRank) {
          Stop(Quoted(entry_.name) + ": \"shape\" has more than " + std::to_string(kMaxRank) +
               " dims (the reader's limit)");
        }
        if (!unsigned_value || (!shape && values.size() == 2)) {
          (shape ? entry_.shape_bad : entry_.offsets_bad) = true;
        } else {
          values.push_back(*unsigned_value);
        }
        return true;
      }
      case Frame::kIgnored:
        return true;
    }
    return true;
  }

  bool Open(bool object) {
    if (frames_.size() == size_t(kMaxHeaderDepth)) {
      Stop("the JSON header nests deeper than " + std::to_string(kMaxHeaderDepth) +
           " levels (a safetensors header has at most " + std::to_string(kMaxHeaderDepth) + ")");
    }
    if (frames_.empty()) {
      if (!object) Stop("the JSON header is not an object");
      frames_.push_back(Frame::kRoot);
      return true;
    }
    Frame next = Frame::kIgnored;
    switch (frames_.back()) {
      case Frame::kRoot:
        if (!object) NotAnObjectAtRoot();
        if (key_ == "__metadata__") {
          if (seen_metadata_) Stop("__metadata__ appears twice");
          seen_metadata_ = true;
          next = Frame::kMetadata;
        } else {
          if (file_.index.count(key_)) Stop(Quoted(key_) + " appears twice in the header");
          entry_ = RawEntry{};
          entry_.name = key_;
          next = Frame::kEntry;
        }
        break;
      case Frame::kEntry:
        if (key_ == "dtype") {
          entry_.dtype = std::string();
          entry_.dtype_bad = true;
        } else if (key_ == "shape" || key_ == "data_offsets") {
          const bool shape = key_ == "shape";
          (shape ? entry_.has_shape : entry_.has_offsets) = true;
          (shape ? entry_.shape : entry_.offsets).clear();
          if (object) {
            (shape ? entry_.shape_bad : entry_.offsets_bad) = true;
          } else {
            next = shape ? Frame::kShape : Frame::kOffsets;
          }
        }
        break;
      case Frame::kMetadata:
        Stop("__metadata__ entry '" + Escaped(key_) + "' is not a string");
      case Frame::kShape:
        entry_.shape_bad = true;
        break;
      case Frame::kOffsets:
        entry_.offsets_bad = true;
        break;
      case Frame::kIgnored:
        break;
    }
    frames_.push_back(next);
    return true;
  }

  bool Close() {
    const Frame closed = frames_.back();
    frames_.pop_back();
    if (closed == Frame::kEntry) {
      TensorInfo info = Finish(file_, entry_, data_bytes_);
      file_.index.emplace(std::move(entry_.name), std::move(info));
    }
    return true;
  }

  TensorFile& file_;
  const uint64_t data_bytes_;
  std::vector<Frame> frames_;
  std::string key_;
  RawEntry entry_;
  bool seen_metadata_ = false;
};

bool IsFloat(const std::string& dtype_name) {
  return dtype_name == "F64" || dtype_name == "F32" || dtype_name == "F16" || dtype_name == "BF16";
}

// Element i of raw little-endian data of a float dtype, as f32 (F64 rounds to nearest).
float FloatAt(const std::string& dtype_name, const std::byte* data, uint64_t i) {
  if (dtype_name == "F64") {
    double d;
    std::memcpy(&d, data + 8 * i, 8);
    return float(d);
  }
  if (dtype_name == "F32") {
    float f;
    std::memcpy(&f, data + 4 * i, 4);
    return f;
  }
  uint16_t bits;
  std::memcpy(&bits, data + 2 * i, 2);
  return dtype_name == "F16" ? F32FromF16(f16{bits}) : F32FromBF16(bf16{bits});
}

// The row-major order of `data`, a column-major array of `shape` of `element`-byte values.
AlignedBytes RowMajor(const AlignedBytes& data, const std::vector<uint64_t>& shape,
                      uint64_t element) {
  AlignedBytes out(data.size());
  std::vector<uint64_t> stride(shape.size()), index(shape.size(), 0);
  uint64_t s = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    stride[d] = s;
    s *= shape[d];
  }
  uint64_t from = 0;  // the column-major element of row-major element i
  for (uint64_t i = 0; i < out.size() / element; ++i) {
    std::memcpy(out.data() + i * element, data.data() + from * element, element);
    for (size_t d = shape.size(); d-- > 0;) {
      from += stride[d];
      if (++index[d] < shape[d]) break;
      from -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

}  // namespace

std::optional<DType> DTypeFromName(const std::string& name) {
  for (DType t : kDTypes) {
    if (DebugName(t) == name) return t;
  }
  return std::nullopt;
}

std::optional<uint64_t> TensorBytes(uint64_t element_bytes, const std::vector<uint64_t>& shape) {
  uint64_t bytes = element_bytes;
  for (uint64_t d : shape) {
    if (__builtin_mul_overflow(bytes, d, &bytes)) return std::nullopt;
  }
  return bytes;
}

void ReadExactly(const TensorFile& file, std::ifstream& in, void* out, uint64_t offset,
                 uint64_t bytes, const std::string& what) {
  in.seekg(std::streamoff(offset));
  in.read(static_cast<char*>(out), std::streamsize(bytes));
  if (!in) file.Fail("cannot read " + what + ": " + std::strerror(errno));
}

std::ifstream OpenTensorFile(const TensorFile& file, uint64_t& bytes) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file.path, error)) {
    file.Fail(error ? "cannot open: " + error.message() : "not a regular file");
  }
  bytes = std::filesystem::file_size(file.path, error);
  std::ifstream in(file.path, std::ios::binary);
  if (error || !in) file.Fail(std::string("cannot open: ") + std::strerror(errno));
  return in;
}

Tensor Tensor::Zeros(DType dtype, std::vector<uint64_t> shape) {
  const std::optional<uint64_t> bytes = TensorBytes(SizeOf(dtype), shape);
  if (!bytes || *bytes > AlignedBytes().max_size()) {
    ThrowInvalidArgument("a " + std::string(DebugName(dtype)) + " tensor of shape " +
                         ShapeString(shape) + " is too large to allocate");
  }
  return Tensor{dtype, std::move(shape), AlignedBytes(size_t(*bytes))};
}

const TensorInfo* TensorFile::Find(const std::string& name) const {
  const auto it = index.find(name);
  return it == index.end() ? nullptr : &it->second;
}

std::string TensorFile::Listing() const {
  constexpr size_t kShown = 64;
  std::string text;
  size_t shown = 0;
  for (const auto& [name, info] : index) {
    if (shown++ == kShown) {
      text += ", and " + std::to_string(index.size() - kShown) + " more";
      break;
    }
    text += (text.empty() ? "'" : ", '") + Escaped(name) + "' " + Escaped(info.dtype_name) + " " +
            ShapeString(info.shape);
  }
  return text.empty() ? "no tensors" : text;
}

Tensor TensorFile::Load(const std::string& name, DType dtype, bool cast) const {
  const TensorInfo* info = Find(name);
  if (!info) Fail("no " + Quoted(name) + " (the file has " + Listing() + ")");
  const bool same = info->dtype == dtype ||
                    (info->float16_bits && (dtype == DType::kBF16 || dtype == DType::kF16));
  const bool convert =
      !same && cast && IsFloat(info->dtype_name) && IsFloat(std::string(DebugName(dtype)));
  if (!same && !convert) {
    Fail(Quoted(name) + " has dtype " + Escaped(info->dtype_name) + ", expected " +
         std::string(DebugName(dtype)) +
         (IsFloat(info->dtype_name) && IsFloat(std::string(DebugName(dtype)))
              ? " (--cast converts between float dtypes)"
              : ""));
  }
  // Every reader checks a known dtype's size against the shape; this holds for any reader and
  // any dtype name a file may spell (a numpy descr 'F64' names no numpy type, so its reader
  // checked no size), before anything is read by the shape.
  const std::optional<uint64_t> element = ElementBytes(info->dtype_name);
  const std::optional<uint64_t> needed =
      element ? TensorBytes(*element, info->shape) : std::nullopt;
  if (!needed || *needed != info->end - info->begin) {
    Fail(Quoted(name) + " holds " + std::to_string(info->end - info->begin) + " bytes, not the " +
         (needed ? std::to_string(*needed) : std::string("(unknown)")) + " of " +
         Escaped(info->dtype_name) + " " + ShapeString(info->shape));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(std::string("cannot open: ") + std::strerror(errno));
  AlignedBytes raw(size_t(info->end - info->begin));
  ReadExactly(*this, in, raw.data(), data_start + info->begin, raw.size(),
              "the data of " + Quoted(name));
  if (info->column_major) raw = RowMajor(raw, info->shape, *ElementBytes(info->dtype_name));
  if (same) return Tensor{dtype, info->shape, std::move(raw)};
  Tensor t = Tensor::Zeros(dtype, info->shape);
  for (uint64_t i = 0; i < t.count(); ++i) {
    const float f = FloatAt(info->dtype_name, raw.data(), i);
    switch (dtype) {
      case DType::kF32:
        std::memcpy(t.data.data() + 4 * i, &f, 4);
        break;
      case DType::kF16: {
        const uint16_t bits = F16FromF32(f).bits;
        std::memcpy(t.data.data() + 2 * i, &bits, 2);
        break;
      }
      default: {
        const uint16_t bits = BF16FromF32(f).bits;
        std::memcpy(t.data.data() + 2 * i, &bits, 2);
        break;
      }
    }
  }
  return t;
}

Tensors TensorFile::LoadAll() const {
  Tensors tensors;
  for (const auto& [name, info] : index) {
    if (info.dtype) tensors.emplace(name, Load(name, *info.dtype));
  }
  return tensors;
}

void TensorFile::Fail(const std::string& problem) const {
  throw Error(ErrorKind::kIo, path + ": " + problem);
}

TensorFile ReadTensorFile(const std::string& path) {
  if (const TensorFileReader read = NumpyReader(path)) return read(path);
  TensorFile file{path, {}, {}, 0};
  uint64_t file_bytes = 0;
  std::ifstream in = OpenTensorFile(file, file_bytes);

  if (file_bytes < 8) {
    file.Fail("truncated header: the file has " + std::to_string(file_bytes) +
              " bytes, fewer than the 8-byte header length");
  }
  std::array<unsigned char, 8> length_bytes;
  ReadExactly(file, in, length_bytes.data(), 0, 8, "the header length");
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | length_bytes[size_t(i)];
  if (header_bytes > kMaxHeaderBytes) {
    file.Fail("the header length (" + std::to_string(header_bytes) +
              " bytes) exceeds the safetensors limit of " + std::to_string(kMaxHeaderBytes) +
              " bytes");
  }
  if (header_bytes > file_bytes - 8) {
    file.Fail("the header length (" + std::to_string(header_bytes) +
              " bytes) runs past the end of the file (" + std::to_string(file_bytes) + " bytes)");
  }
  std::string header(size_t(header_bytes), '\0');
  ReadExactly(file, in, header.data(), 8, header_bytes, "the header");

  file.data_start = 8 + header_bytes;
  const uint64_t data_bytes = file_bytes - file.data_start;
  HeaderParser parser(file, data_bytes);
  try {
    if (!Json::sax_parse(header, &parser)) file.Fail("invalid JSON header");
  } catch (const Json::exception& e) {
    file.Fail(std::string("invalid JSON header: ") + e.what());
  }

  // Overlapping tensors would let a small file claim more data than it holds.
  std::vector<std::pair<const std::string*, const TensorInfo*>> ranges;
  for (const auto& [name, info] : file.index) {
    if (info.end > info.begin) ranges.emplace_back(&name, &info);
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].second->begin < ranges[i - 1].second->end) {
      file.Fail(Quoted(*ranges[i - 1].first) + " and " + Quoted(*ranges[i].first) +
                " overlap in the data section");
    }
  }
  return file;
}

void WriteSafetensors(const std::string& path, const Tensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || TensorBytes(SizeOf(t.dtype), t.shape) != t.data.size()) {
      ThrowInvalidArgument("cannot write " + Quoted(name) + " of shape " + ShapeString(t.shape) +
                           " with " + std::to_string(t.data.size()) + " bytes of data");
    }
    header[name] = {{"dtype", DebugName(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');

  std::array<char, 8> length;
  for (size_t i = 0; i < 8; ++i) length[i] = char(uint64_t{text.size()} >> (8 * i) & 0xFF);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(length.data(), 8);
  out.write(text.data(), std::streamsize(text.size()));
  for (const auto& [name, t] : tensors) {
    out.write(reinterpret_cast<const char*>(t.data.data()), std::streamsize(t.data.size()));
  }
  out.close();
  if (!out) {
    throw Error(ErrorKind::kIo, path + ": cannot write: " + std::string(std::strerror(errno)));
  }
}

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string Escaped(std::string_view name) {
  std::string out;
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\\' || c == '\'' || c == '"') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7F) {
      out += c;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    }
  }
  return out;
}

}  // namespace tgk::tool
