#include "safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "tgk/error.h"

namespace tgk::tool {
namespace {

// Tensor bytes are copied as they lie in the file, which the format defines as little-endian.
static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

using Json = nlohmann::json;

constexpr std::array kDTypes = {DType::kF32, DType::kF16, DType::kBF16,
                                DType::kU8,  DType::kU32, DType::kI32};

std::optional<DType> DTypeFromName(const std::string& name) {
  for (DType t : kDTypes) {
    if (DebugName(t) == name) return t;
  }
  return std::nullopt;
}

std::string SupportedDTypes() {
  std::string names;
  for (DType t : kDTypes) names += (names.empty() ? "" : ", ") + std::string(DebugName(t));
  return names;
}

std::optional<uint64_t> TensorBytes(DType dtype, const std::vector<uint64_t>& shape) {
  uint64_t bytes = SizeOf(dtype);
  for (uint64_t d : shape) {
    if (__builtin_mul_overflow(bytes, d, &bytes)) return std::nullopt;
  }
  return bytes;
}

std::string Quoted(const std::string& name) { return "tensor '" + name + "'"; }

// A JSON array of non-negative integers that fit 64 bits, or nothing.
std::optional<std::vector<uint64_t>> Unsigneds(const Json& value) {
  if (!value.is_array()) return std::nullopt;
  std::vector<uint64_t> out;
  for (const Json& v : value) {
    if (!v.is_number_unsigned()) return std::nullopt;
    out.push_back(v.get<uint64_t>());
  }
  return out;
}

struct Entry {
  std::string name;
  DType dtype;
  std::vector<uint64_t> shape;
  uint64_t begin, end;
};

Entry ParseEntry(const TensorFile& file, const std::string& name, const Json& value,
                 uint64_t data_bytes) {
  const std::string what = Quoted(name);
  if (!value.is_object()) file.Fail(what + ": header entry is not a JSON object");
  const auto dtype_it = value.find("dtype");
  if (dtype_it == value.end() || !dtype_it->is_string()) {
    file.Fail(what + ": \"dtype\" is missing or not a string");
  }
  const std::string dtype_name = dtype_it->get<std::string>();
  const std::optional<DType> dtype = DTypeFromName(dtype_name);
  if (!dtype) {
    file.Fail(what + ": unsupported dtype '" + dtype_name + "' (tgk reads " + SupportedDTypes() +
              ")");
  }
  const auto shape_it = value.find("shape");
  const auto shape = shape_it == value.end() ? std::nullopt : Unsigneds(*shape_it);
  if (!shape) file.Fail(what + ": \"shape\" is missing or not an array of non-negative integers");
  const auto offsets_it = value.find("data_offsets");
  const auto offsets = offsets_it == value.end() ? std::nullopt : Unsigneds(*offsets_it);
  if (!offsets || offsets->size() != 2) {
    file.Fail(what + ": \"data_offsets\" is missing or not a pair of non-negative integers");
  }
  const uint64_t begin = (*offsets)[0], end = (*offsets)[1];
  const std::string range = ShapeString({begin, end});
  if (begin > end || end > data_bytes) {
    file.Fail(what + ": data_offsets " + range + " lie outside the data section (" +
              std::to_string(data_bytes) + " bytes; is the file truncated?)");
  }
  const std::optional<uint64_t> bytes = TensorBytes(*dtype, *shape);
  if (!bytes) file.Fail(what + ": the size of shape " + ShapeString(*shape) + " overflows 64 bits");
  if (end - begin != *bytes) {
    file.Fail(what + ": data_offsets " + range + " hold " + std::to_string(end - begin) +
              " bytes, but " + dtype_name + " " + ShapeString(*shape) + " needs " +
              std::to_string(*bytes));
  }
  return Entry{name, *dtype, *shape, begin, end};
}

void ReadExactly(const TensorFile& file, std::ifstream& in, void* out, uint64_t offset,
                 uint64_t bytes, const std::string& what) {
  in.seekg(std::streamoff(offset));
  in.read(static_cast<char*>(out), std::streamsize(bytes));
  if (!in) file.Fail("cannot read " + what + ": " + std::strerror(errno));
}

}  // namespace

Tensor Tensor::Zeros(DType dtype, std::vector<uint64_t> shape) {
  const std::optional<uint64_t> bytes = TensorBytes(dtype, shape);
  if (!bytes || *bytes > std::vector<std::byte>().max_size()) {
    ThrowInvalidArgument("a " + std::string(DebugName(dtype)) + " tensor of shape " +
                         ShapeString(shape) + " is too large to allocate");
  }
  return Tensor{dtype, std::move(shape), std::vector<std::byte>(size_t(*bytes))};
}

const Tensor* TensorFile::Find(const std::string& name) const {
  const auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

const Tensor& TensorFile::Get(const std::string& name, DType dtype) const {
  const Tensor* t = Find(name);
  if (!t) Fail("no " + Quoted(name));
  if (t->dtype != dtype) {
    Fail(Quoted(name) + " has dtype " + std::string(DebugName(t->dtype)) + ", expected " +
         std::string(DebugName(dtype)));
  }
  return *t;
}

void TensorFile::Fail(const std::string& problem) const {
  throw Error(ErrorKind::kIo, path + ": " + problem);
}

TensorFile ReadSafetensors(const std::string& path) {
  TensorFile file{path, {}, {}};
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    file.Fail(error ? "cannot open: " + error.message() : "not a regular file");
  }
  const uint64_t file_bytes = std::filesystem::file_size(path, error);
  std::ifstream in(path, std::ios::binary);
  if (error || !in) file.Fail(std::string("cannot open: ") + std::strerror(errno));

  if (file_bytes < 8) {
    file.Fail("truncated header: the file has " + std::to_string(file_bytes) +
              " bytes, fewer than the 8-byte header length");
  }
  std::array<unsigned char, 8> length_bytes;
  ReadExactly(file, in, length_bytes.data(), 0, 8, "the header length");
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | length_bytes[size_t(i)];
  if (header_bytes > file_bytes - 8) {
    file.Fail("the header length (" + std::to_string(header_bytes) +
              " bytes) runs past the end of the file (" + std::to_string(file_bytes) + " bytes)");
  }
  std::string header(size_t(header_bytes), '\0');
  ReadExactly(file, in, header.data(), 8, header_bytes, "the header");

  Json json;
  try {
    json = Json::parse(header);
  } catch (const Json::parse_error& e) {
    file.Fail(std::string("invalid JSON header: ") + e.what());
  }
  if (!json.is_object()) file.Fail("the JSON header is not an object");

  const uint64_t data_start = 8 + header_bytes;
  const uint64_t data_bytes = file_bytes - data_start;
  std::vector<Entry> entries;
  for (const auto& [name, value] : json.items()) {
    if (name != "__metadata__") {
      entries.push_back(ParseEntry(file, name, value, data_bytes));
      continue;
    }
    if (!value.is_object()) file.Fail("__metadata__ is not a JSON object");
    for (const auto& [key, text] : value.items()) {
      if (!text.is_string()) file.Fail("__metadata__ entry '" + key + "' is not a string");
      file.metadata[key] = text.get<std::string>();
    }
  }

  // Overlapping tensors would let a small file claim more data than it holds.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end) {
      file.Fail(Quoted(entries[i - 1].name) + " and " + Quoted(entries[i].name) +
                " overlap in the data section");
    }
  }

  for (Entry& e : entries) {
    Tensor t{e.dtype, std::move(e.shape), std::vector<std::byte>(size_t(e.end - e.begin))};
    ReadExactly(file, in, t.data.data(), data_start + e.begin, e.end - e.begin,
                "the data of " + Quoted(e.name));
    file.tensors.emplace(e.name, std::move(t));
  }
  return file;
}

void WriteSafetensors(const std::string& path, const Tensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__" || TensorBytes(t.dtype, t.shape) != t.data.size()) {
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

}  // namespace tgk::tool
