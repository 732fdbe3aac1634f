// The tgk tool: its safetensors reader and writer directly, then the built executable end to
// end on tiny shapes of every kernel, and `tgk bench` at the default shapes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "npy.h"
#include "npy_testing.h"
#include "safetensors.h"
#include "tgk/convert.h"
#include "tgk/detail/cpu.h"
#include "tgk/error.h"
#include "tgk/target.h"

namespace tgk::tool {
namespace {

namespace fs = std::filesystem;

class ToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           ("tgk_tool_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A file of an 8-byte header length (`length`, else the header's size), the header and
  // `data_bytes` zero bytes.
  std::string WriteRaw(const std::string& name, const std::string& header, size_t data_bytes,
                       std::optional<uint64_t> length = std::nullopt) const {
    const std::string path = Path(name);
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = length.value_or(header.size());
    for (int i = 0; i < 8; ++i) out.put(char(n >> (8 * i) & 0xFF));
    out << header << std::string(data_bytes, '\0');
    return path;
  }

  // A file of `bytes`.
  std::string WriteBytes(const std::string& name, const std::string& bytes) const {
    const std::string path = Path(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  fs::path dir_;
};

// Runs `body`, which must throw a tgk::Error of kind kIo naming `path` and saying `problem`.
void ExpectIoError(const std::string& path, const std::string& problem,
                   const std::function<void()>& body) {
  try {
    body();
    ADD_FAILURE() << "no error; expected: " << problem;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo) << e.what();
    EXPECT_NE(e.message().find(path + ": "), std::string::npos) << e.what();
    EXPECT_NE(e.message().find(problem), std::string::npos) << e.what();
  }
}

Tensor Filled(DType dtype, std::vector<uint64_t> shape, uint8_t seed) {
  Tensor t = Tensor::Zeros(dtype, std::move(shape));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = std::byte(uint8_t(seed + 7 * i));
  return t;
}

// ---- safetensors ---------------------------------------------------------------------------

TEST_F(ToolTest, SafetensorsRoundTrip) {
  const Tensors tensors{
      {"a", Filled(DType::kF32, {2, 3}, 1)},       {"b16", Filled(DType::kBF16, {5}, 2)},
      {"half", Filled(DType::kF16, {1, 1, 3}, 3)}, {"bytes", Filled(DType::kU8, {7}, 4)},
      {"ints", Filled(DType::kI32, {2, 2}, 5)},    {"words", Filled(DType::kU32, {3}, 6)},
      {"scalar", Filled(DType::kF32, {}, 7)},      {"empty", Filled(DType::kF32, {4, 0}, 8)}};
  const std::string path = Path("round_trip.safetensors");
  WriteSafetensors(path, tensors, {{"producer", "tool_test"}});

  const TensorFile file = ReadTensorFile(path);
  EXPECT_EQ(file.path, path);
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"producer", "tool_test"}}));
  ASSERT_EQ(file.index.size(), tensors.size());
  for (const auto& [name, want] : tensors) {
    SCOPED_TRACE(name);
    const Tensor got = file.Load(name, want.dtype);
    EXPECT_EQ(got.shape, want.shape);
    EXPECT_EQ(got.data, want.data);
  }

  // The layout the format prescribes: a little-endian length, a space-padded JSON header of a
  // multiple of 8 bytes, then the data in name order.
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | uint8_t(bytes[size_t(i)]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  size_t data_bytes = 0;
  for (const auto& [name, t] : tensors) data_bytes += t.data.size();
  EXPECT_EQ(bytes.size(), 8 + n + data_bytes);
  EXPECT_EQ(bytes.compare(8 + n, tensors.at("a").data.size(),
                          reinterpret_cast<const char*>(tensors.at("a").data.data()),
                          tensors.at("a").data.size()),
            0);
}

TEST_F(ToolTest, SafetensorsLookupErrors) {
  const std::string path = Path("lookup.safetensors");
  WriteSafetensors(path, {{"x", Filled(DType::kF32, {2}, 0)}});
  const TensorFile file = ReadTensorFile(path);
  EXPECT_EQ(file.Find("k"), nullptr);
  ExpectIoError(path, "no tensor 'k' (the file has 'x' F32 [2])",
                [&] { file.Load("k", DType::kBF16); });
  ExpectIoError(path, "tensor 'x' has dtype F32, expected BF16 (--cast converts",
                [&] { file.Load("x", DType::kBF16); });
}

TEST_F(ToolTest, SafetensorsRejectsMissingAndShortFiles) {
  const std::string missing = Path("missing.safetensors");
  ExpectIoError(missing, "cannot open", [&] { ReadTensorFile(missing); });
  ExpectIoError(Path(""), "not a regular file", [&] { ReadTensorFile(Path("")); });

  const std::string truncated = Path("truncated.safetensors");
  std::ofstream(truncated, std::ios::binary) << "abc";
  ExpectIoError(truncated, "truncated header", [&] { ReadTensorFile(truncated); });

  const std::string beyond = WriteRaw("beyond.safetensors", "{}", 0, 3);
  ExpectIoError(beyond, "header length (3 bytes) runs past the end of the file",
                [&] { ReadTensorFile(beyond); });
  // A hostile length is refused before anything is allocated for it.
  const std::string huge = WriteRaw("huge.safetensors", "{}", 0, uint64_t{1} << 62);
  ExpectIoError(huge,
                "the header length (4611686018427387904 bytes) exceeds the safetensors "
                "limit of 100000000 bytes",
                [&] { ReadTensorFile(huge); });
  const std::string over = WriteRaw("over.safetensors", "{}", 0, 100'000'001);
  ExpectIoError(over, "exceeds the safetensors limit of 100000000 bytes",
                [&] { ReadTensorFile(over); });
  const std::string at_limit = WriteRaw("at_limit.safetensors", "{}", 0, 100'000'000);
  ExpectIoError(at_limit, "the header length (100000000 bytes) runs past the end of the file",
                [&] { ReadTensorFile(at_limit); });
}

TEST_F(ToolTest, SafetensorsRejectsBadHeaders) {
  struct Case {
    const char* name;
    std::string header;
    size_t data_bytes;
    const char* problem;
  };
  const auto entry = [](const std::string& name, const std::string& dtype, const std::string& shape,
                        const std::string& offsets) {
    return "\"" + name + "\": {\"dtype\": \"" + dtype + "\", \"shape\": " + shape +
           ", \"data_offsets\": " + offsets + "}";
  };
  const std::vector<Case> cases = {
      {"invalid_json", "{\"x\": ", 0, "invalid JSON header"},
      {"not_object", "[1, 2]", 0, "the JSON header is not an object"},
      {"entry_not_object", "{\"x\": 3}", 0, "tensor 'x': header entry is not a JSON object"},
      {"no_dtype", "{\"x\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
       "tensor 'x': \"dtype\" is missing"},
      {"f64_size", "{" + entry("x", "F64", "[2]", "[0, 8]") + "}", 8,
       "tensor 'x': data_offsets [0, 8] hold 8 bytes, but F64 [2] needs 16"},
      {"dtype_not_string", "{\"x\": {\"dtype\": [1], \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
       "tensor 'x': \"dtype\" is missing or not a string"},
      {"negative_dim", "{" + entry("x", "F32", "[-1]", "[0, 4]") + "}", 4,
       "tensor 'x': \"shape\" is missing or not an array of non-negative integers"},
      {"fractional_dim", "{" + entry("x", "F32", "[1.5]", "[0, 4]") + "}", 4,
       "tensor 'x': \"shape\""},
      {"one_offset", "{" + entry("x", "F32", "[1]", "[4]") + "}", 4,
       "tensor 'x': \"data_offsets\" is missing or not a pair"},
      {"offsets_reversed", "{" + entry("x", "F32", "[1]", "[8, 4]") + "}", 8,
       "tensor 'x': data_offsets [8, 4] are reversed (begin > end)"},
      {"short_data", "{" + entry("x", "F32", "[4]", "[0, 16]") + "}", 12,
       "tensor 'x': data_offsets [0, 16] lie outside the data section (12 bytes"},
      {"size_mismatch", "{" + entry("x", "F32", "[3]", "[0, 8]") + "}", 8,
       "tensor 'x': data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12"},
      {"shape_overflow", "{" + entry("x", "BF16", "[4294967296, 4294967296]", "[0, 8]") + "}", 8,
       "tensor 'x': the size of shape [4294967296, 4294967296] overflows 64 bits"},
      {"overlap",
       "{" + entry("a", "F32", "[2]", "[0, 8]") + ", " + entry("b", "F32", "[2]", "[4, 12]") + "}",
       12, "tensor 'a' and tensor 'b' overlap in the data section"},
      {"metadata_not_object", "{\"__metadata__\": [1]}", 0, "__metadata__ is not a JSON object"},
      {"metadata_not_string", "{\"__metadata__\": {\"n\": 1}}", 0,
       "__metadata__ entry 'n' is not a string"},
      {"metadata_twice", "{\"__metadata__\": {}, \"__metadata__\": {}}", 0,
       "__metadata__ appears twice"},
      {"metadata_key_twice", "{\"__metadata__\": {\"a\": \"1\", \"a\": \"2\"}}", 0,
       "__metadata__ entry 'a' appears twice"},
      {"name_twice",
       "{" + entry("a", "F32", "[1]", "[0, 4]") + ", " + entry("a", "F32", "[1]", "[4, 8]") + "}",
       8, "tensor 'a' appears twice in the header"},
      // nlohmann's out_of_range, from a number no double holds, is a kIo error naming the file.
      {"huge_number", "{" + entry("x", "F32", "[1e400]", "[0, 4]") + "}", 4,
       "invalid JSON header: [json.exception.out_of_range.406] number overflow parsing '1e400'"},
      {"too_deep", "{\"x\": {\"dtype\": \"F32\", \"extra\": [[1]]}}", 0,
       "the JSON header nests deeper than 3 levels (a safetensors header has at most 3)"},
      {"very_deep", std::string(100000, '[') + std::string(100000, ']'), 0,
       "the JSON header is not an object"},
      {"very_deep_object",
       "{\"x\": {\"y\": {\"z\": " + std::string(100000, '[') + std::string(100000, ']') + "}}}", 0,
       "nests deeper than 3 levels"},
      // Names are printed escaped: no terminal control sequence reaches the user's screen.
      {"escaped_name", "{" + entry("a\\u001b[31m'\\\\", "F32", "[1]", "[0, 8]") + "}", 8,
       "tensor 'a\\x1b[31m\\'\\\\': data_offsets [0, 8] hold 8 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = WriteRaw(std::string(c.name) + ".safetensors", c.header, c.data_bytes);
    ExpectIoError(path, c.problem, [&] { ReadTensorFile(path); });
  }
}

// Every truncation of a valid file, and every single-byte corruption of its header, is either
// read or reported as a kIo error: never a crash, a huge allocation or another exception.
TEST_F(ToolTest, SafetensorsSurvivesDamage) {
  const std::string path = Path("valid.safetensors");
  WriteSafetensors(path,
                   {{"a", Filled(DType::kF32, {2, 3}, 1)}, {"b", Filled(DType::kBF16, {4}, 2)}},
                   {{"note", "x"}});
  std::ifstream in(path, std::ios::binary);
  const std::string valid((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | uint8_t(valid[size_t(i)]);

  const std::string damaged = Path("damaged.safetensors");
  const auto read = [&](const std::string& bytes) -> bool {
    // A new file each time: rewriting a truncated one makes some file systems flush it.
    fs::remove(damaged);
    std::ofstream(damaged, std::ios::binary) << bytes;
    try {
      ReadTensorFile(damaged);
      return true;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kIo) << e.what();
      return false;
    }
  };
  for (size_t length = 0; length < valid.size(); ++length) {
    EXPECT_FALSE(read(valid.substr(0, length))) << "truncated to " << length << " bytes";
  }
  for (size_t i = 0; i < 8 + header_bytes; ++i) {
    for (const char value : {'\0', '\x7f', '\xff', '[', '"', '9'}) {
      std::string bytes = valid;
      bytes[i] = value;
      read(bytes);
    }
  }
}

TEST_F(ToolTest, SafetensorsWriteErrors) {
  ExpectIoError(Path("no/such/dir/x.safetensors"), "cannot write",
                [&] { WriteSafetensors(Path("no/such/dir/x.safetensors"), {}); });
  Tensor inconsistent = Filled(DType::kF32, {3}, 0);
  inconsistent.data.resize(8);
  EXPECT_THROW(WriteSafetensors(Path("bad.safetensors"), {{"x", inconsistent}}), Error);
}

// ---- .npy and .npz -------------------------------------------------------------------------

using testing::Npy;
using testing::NpyWithHeader;
using testing::PutLittleEndian;
using testing::Zip;
using testing::ZipMember;

// `count` little-endian values of `bytes` bytes each: first, first + 1, ...
std::string Counting(size_t count, int bytes, uint64_t first = 0) {
  std::string data;
  for (size_t i = 0; i < count; ++i) PutLittleEndian(data, first + i, bytes);
  return data;
}

std::string AsString(const AlignedBytes& data) {
  return std::string(reinterpret_cast<const char*>(data.data()), data.size());
}

TEST_F(ToolTest, NpyRoundTripInEveryFormatVersion) {
  const std::string data = Counting(6, 4, 0x3F800000);
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    // Read through ReadTensorFile, as every command reads --in and --ref: by the extension.
    const std::string path =
        WriteBytes("x" + std::to_string(major) + ".NPY", Npy("<f4", "(2, 3)", data, false, major));
    const TensorFile file = ReadTensorFile(path);
    EXPECT_EQ(file.path, path);
    EXPECT_TRUE(file.metadata.empty());
    ASSERT_EQ(file.index.size(), 1u);
    const std::string name = "x" + std::to_string(major);
    ASSERT_NE(file.Find(name), nullptr) << file.Listing();
    EXPECT_EQ(file.Listing(), "'" + name + "' F32 [2, 3]");
    const Tensor t = file.Load(name, DType::kF32);
    EXPECT_EQ(t.shape, (std::vector<uint64_t>{2, 3}));
    EXPECT_EQ(AsString(t.data), data);
  }
  // A scalar, and a shape of one dim written without a space.
  const std::string scalar = WriteBytes("s.npy", Npy("<i4", "()", Counting(1, 4, 7)));
  EXPECT_EQ(ReadNpy(scalar).Load("s", DType::kI32).shape, std::vector<uint64_t>{});
  const std::string row = WriteBytes("r.npy", NpyWithHeader("{\"shape\":(3,),\"fortran_order\":"
                                                            "False,\"descr\":\"|u1\"}",
                                                            "abc"));
  EXPECT_EQ(AsString(ReadNpy(row).Load("r", DType::kU8).data), "abc");
}

TEST_F(ToolTest, NpyDtypes) {
  struct Case {
    std::string descr;
    std::string name;  // in the index and the listing
    int bytes;         // per element
    std::optional<DType> dtype;
  };
  const Case cases[] = {
      {"<f4", "F32", 4, DType::kF32},   {"<f2", "F16", 2, DType::kF16},
      {"<V2", "BF16", 2, DType::kBF16}, {"|u1", "U8", 1, DType::kU8},
      {"<u4", "U32", 4, DType::kU32},   {"<i4", "I32", 4, DType::kI32},
      {"<f8", "F64", 8, std::nullopt},  {"<i8", "I64", 8, std::nullopt},
      {"|b1", "BOOL", 1, std::nullopt}, {"|i1", "I8", 1, std::nullopt},
      {"<u2", "U16", 2, std::nullopt},  {">f4", ">f4", 4, std::nullopt},
      {">u1", "U8", 1, DType::kU8},     {"=f4", "F32", 4, DType::kF32},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.descr);
    const std::string path = WriteBytes("t.npy", Npy(c.descr, "(3,)", Counting(3, c.bytes, 1)));
    const TensorFile file = ReadNpy(path);
    const TensorInfo* info = file.Find("t");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->dtype_name, c.name);
    EXPECT_EQ(info->dtype, c.dtype);
    EXPECT_EQ(file.Listing(), "'t' " + c.name + " [3]");
    if (c.dtype) {
      EXPECT_EQ(AsString(file.Load("t", *c.dtype).data), Counting(3, c.bytes, 1));
    }
  }
  // numpy's U16 holds the bits of 16-bit floats: they load as BF16 or F16, nothing else.
  const std::string bits = Counting(3, 2, 0x3F80);
  const TensorFile u16 = ReadNpy(WriteBytes("u.npy", Npy("<u2", "(3,)", bits)));
  EXPECT_EQ(AsString(u16.Load("u", DType::kBF16).data), bits);
  EXPECT_EQ(AsString(u16.Load("u", DType::kF16).data), bits);
  ExpectIoError(u16.path, "tensor 'u' has dtype U16, expected F32",
                [&] { u16.Load("u", DType::kF32); });
  ExpectIoError(u16.path, "tensor 'u' has dtype U16, expected F32",
                [&] { u16.Load("u", DType::kF32, true); });
  // F64 converts on request, as in safetensors; integers, big-endian data, never.
  std::string f64;
  for (double d : {1.5, -2.0}) f64.append(reinterpret_cast<const char*>(&d), 8);
  const TensorFile wide = ReadNpy(WriteBytes("d.npy", Npy("<f8", "(2,)", f64)));
  ExpectIoError(wide.path, "tensor 'd' has dtype F64, expected F32 (--cast converts",
                [&] { wide.Load("d", DType::kF32); });
  const Tensor d = wide.Load("d", DType::kF32, true);
  EXPECT_EQ(d.view().as<float>()[0], 1.5f);
  EXPECT_EQ(d.view().as<float>()[1], -2.0f);
  const TensorFile big = ReadNpy(WriteBytes("b.npy", Npy(">f4", "(1,)", Counting(1, 4))));
  ExpectIoError(big.path, "tensor 'b' has dtype >f4, expected F32",
                [&] { big.Load("b", DType::kF32, true); });
  // Descrs without a fixed size are indexed, unchecked and unloadable.
  const TensorFile text = ReadNpy(WriteBytes("c.npy", Npy("<U3", "(2,)", "anything")));
  EXPECT_EQ(text.Listing(), "'c' <U3 [2]");
  const TensorFile structured = ReadNpy(WriteBytes(
      "st.npy", NpyWithHeader("{'descr': [('a', '<f4'), ('b', '<i4', (2,)), ('c', [('d', "
                              "'|u1')])], 'fortran_order': False, 'shape': (1,), }",
                              std::string(13, '\0'))));
  EXPECT_EQ(structured.Listing(), "'st' structured [1]");
  ExpectIoError(structured.path, "tensor 'st' has dtype structured, expected F32",
                [&] { structured.Load("st", DType::kF32); });
}

// Fortran order (what np.save writes for a transposed array) loads row-major.
TEST_F(ToolTest, NpyFortranOrderLoadsRowMajor) {
  const std::vector<uint64_t> shape{2, 3, 4};
  std::string column_major;
  for (uint64_t k = 0; k < 4; ++k) {
    for (uint64_t j = 0; j < 3; ++j) {
      for (uint64_t i = 0; i < 2; ++i) PutLittleEndian(column_major, (i * 3 + j) * 4 + k, 4);
    }
  }
  const TensorFile file = ReadNpy(WriteBytes("f.npy", Npy("<i4", "(2, 3, 4)", column_major, true)));
  const Tensor t = file.Load("f", DType::kI32);
  EXPECT_EQ(t.shape, shape);
  EXPECT_EQ(AsString(t.data), Counting(24, 4));
  // Converted after reordering.
  std::string f64;
  for (double d : {0.0, 3.0, 1.0, 4.0, 2.0, 5.0}) f64.append(reinterpret_cast<const char*>(&d), 8);
  const TensorFile wide = ReadNpy(WriteBytes("d.npy", Npy("<f8", "(2, 3)", f64, true)));
  const Tensor d = wide.Load("d", DType::kF32, true);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(d.view().as<float>()[i], float(i)) << i;
}

TEST_F(ToolTest, NpyRejectsBadFiles) {
  const std::string missing = Path("missing.npy");
  ExpectIoError(missing, "cannot open", [&] { ReadTensorFile(missing); });
  const std::string f32x3 = Counting(3, 4);
  struct Case {
    const char* name;
    std::string bytes;
    std::string problem;
  };
  std::string long_v2 = Npy("<f4", "(3,)", f32x3, false, 2);
  long_v2.replace(8, 4, "\x71\x11\x01\x00", 4);  // 70001 bytes
  std::string past_end = Npy("<f4", "(3,)", f32x3);
  past_end.replace(8, 2, "\xff\xff", 2);
  std::string rank65 = "(";
  for (int i = 0; i < 65; ++i) rank65 += "1,";
  const auto header = [](const std::string& text) { return NpyWithHeader(text, ""); };
  const std::vector<Case> cases = {
      {"short", "\x93NUMPY\x01", "truncated: 7 bytes, fewer than a .npy preamble"},
      {"short_v2", std::string("\x93NUMPY\x02\x00\x00\x00", 10),
       "truncated: 10 bytes, fewer than a .npy preamble"},
      {"magic", "\x93NUMPZ" + Npy("<f4", "(3,)", f32x3).substr(6),
       "not a .npy file (it does not start with \\x93NUMPY)"},
      {"version", Npy("<f4", "(3,)", f32x3, false, 4),
       "unsupported .npy format version 4.0 (tgk reads 1.0, 2.0 and 3.0)"},
      {"long_header", long_v2,
       "the .npy header length (70001 bytes) exceeds the reader's limit of 65535 bytes"},
      {"past_end", past_end, "the .npy header length (65535 bytes) runs past the end of the data"},
      {"size", Npy("<f4", "(3,)", Counting(2, 4)), "the data holds 8 bytes, but F32 [3] needs 12"},
      {"overflow", Npy("<u2", "(4294967296, 4294967296)", ""),
       "the size of shape [4294967296, 4294967296] overflows 64 bits"},
      {"not_dict", header("[1]"), "invalid .npy header: expected '{' (at byte 0 of the header)"},
      {"missing", header("{'descr': '<f4', 'fortran_order': False}"), "'shape' is missing"},
      {"unknown", header("{'descr': '<f4', 'x\x1b': 1}"),
       "unexpected key 'x\\x1b' (a .npy header has descr, fortran_order and shape)"},
      {"twice", header("{'descr': '<f4', 'descr': '<f4'}"), "'descr' appears twice"},
      {"fortran", header("{'fortran_order': 1}"), "'fortran_order' is neither True nor False"},
      {"negative", header("{'shape': (-1,)}"), "the dim '-1' is not a non-negative 64-bit integer"},
      {"huge_dim", header("{'shape': (18446744073709551616,)}"),
       "the dim '18446744073709551616' is not a non-negative 64-bit integer"},
      {"rank", header("{'shape': " + rank65 + ")}"),
       "the shape has more than 64 dims (the reader's limit)"},
      {"list_shape", header("{'shape': [1]}"), "expected '('"},
      {"nesting", header("{'descr': " + std::string(17, '[')),
       "nesting deeper than 16 levels (at byte 25 of the header)"},
      {"unbalanced", header("{'descr': [('a', '<f4')}"), "expected ']'"},
      {"string", header("{'descr: 1}"), "unterminated string"},
      {"key", header("{descr: 1}"), "expected a quoted string"},
      {"after", header("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x"),
       "text after the dict"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = WriteBytes(std::string(c.name) + ".npy", c.bytes);
    ExpectIoError(path, c.problem, [&] { ReadTensorFile(path); });
  }
}

TEST_F(ToolTest, NpzRoundTrip) {
  const std::string k = Npy("<V2", "(2, 2)", Counting(4, 2, 0x3F80));
  const std::string beta = Npy("<f4", "(3,)", Counting(3, 4, 0x3F800000));
  const std::string step = Npy("<i8", "()", Counting(1, 8, 1000));
  for (const bool zip64 : {false, true}) {
    SCOPED_TRACE(zip64);
    const std::string path = WriteBytes("dump.npz", Zip({{"k.npy", k},
                                                         {"layer/0/beta.npy", beta},
                                                         {"step.npy", step},
                                                         {"README.txt", "not a tensor"},
                                                         {"dir/", ""}},
                                                        zip64));
    const TensorFile file = ReadTensorFile(path);
    EXPECT_TRUE(file.metadata.empty());
    EXPECT_EQ(file.Listing(), "'k' BF16 [2, 2], 'layer/0/beta' F32 [3], 'step' I64 []");
    EXPECT_EQ(AsString(file.Load("k", DType::kBF16).data), Counting(4, 2, 0x3F80));
    EXPECT_EQ(AsString(file.Load("layer/0/beta", DType::kF32).data), Counting(3, 4, 0x3F800000));
    ExpectIoError(path, "tensor 'step' has dtype I64, expected I32",
                  [&] { file.Load("step", DType::kI32); });
    EXPECT_EQ(file.LoadAll().size(), 2u);
  }
  // An empty archive holds no tensors.
  EXPECT_EQ(ReadNpz(WriteBytes("empty.npz", Zip({}))).Listing(), "no tensors");
}

// Patches `value` into `bytes` at `at`, `size` bytes little-endian.
void Patch(std::string& bytes, size_t at, uint64_t value, int size) {
  std::string field;
  PutLittleEndian(field, value, size);
  bytes.replace(at, size_t(size), field);
}

TEST_F(ToolTest, NpzRejectsBadArchives) {
  const std::string a = Npy("<f4", "(2,)", Counting(2, 4));
  const std::string b = Npy("<f4", "(1,)", Counting(1, 4));
  const std::string two = Zip({{"a.npy", a}, {"b.npy", b}});
  const size_t end = two.size() - 22;  // the end record
  const size_t directory = size_t(two[end + 16] & 0xFF) | size_t(two[end + 17] & 0xFF) << 8;
  ASSERT_EQ(two.compare(directory, 4, "PK\x01\x02"), 0);
  const auto patched = [](std::string bytes, size_t at, uint64_t value, int size) {
    Patch(bytes, at, value, size);
    return bytes;
  };
  std::string grown = two;  // a's sizes reach into b's local header
  Patch(grown, directory + 20, a.size() + 10, 4);
  Patch(grown, directory + 24, a.size() + 10, 4);
  const std::string zip64 = Zip({{"a.npy", a}}, true);
  const size_t locator = zip64.size() - 22 - 20;
  struct Case {
    const char* name;
    std::string bytes;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"tiny", "PK\x05\x06", "not a zip archive: 4 bytes, fewer than its end record"},
      {"not_zip", std::string(100, 'x'),
       "not a zip archive (no end of central directory record; np.savez writes one)"},
      {"deflate", Zip({{"a.npy", a, 8}}),
       "entry 'a.npy': it is compressed (deflate), and tgk reads stored entries only: write the "
       "file with np.savez, not np.savez_compressed"},
      {"bzip2", Zip({{"a.npy", a, 12}}),
       "entry 'a.npy': it uses compression method 12, and tgk reads stored entries only"},
      {"encrypted", Zip({{"a.npy", a, 0, 1}}), "entry 'a.npy': it is encrypted"},
      {"stored_size", patched(two, directory + 20, a.size() + 1, 4),
       "entry 'a.npy': a stored entry of " + std::to_string(a.size()) + " bytes holds " +
           std::to_string(a.size() + 1)},
      {"local_outside", patched(two, directory + 42, 1u << 30, 4),
       "entry 'a.npy': its local header (offset 1073741824) lies outside the file"},
      {"local_other", patched(two, directory + 42, 1, 4),
       "entry 'a.npy': its local header is not the entry's"},
      {"data_past_end",
       patched(patched(two, directory + 20, 1u << 30, 4), directory + 24, 1u << 30, 4),
       "entry 'a.npy': its data (1073741824 bytes) runs past the end of the file"},
      {"overlap", grown, "entry 'a.npy': it overlaps entry 'b.npy'"},
      {"twice", Zip({{"a.npy", a}, {"a.npy", b}}), "entry 'a.npy': it appears twice"},
      {"count", patched(patched(two, end + 8, 3, 2), end + 10, 3, 2),
       "the central directory holds 2 of its 3 entries"},
      {"directory_outside", patched(two, end + 16, two.size(), 4),
       "the central directory (offset " + std::to_string(two.size()) + ", " +
           std::to_string(end - directory) + " bytes) lies outside the archive"},
      {"zip64_extra", patched(two, directory + 20, 0xFFFFFFFF, 4),
       "entry 'a.npy': its ZIP64 extra field is missing or short"},
      {"zip64_end", patched(patched(two, end + 8, 0xFFFF, 2), end + 10, 0xFFFF, 2),
       "the end record needs a ZIP64 end record, which is missing"},
      {"parts", patched(two, end + 4, 1, 2), "a zip archive of several parts"},
      {"zip64_outside", patched(zip64, locator + 8, 1u << 30, 8),
       "the ZIP64 end record (offset 1073741824) lies outside the archive"},
      {"zip64_signature", patched(zip64, locator + 8, 0, 8),
       "the ZIP64 end record has a bad signature"},
      {"entry_npy", Zip({{"k\x1b.npy", "not npy data"}}),
       "entry 'k\\x1b.npy': not a .npy file (it does not start with \\x93NUMPY)"},
      {"entry_header", Zip({{"k.npy", NpyWithHeader("{'shape': (1,)", "")}}),
       "entry 'k.npy': invalid .npy header: expected '}'"},
      {"entry_size", Zip({{"k.npy", Npy("<f4", "(3,)", Counting(2, 4))}}),
       "entry 'k.npy': the data holds 8 bytes, but F32 [3] needs 12"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = WriteBytes(std::string(c.name) + ".npz", c.bytes);
    ExpectIoError(path, c.problem, [&] { ReadTensorFile(path); });
  }
}

// ---- the executable --------------------------------------------------------------------------

struct ToolRun {
  int exit_code = -1;
  std::string out, err;
};

class ToolRunTest : public ToolTest {
 protected:
  // Runs the tool with `args`; with data_limit_kb, under that limit of its data segment
  // (ulimit -d), which caps what it can allocate.
  ToolRun Run(const std::string& args, int data_limit_kb = 0) const {
    const std::string err_path = Path("stderr.txt");
    const std::string limit =
        data_limit_kb == 0
            ? ""
            : "bash -c 'ulimit -d " + std::to_string(data_limit_kb) + " && exec \"$0\" \"$@\"' ";
    const std::string command = limit + "'" + TGK_TOOL_PATH + "' " + args + " 2>'" + err_path + "'";
    ToolRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (!pipe) {
      ADD_FAILURE() << "popen failed: " << std::strerror(errno);
      return run;
    }
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) run.out.append(buffer, n);
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream err(err_path);
    run.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
    return run;
  }

  // Runs `args`, which must fail with exit code 2 and print "tgk: <what>" on stderr.
  void ExpectError(const std::string& args, const std::string& what) const {
    SCOPED_TRACE(args);
    const ToolRun r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("tgk: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  }
};

constexpr const char* kTiny = "run kkt --T 100 --H 4 --Hg 2 --K 64 --threads 2 --repeat 2";

TEST_F(ToolRunTest, KktMatchesTheOracleOnEveryTarget) {
  for (const Target& target : AvailableTargets()) {
    SCOPED_TRACE(target.name());
    const ToolRun r = Run(std::string(kTiny) + " --oracle --target " + target.name());
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("shape    B=1 T=100 H=4 Hg=2 K=64"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("target   " + target.name() + ", 2 threads"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("A vs scalar, 2 threads: bitwise equal (25600 elements)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos) << r.out;
  }
}

TEST_F(ToolRunTest, KktOutputFileRoundTrip) {
  const std::string first = Path("first.safetensors"), second = Path("second.safetensors");
  ToolRun r = Run(std::string(kTiny) + " --seed 5 --out '" + first + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run("run kkt --threads 1 --repeat 1 --in '" + first + "' --out '" + second + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("shape    B=1 T=100 H=4 Hg=2 K=64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ref A    vs " + first + " tensor 'A': bitwise equal (25600 elements)"),
            std::string::npos)
      << r.out;

  const TensorFile a = ReadTensorFile(first), b = ReadTensorFile(second);
  EXPECT_EQ(a.Find("A")->shape, (std::vector<uint64_t>{1, 100, 4, 64}));
  EXPECT_EQ(a.Find("k")->shape, (std::vector<uint64_t>{1, 100, 2, 64}));
  EXPECT_EQ(a.LoadAll().size(), 4u);
  for (const auto& [name, t] : a.LoadAll()) {
    SCOPED_TRACE(name);
    ASSERT_NE(b.Find(name), nullptr);
    EXPECT_EQ(t.data, b.Load(name, t.dtype).data);
  }
  EXPECT_EQ(a.metadata.at("tgk_kernel"), "kkt");
}

TEST_F(ToolRunTest, KktReportsWhereTheFileResultDiffers) {
  const std::string path = Path("in.safetensors");
  ASSERT_EQ(Run(std::string(kTiny) + " --out '" + path + "'").exit_code, 0);
  Tensors tensors = ReadTensorFile(path).LoadAll();
  Tensor& A = tensors.at("A");
  // Element [0, 3, 1, 2] is in the strictly lower triangle of the first chunk.
  float* element = A.as<float>() + (3 * 4 + 1) * 64 + 2;
  const float changed = *element + 1.0f;
  *element = changed;
  WriteSafetensors(path, tensors);

  const ToolRun r = Run("run kkt --repeat 1 --in '" + path + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("tensor 'A': FAIL, 1 of 25600 elements differ; max abs 1 at A[0, 3, 1, 2]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  result   FAIL (bitwise)"), std::string::npos) << r.out;
}

// The random inputs follow the upstream fixture's distributions (spec section 9) and depend
// only on the seed.
TEST_F(ToolRunTest, KktRandomInputs) {
  const auto inputs = [&](int seed) {
    const std::string path = Path("seed" + std::to_string(seed) + ".safetensors");
    const ToolRun r = Run("run kkt --T 200 --H 2 --Hg 1 --K 64 --repeat 1 --warmup 0 --seed " +
                          std::to_string(seed) + " --out '" + path + "'");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return ReadTensorFile(path);
  };
  const TensorFile a = inputs(3), again = inputs(3), other = inputs(4);
  for (const char* name : {"k", "beta", "g"}) {
    SCOPED_TRACE(name);
    const DType dtype = *a.Find(name)->dtype;
    EXPECT_EQ(a.Load(name, dtype).data, again.Load(name, dtype).data);
    EXPECT_NE(a.Load(name, dtype).data, other.Load(name, dtype).data);
  }

  const Tensor k = a.Load("k", DType::kBF16);
  double sum = 0, sum_squares = 0;
  for (uint64_t i = 0; i < k.count(); ++i) {
    const double x = F32FromBF16(reinterpret_cast<const bf16*>(k.data.data())[i]);
    sum += x;
    sum_squares += x * x;
  }
  EXPECT_NEAR(sum / double(k.count()), 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sum_squares / double(k.count())), 0.1, 0.01);

  const Tensor beta_tensor = a.Load("beta", DType::kF32);
  const auto* beta = reinterpret_cast<const float*>(beta_tensor.data.data());
  for (int i = 0; i < 200 * 2; ++i) {
    EXPECT_GE(beta[i], 0.1f);
    EXPECT_LT(beta[i], 1.0f);
  }
  // g restarts at every 64-step chunk and falls by 0.005 to 0.05 per step within one.
  const Tensor g_tensor = a.Load("g", DType::kF32);
  const auto* g = reinterpret_cast<const float*>(g_tensor.data.data());
  for (int t = 0; t < 200; ++t) {
    for (int h = 0; h < 2; ++h) {
      const float step = t % 64 == 0 ? g[t * 2 + h] : g[t * 2 + h] - g[(t - 1) * 2 + h];
      EXPECT_GE(step, -0.05f - 1e-6f) << "t=" << t;
      EXPECT_LE(step, -0.005f + 1e-6f) << "t=" << t;
    }
  }
}

TEST_F(ToolRunTest, Errors) {
  ExpectError(std::string(kTiny) + " --target nope",
              "tgk: Invalid argument: target 'nope' is not available here (available: scalar");
  ExpectError("run kkt --T 64 --H 3 --Hg 2 --K 64",
              "gated_delta_net_kkt: h (3) must be a multiple of hg (2)");
  ExpectError("run kkt --threads -1 --T 64 --H 1 --Hg 1 --K 64",
              "threads (-1) must be in [0, 1024]");

  const std::string missing = Path("missing.safetensors");
  ExpectError("run kkt --in '" + missing + "'", "tgk: I/O error: " + missing + ": cannot open");
  const std::string garbage = WriteRaw("garbage.safetensors", "not json", 0);
  ExpectError("run kkt --in '" + garbage + "'", garbage + ": invalid JSON header");

  const std::string dtype = Path("dtype.safetensors");
  WriteSafetensors(dtype, {{"k", Filled(DType::kF32, {1, 64, 1, 64}, 0)}});
  ExpectError("run kkt --in '" + dtype + "'", dtype + ": tensor 'k' has dtype F32, expected BF16");

  const std::string no_g = Path("no_g.safetensors");
  WriteSafetensors(no_g, {{"k", Filled(DType::kBF16, {1, 64, 1, 64}, 0)},
                          {"beta", Filled(DType::kF32, {1, 64, 2}, 0)}});
  ExpectError("run kkt --in '" + no_g + "'", no_g + ": no tensor 'g'");

  const std::string mismatch = Path("mismatch.safetensors");
  WriteSafetensors(mismatch, {{"k", Filled(DType::kBF16, {1, 64, 1, 64}, 0)},
                              {"beta", Filled(DType::kF32, {1, 63, 2}, 0)},
                              {"g", Filled(DType::kF32, {1, 64, 2}, 0)}});
  ExpectError("run kkt --in '" + mismatch + "'",
              mismatch +
                  ": tensor 'beta' has shape [1, 63, 2], expected [B, T, H]; B = 1 from "
                  "tensor 'k'; T = 64 from tensor 'k'");

  const std::string bad_A = Path("bad_A.safetensors");
  WriteSafetensors(bad_A, {{"k", Filled(DType::kBF16, {1, 64, 1, 64}, 0)},
                           {"beta", Filled(DType::kF32, {1, 64, 2}, 0)},
                           {"g", Filled(DType::kF32, {1, 64, 2}, 0)},
                           {"A", Filled(DType::kF32, {1, 64, 2, 32}, 0)}});
  ExpectError("run kkt --in '" + bad_A + "'",
              "tensor 'A' has shape [1, 64, 2, 32], expected [B, T, H, BT]");

  const std::string good = Path("good.safetensors");
  ASSERT_EQ(Run(std::string(kTiny) + " --out '" + good + "'").exit_code, 0);
  ExpectError("run kkt --T 50 --in '" + good + "'",
              "--T 50 disagrees with the input file " + good + " (T = 100 from tensor 'k')");

  // Usage errors are CLI11's messages, with exit status 2.
  const ToolRun usage = Run("run kkt --T x");
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_NE(usage.err.find("--T"), std::string::npos) << usage.err;
}

// ---- the other kernels, at tiny shapes ------------------------------------------------------

// The line of `out` that starts with `start` (without its newline), empty when there is none.
std::string Line(const std::string& out, const std::string& start) {
  const std::string text = "\n" + out;
  const size_t at = text.find("\n" + start);
  if (at == std::string::npos) return "";
  const size_t end = text.find('\n', at + 1);
  return text.substr(at + 1, end == std::string::npos ? end : end - at - 1);
}

constexpr const char* kTinyOptions = " --threads 2 --repeat 1 --warmup 0";

// The elements of every output that `tgk run --oracle` found bitwise equal to the oracle's,
// summed over its "oracle" lines.
uint64_t OracleEqualElements(const std::string& out) {
  uint64_t total = 0;
  const std::string marker = " vs scalar, 2 threads: bitwise equal (";
  for (size_t at = out.find(marker); at != std::string::npos; at = out.find(marker, at + 1)) {
    total += std::stoull(out.substr(at + marker.size()));
  }
  return total;
}

struct TinyRun {
  const char* args;
  const char* shape;
  uint64_t elements;  // in the outputs
};

// Every kernel path of the commands: both dtypes, both NWG, the masks, each encoder and
// dequantiser, head_dim 512's per-block norms, a sliding cache that wraps.
const TinyRun kTinyRuns[] = {
    {"run sdpa --n_heads 4 --n_kv_heads 2 --head_dim 64 --seq_len 40 --kv_seq_len 50 "
     "--kv_capacity 60",
     "batch=1 n_heads=4 n_kv_heads=2 head_dim=64 seq_len=40 kv_seq_len=50 kv_capacity=60", 10240},
    {"run sdpa --dtype bf16 --batch 2 --n_heads 2 --n_kv_heads 1 --head_dim 32 --seq_len 1 "
     "--kv_seq_len 33 --scale 0.5",
     "batch=2 n_heads=2 n_kv_heads=1 head_dim=32 seq_len=1 kv_seq_len=33 scale=0.5", 128},
    {"run flash-attn-vec --num_heads 4 --num_kv_heads 2 --head_dim 128 --kv_seq_len 100 "
     "--kv_capacity 128",
     "num_heads=4 num_kv_heads=2 head_dim=128 kv_seq_len=100 kv_capacity=128 NWG=1", 512},
    {"run flash-attn-vec --nwg 32 --num_heads 2 --num_kv_heads 1 --head_dim 256 --kv_seq_len 300 "
     "--mask_type 2 --sliding_window 200 --ring_start 7",
     "num_heads=2 num_kv_heads=1 head_dim=256 kv_seq_len=300 mask_type=2 sliding_window=200 "
     "ring_start=7 NWG=32",
     512},
    {"run tq-encode --num_kv_heads 2 --n_tokens 5 --write_pos_start 3",
     "num_kv_heads=2 head_dim=256 n_tokens=5 write_pos_start=3", 2 * 8 * 128 + 2 * 8},
    {"run tq-encode --num_kv_heads 1 --head_dim 64 --n_tokens 3 --cache_capacity 4",
     "num_kv_heads=1 head_dim=64 n_tokens=3 cache_capacity=4", 4 * 32 + 4},
    {"run tq-encode --bits 8 --num_kv_heads 2 --head_dim 512 --n_tokens 6 --cache_capacity 4 "
     "--is_sliding --scale_factor_d512 16",
     "num_kv_heads=2 head_dim=512 n_tokens=6 cache_capacity=4 scale_factor_d512=16 is_sliding",
     2 * 4 * 512 + 2 * 4 * 2},
    {"run tq-dequant --num_kv_heads 2 --n_tokens 5 --start_pos 2",
     "num_kv_heads=2 head_dim=256 n_tokens=5 start_pos=2", 2 * 5 * 256},
    {"run tq-dequant --bits 4 --num_kv_heads 3 --head_dim 128 --read_pos 4 --cache_capacity 6",
     "num_kv_heads=3 head_dim=128 read_pos=4 cache_capacity=6", 3 * 128},
    {"run tq-dequant --bits 6 --no-seq --num_kv_heads 2 --head_dim 512 --read_pos 1 "
     "--scale_factor_d512 2",
     "num_kv_heads=2 head_dim=512 read_pos=1 scale_factor_d512=2", 2 * 512},
    {"run gdn-chunk --T 100 --Hg 1 --H 2 --K 64 --V 40", "B=1 T=100 Hg=1 H=2 K=64 V=40",
     100 * 2 * 40 + 2 * 40 * 64},
    {"run gdn-recurrent --Sn 2 --T 3 --Hk 1 --Hv 2 --Dk 64 --Dv 8 --scale 0.5",
     "Sn=2 T=3 Hk=1 Hv=2 Dk=64 Dv=8 scale=0.5", 2 * 3 * 2 * 8 + 2 * 2 * 8 * 64},
    {"run gdn-recurrent --Sn 2 --T 1 --Hk 1 --Hv 2 --Dk 64 --Dv 8 --decode",
     "Sn=2 T=1 Hk=1 Hv=2 Dk=64 Dv=8 decode", 2 * 2 * 8 + 2 * 2 * 8 * 64},
    {"run gdn-cumsum --T 100 --H 3", "B=1 T=100 H=3", 300},
    {"run gdn-l2norm --rows 10 --dim 40", "rows=10 dim=40 bf16", 400},
    {"run gdn-chunk --T 70 --Hg 1 --H 2 --K 64 --V 8 --use_qk_l2norm", "B=1 T=70 Hg=1 H=2 K=64 V=8",
     70 * 2 * 8 + 2 * 8 * 64},
    {"run gdn-solve --B 2 --T 100 --H 3", "B=2 T=100 H=3", 2 * 100 * 3 * 64},
    {"run gdn-wu --T 100 --Hg 1 --H 2 --K 48 --V 40", "B=1 T=100 Hg=1 H=2 K=48 V=40",
     100 * 2 * (48 + 40)},
    {"run gdn-state --T 100 --Hg 1 --H 2 --K 48 --V 40", "B=1 T=100 Hg=1 H=2 K=48 V=40",
     2 * 2 * 40 * 48 + 100 * 2 * 40 + 2 * 40 * 48},
    {"run gdn-output --T 100 --Hg 1 --H 2 --K 48 --V 40 --scale 0.3",
     "B=1 T=100 Hg=1 H=2 K=48 V=40", 100 * 2 * 40},
};

TEST_F(ToolRunTest, KernelsMatchTheOracleOnEveryTarget) {
  for (const Target& target : AvailableTargets()) {
    for (const TinyRun& run : kTinyRuns) {
      SCOPED_TRACE(target.name() + ": " + run.args);
      const ToolRun r =
          Run(std::string(run.args) + kTinyOptions + " --oracle --target " + target.name());
      ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_EQ(Line(r.out, "  shape"), std::string("  shape    ") + run.shape) << r.out;
      EXPECT_NE(r.out.find("target   " + target.name() + ", 2 threads"), std::string::npos)
          << r.out;
      EXPECT_EQ(OracleEqualElements(r.out), run.elements) << r.out;
    }
  }
}

// Each kind of ceiling, measured just before each timed run (the compute peaks: before the
// warm-up): its median (the compute peaks: its best) and the median of the ratios are printed,
// positive and finite (their values are the machine's).
TEST_F(ToolRunTest, RunReportsTheCeiling) {
  struct Case {
    std::string args;
    const char* ceiling;
    const char* when;
  };
  const Case cases[] = {
      {std::string(kTiny) + " --ceiling", "GFLOP/s FMA peak",
       " (best of 2, measured just before the warm-up); %lf of it (median of the 2 ratios)"},
      {std::string(kTinyRuns[0].args) + " --repeat 2 --ceiling", "GFLOP/s mul+add peak",
       " (best of 2, measured just before the warm-up); %lf of it (median of the 2 ratios)"},
      {std::string(kTinyRuns[2].args) + " --threads 2 --repeat 2 --ceiling", "GB/s STREAM read",
       " (median of 2, each measured just before a run); %lf of it (median of the 2 paired "
       "ratios)"},
      {std::string(kTinyRuns[7].args) + " --threads 2 --repeat 2 --ceiling", "GB/s STREAM copy",
       " (median of 2, each measured just before a run); %lf of it (median of the 2 paired "
       "ratios)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const ToolRun r = Run(c.args);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string line = Line(r.out, "  ceiling  ");
    const std::string format = std::string("  ceiling  %lf ") + c.ceiling + c.when + "%n";
    double ceiling = 0, fraction = 0;
    int end = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), format.c_str(), &ceiling, &fraction, &end), 2) << r.out;
    EXPECT_EQ(size_t(end), line.size()) << line;
    EXPECT_TRUE(std::isfinite(ceiling) && ceiling > 0) << line;
    EXPECT_TRUE(std::isfinite(fraction) && fraction > 0) << line;
  }
}

// `--out` writes inputs and outputs; `--in` of that file (with the options no tensor holds)
// recomputes the same shape and outputs, and writes the same file.
TEST_F(ToolRunTest, KernelsOutputFileRoundTrip) {
  struct RoundTrip {
    const char* out_args;
    const char* in_args;
    std::vector<std::string> outputs;
  };
  const RoundTrip trips[] = {
      {"run sdpa --dtype bf16 --n_heads 4 --n_kv_heads 2 --head_dim 64 --seq_len 40 "
       "--kv_seq_len 50 --kv_capacity 60 --scale 0.5",
       "run sdpa --kv_seq_len 50 --scale 0.5",
       {"O"}},
      {"run sdpa --n_heads 2 --n_kv_heads 2 --head_dim 16 --seq_len 3 --kv_seq_len 9",
       "run sdpa",
       {"O"}},
      {"run flash-attn-vec --nwg 32 --num_heads 2 --num_kv_heads 1 --head_dim 256 "
       "--kv_seq_len 300 --kv_capacity 320 --mask_type 2 --sliding_window 200 --ring_start 7",
       "run flash-attn-vec --nwg 32 --kv_seq_len 300 --mask_type 2 --sliding_window 200 "
       "--ring_start 7",
       {"out"}},
      {"run tq-encode --bits 5 --num_kv_heads 2 --n_tokens 6 --cache_capacity 4 --is_sliding",
       "run tq-encode --bits 5 --is_sliding",
       {"packed", "norms"}},
      {"run tq-encode --num_kv_heads 2 --head_dim 128 --n_tokens 3 --write_pos_start 2",
       "run tq-encode --write_pos_start 2",
       {"packed", "norms"}},
      {"run tq-dequant --num_kv_heads 2 --n_tokens 5 --start_pos 2",
       "run tq-dequant --start_pos 2",
       {"dst"}},
      {"run tq-dequant --bits 4 --num_kv_heads 3 --head_dim 128 --read_pos 4 --cache_capacity 6",
       "run tq-dequant --bits 4 --read_pos 4",
       {"dst"}},
      {"run gdn-chunk --T 100 --Hg 1 --H 2 --K 64 --V 40 --scale 0.25 --use_qk_l2norm",
       "run gdn-chunk",
       {"o", "final_state"}},
      {"run gdn-recurrent --Sn 2 --T 3 --Hk 1 --Hv 2 --Dk 64 --Dv 8 --scale 0.5 --decode",
       "run gdn-recurrent",
       {"o", "final_state"}},
      {"run gdn-solve --T 100 --H 3", "run gdn-solve", {"A_inv"}},
      {"run gdn-wu --T 100 --Hg 1 --H 2 --K 48 --V 40", "run gdn-wu", {"w", "u"}},
      {"run gdn-state --T 100 --Hg 1 --H 2 --K 48 --V 40",
       "run gdn-state",
       {"h", "v_new", "final_state"}},
      {"run gdn-output --T 100 --Hg 1 --H 2 --K 48 --V 40 --scale 0.3", "run gdn-output", {"o"}},
  };
  const std::string first = Path("first.safetensors"), second = Path("second.safetensors");
  for (const RoundTrip& trip : trips) {
    SCOPED_TRACE(trip.out_args);
    ToolRun r = Run(std::string(trip.out_args) + kTinyOptions + " --seed 5 --out '" + first + "'");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string shape = Line(r.out, "  shape");
    r = Run(std::string(trip.in_args) + kTinyOptions + " --in '" + first + "' --out '" + second +
            "'");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(Line(r.out, "  shape"), shape) << r.out;
    for (const std::string& name : trip.outputs) {
      std::string label = "ref " + name;  // as `tgk run` prints it: padded to 8
      label.resize(std::max<size_t>(label.size(), 8), ' ');
      EXPECT_NE(Line(r.out, "  " + label).find(" tensor '" + name + "': bitwise equal ("),
                std::string::npos)
          << r.out;
    }
    const TensorFile a = ReadTensorFile(first), b = ReadTensorFile(second);
    const std::string kernel = std::string(trip.in_args).substr(4);  // after "run "
    EXPECT_EQ(a.metadata.at("tgk_kernel"), kernel.substr(0, kernel.find(' ')));
    EXPECT_EQ(b.metadata.at("tgk_params"), a.metadata.at("tgk_params"));
    ASSERT_EQ(a.index.size(), b.index.size());
    for (const auto& [name, tensor] : a.LoadAll()) {
      SCOPED_TRACE(name);
      ASSERT_NE(b.Find(name), nullptr);
      EXPECT_EQ(b.Find(name)->shape, tensor.shape);
      EXPECT_EQ(b.Load(name, tensor.dtype).data, tensor.data);
    }
  }
}

// The gated delta net commands store the parameters no tensor holds, each as the run used it.
TEST_F(ToolRunTest, GdnParametersAreStored) {
  const std::pair<const char*, nlohmann::json> runs[] = {
      {"run gdn-chunk --T 64 --Hg 1 --H 1 --K 64 --V 8 --use_qk_l2norm",
       {{"scale", "0.125"}, {"use_qk_l2norm", "true"}}},
      {"run gdn-chunk --T 64 --Hg 1 --H 1 --K 64 --V 8 --scale 0.5",
       {{"scale", "0.5"}, {"use_qk_l2norm", "false"}}},
      {"run gdn-recurrent --Sn 1 --T 2 --Hk 1 --Hv 1 --Dk 32 --Dv 8 --decode",
       {{"scale", "1"}, {"decode", "true"}}},
      {"run gdn-recurrent --Sn 1 --T 2 --Hk 1 --Hv 1 --Dk 32 --Dv 8 --scale 0.25",
       {{"scale", "0.25"}, {"decode", "false"}}},
      {"run gdn-output --T 64 --Hg 1 --H 1 --K 16 --V 8", {{"scale", "0.25"}}},
      {"run gdn-output --T 64 --Hg 1 --H 1 --K 16 --V 8 --scale 0.3", {{"scale", "0.300000012"}}},
  };
  const std::string path = Path("params.safetensors");
  for (const auto& [args, params] : runs) {
    SCOPED_TRACE(args);
    const ToolRun r = Run(std::string(args) + kTinyOptions + " --out '" + path + "'");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(nlohmann::json::parse(ReadTensorFile(path).metadata.at("tgk_params")), params);
  }
}

// A reference one ulp off in one element of a chunk stage's output fails the comparison
// (exit 1) and names the element; the --in file's own outputs match.
TEST_F(ToolRunTest, GdnStagesAgainstAReference) {
  struct Stage {
    const char* args;
    const char* output;
    const char* element;  // the element made to differ: flat index 5
    uint64_t elements;
  };
  const Stage stages[] = {
      {"run gdn-solve --T 100 --H 3", "A_inv", "A_inv[0, 0, 0, 5]", 100 * 3 * 64},
      {"run gdn-wu --T 100 --Hg 1 --H 2 --K 48 --V 40", "u", "u[0, 0, 0, 5]", 100 * 2 * 40},
      {"run gdn-state --T 100 --Hg 1 --H 2 --K 48 --V 40", "h", "h[0, 0, 0, 0, 5]",
       2 * 2 * 40 * 48},
      {"run gdn-output --T 100 --Hg 1 --H 2 --K 48 --V 40 --scale 0.3", "o", "o[0, 0, 0, 5]",
       100 * 2 * 40},
  };
  const std::string in = Path("in.safetensors"), ref = Path("ref.safetensors");
  for (const Stage& stage : stages) {
    SCOPED_TRACE(stage.args);
    ToolRun r = Run(std::string(stage.args) + kTinyOptions + " --out '" + in + "'");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const std::string args = stage.args;
    const std::string kernel = args.substr(0, args.find(" --"));  // "run gdn-solve"
    r = Run(kernel + kTinyOptions + " --in '" + in + "'");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("  result   PASS (bitwise)"), std::string::npos) << r.out;

    const TensorFile file = ReadTensorFile(in);
    const DType dtype = *file.Find(stage.output)->dtype;
    Tensor output = file.Load(stage.output, dtype);
    output.data[5 * SizeOf(dtype)] ^= std::byte{1};  // the lowest mantissa bit: one ulp
    WriteSafetensors(ref, {{stage.output, output}});
    r = Run(kernel + kTinyOptions + " --in '" + in + "' --ref '" + ref + "'");
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("tensor '" + std::string(stage.output) + "': FAIL, 1 of " +
                         std::to_string(stage.elements) + " elements differ"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("max ulp 1 at " + std::string(stage.element)), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("  result   FAIL (bitwise)"), std::string::npos) << r.out;
  }
}

TEST_F(ToolRunTest, KernelErrors) {
  // Values outside an option's set are CLI11 usage errors.
  for (const char* args : {"run flash-attn-vec --nwg 2", "run sdpa --dtype f16",
                           "run tq-encode --bits 7", "run tq-dequant --bits 3"}) {
    SCOPED_TRACE(args);
    const ToolRun r = Run(args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find(" not in {"), std::string::npos) << r.err;
  }

  // The kernels' own checks.
  ExpectError("run sdpa --n_heads 3 --n_kv_heads 2 --head_dim 8 --seq_len 4 --kv_seq_len 4",
              "tgk: Invalid argument: n_heads (3) must be divisible by n_kv_heads (2)");
  ExpectError("run flash-attn-vec --num_heads 1 --num_kv_heads 1 --head_dim 64 --kv_seq_len 4",
              "flash_attn_vec_peer_port_f16: head_dim must be 128, 256 or 512, got 64");
  ExpectError(
      "run flash-attn-vec --nwg 32 --num_heads 1 --num_kv_heads 1 --kv_seq_len 64 "
      "--kv_capacity 32",
      "flash_attn_vec_peer_port_f16_nwg32: kv_capacity (32) < kv_seq_len (64)");
  ExpectError("run tq-encode --bits 8 --num_kv_heads 1 --head_dim 128 --n_tokens 2",
              "hadamard_quantize_kv_hb_seq: head_dim 128 not supported (need 256 or 512)");
  ExpectError("run tq-encode --num_kv_heads 1 --n_tokens 4 --cache_capacity 3",
              "hadamard_quantize_kv_seq: global cache write_pos(3) >= cache_capacity(3) at seq "
              "idx 3");
  ExpectError("run tq-dequant --num_kv_heads 1 --n_tokens 4 --start_pos 1 --cache_capacity 4",
              "dispatch_tq_dequantize_hb_kv_seq: start_pos(1) + n_tokens(4) > cache_capacity(4)");

  // The commands' own rules.
  ExpectError("run tq-dequant --read_pos 3",
              "tq-dequant: --read_pos is the row of the one-position dequantisers (--no-seq)");
  ExpectError("run tq-dequant --bits 4 --n_tokens 3",
              "tq-dequant: --n_tokens belongs to the sequence dequantiser (--seq)");

  // Input files.
  const std::string bf16 = Path("sdpa.safetensors");
  ASSERT_EQ(Run(std::string(kTinyRuns[1].args) + kTinyOptions + " --out '" + bf16 + "'").exit_code,
            0);
  ExpectError("run sdpa --dtype f32 --in '" + bf16 + "'",
              bf16 + ": tensor 'Q' has dtype BF16, expected F32");
  const std::string nibbles = Path("nibbles.safetensors");
  ASSERT_EQ(
      Run(std::string(kTinyRuns[8].args) + kTinyOptions + " --out '" + nibbles + "'").exit_code, 0);
  ExpectError("run tq-dequant --bits 4 --read_pos 4 --head_dim 64 --in '" + nibbles + "'",
              "--head_dim 64 disagrees with the input file " + nibbles +
                  " (head_dim = 128 from tensor 'packed' (2 head_dim/2 at 4 bits))");
  // Read as 8-bit, the 4-bit cache's packed gives head_dim 64, which the dst does not have.
  ExpectError("run tq-dequant --bits 8 --no-seq --read_pos 4 --in '" + nibbles + "'",
              nibbles +
                  ": tensor 'dst' has shape [3, 128], expected [num_kv_heads, head_dim]; "
                  "num_kv_heads = 3 from tensor 'packed'; head_dim = 64 from tensor 'packed'");
  // gdn-output's h holds a state per chunk of 64 rows: 2 for T = 100, not 3.
  const std::string chunks = Path("gdn_output.safetensors");
  ASSERT_EQ(Run("run gdn-output --T 100 --Hg 1 --H 2 --K 48 --V 40" + std::string(kTinyOptions) +
                " --out '" + chunks + "'")
                .exit_code,
            0);
  Tensors tensors = ReadTensorFile(chunks).LoadAll();
  tensors.at("h") = Tensor::Zeros(DType::kBF16, {1, 3, 2, 40, 48});
  WriteSafetensors(chunks, tensors);
  ExpectError("run gdn-output --in '" + chunks + "'",
              chunks +
                  ": tensor 'h' has shape [1, 3, 2, 40, 48], expected [B, NT, H, V, K]; B = 1 "
                  "from tensor 'q'; NT = 2 from ceil(T / 64); H = 2 from tensor 'v_new'");
}

// Every codebook encodes the whole sequence with one dispatch of a sequence encoder.
TEST_F(ToolRunTest, TqEncodeRecordsASequenceEncoder) {
  for (const char* bits : {"4", "5", "6", "8"}) {
    SCOPED_TRACE(bits);
    const ToolRun r = Run(std::string("run tq-encode --num_kv_heads 2 --n_tokens 5 --bits ") +
                          bits + kTinyOptions);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(Line(r.out, "  kernel"), std::string("  kernel   hadamard_quantize_kv") +
                                           (bits[0] == '4' ? "" : "_hb") + "_seq, " + bits +
                                           "-bit codebook")
        << r.out;
  }
}

// Without a dst in the file, the sequence dequantiser decodes to the end of the cache.
TEST_F(ToolRunTest, TqDequantFileWithoutDst) {
  const std::string path = Path("cache.safetensors");
  ASSERT_EQ(Run(std::string(kTinyRuns[7].args) + kTinyOptions + " --out '" + path + "'").exit_code,
            0);
  Tensors tensors = ReadTensorFile(path).LoadAll();
  tensors.erase("dst");
  WriteSafetensors(path, tensors);
  const ToolRun r = Run(std::string("run tq-dequant --start_pos 3 --oracle") + kTinyOptions +
                        " --in '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Line(r.out, "  shape"), "  shape    num_kv_heads=2 head_dim=256 n_tokens=4 start_pos=3")
      << r.out;
  EXPECT_NE(r.out.find("bitwise equal (2048 elements)"), std::string::npos) << r.out;
}

TEST_F(ToolRunTest, Bench) {
  const ToolRun r = Run("bench --threads 2 --repeat 1 --warmup 0");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("tgk bench: " + BestTarget().name() + ", 2 threads"), std::string::npos)
      << r.out;
  EXPECT_EQ(Line(r.out, "kernel").find("kernel  "), 0u) << r.out;
  EXPECT_NE(Line(r.out, "kernel").find("  ceiling "), std::string::npos) << r.out;
  EXPECT_NE(Line(r.out, "kernel").find("  of ceiling  "), std::string::npos) << r.out;
  // Every kernel at its default shape (the speed goals'), each variant a row, with the median
  // of the ceilings measured just before its runs and the median of its paired ratios.
  struct Row {
    const char* label;
    const char* shape;
    const char* unit;
    const char* ceiling;
  };
  const Row rows[] = {
      {"kkt", "B=1 T=4096 H=16 Hg=16 K=128", "GFLOP/s", "FMA peak"},
      {"flash-attn-vec --nwg 1", "num_heads=16 num_kv_heads=8 head_dim=256 kv_seq_len=32768 NWG=1",
       "GB/s", "STREAM read"},
      {"flash-attn-vec --nwg 32",
       "num_heads=16 num_kv_heads=8 head_dim=256 kv_seq_len=32768 NWG=32", "GB/s", "STREAM read"},
      {"sdpa --dtype f32",
       "batch=1 n_heads=16 n_kv_heads=8 head_dim=128 seq_len=512 kv_seq_len=512", "GFLOP/s",
       "mul+add peak"},
      {"sdpa --dtype bf16",
       "batch=1 n_heads=16 n_kv_heads=8 head_dim=128 seq_len=512 kv_seq_len=512", "GFLOP/s",
       "mul+add peak"},
      {"tq-encode --bits 4", "num_kv_heads=8 head_dim=256 n_tokens=32768", "GB/s", "STREAM copy"},
      {"tq-encode --bits 8", "num_kv_heads=8 head_dim=256 n_tokens=32768", "GB/s", "STREAM copy"},
      {"tq-dequant --bits 8 --seq", "num_kv_heads=8 head_dim=256 n_tokens=32768", "GB/s",
       "STREAM copy"},
      {"tq-dequant --bits 4 --seq", "num_kv_heads=8 head_dim=256 n_tokens=32768", "GB/s",
       "STREAM copy"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.label);
    const std::string line = Line(r.out, std::string(row.label) + "  ");
    EXPECT_NE(line.find("  " + std::string(row.shape) + "  "), std::string::npos) << r.out;
    EXPECT_NE(line.find(std::string(" ") + row.unit + "  "), std::string::npos) << line;
    // "... 30.8 GB/s STREAM copy  0.84        bitwise equal"
    const std::string ceiling = std::string(" ") + row.unit + " " + row.ceiling + "  ";
    const size_t at = line.find(ceiling);
    ASSERT_NE(at, std::string::npos) << line;
    double rate = 0, fraction = 0;
    int end = 0;
    ASSERT_EQ(std::sscanf(line.c_str() + line.rfind("  ", at) + 2, "%lf", &rate), 1) << line;
    ASSERT_EQ(std::sscanf(line.c_str() + at + ceiling.size(), "%lf%n", &fraction, &end), 1) << line;
    EXPECT_TRUE(std::isfinite(rate) && rate > 0) << line;
    EXPECT_TRUE(std::isfinite(fraction) && fraction > 0) << line;
    EXPECT_EQ(line.compare(at + ceiling.size() + size_t(end), 2, "  "), 0) << line;
    EXPECT_TRUE(line.ends_with("  bitwise equal")) << line;
  }
  // The chunk stages 4 to 7 have no row of their own: gdn-chunk's row runs them all.
  EXPECT_NE(r.out.find("\ngdn-chunk "), std::string::npos) << r.out;
  for (const char* stage : {"gdn-solve", "gdn-wu", "gdn-state", "gdn-output"}) {
    EXPECT_EQ(r.out.find(std::string("\n") + stage + " "), std::string::npos) << r.out;
  }
}

TEST_F(ToolRunTest, UsageWithoutACommand) {
  const ToolRun r = Run("");
  EXPECT_EQ(r.exit_code, 2);
  for (const char* command : {"bench", "run", "scaling", "targets"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + command + " "), std::string::npos) << r.out;
  }
}

// ---- parity checks from files: names, dtypes, dims, references, tolerances -------------------

// One tensor of any safetensors dtype, as raw bytes.
struct RawTensor {
  std::string name, dtype;
  std::vector<uint64_t> shape;
  std::string bytes;
};

// Writes tensors of any dtype (WriteSafetensors writes only tgk's).
void WriteAny(const std::string& path, const std::vector<RawTensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const RawTensor& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  const std::string text = header.dump();
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(char(uint64_t{text.size()} >> (8 * i) & 0xFF));
  out << text << data;
}

RawTensor Raw(const std::string& name, const Tensor& t) {
  return RawTensor{name, std::string(DebugName(t.dtype)), t.shape,
                   std::string(reinterpret_cast<const char*>(t.data.data()), t.data.size())};
}

class ParityTest : public ToolRunTest {
 protected:
  // A kkt file of inputs and output (k, beta, g, A) from `tgk run --out`, loaded.
  Tensors KktTensors() {
    const std::string path = Path("kkt.safetensors");
    EXPECT_EQ(Run(std::string(kTiny) + " --out '" + path + "'").exit_code, 0);
    return ReadTensorFile(path).LoadAll();
  }
  static constexpr const char* kRun = "run kkt --threads 2 --repeat 1 --warmup 0";
};

TEST_F(ParityTest, MapNamesAndIgnoreOtherTensorsOfAnyDtype) {
  const Tensors t = KktTensors();
  const std::string path = Path("dump.safetensors");
  WriteAny(path, {Raw("model.K_BF16", t.at("k")), Raw("BETA", t.at("beta")), Raw("G", t.at("g")),
                  Raw("gpu.A", t.at("A")), RawTensor{"step", "I64", {1}, std::string(8, '\1')},
                  RawTensor{"mask", "BOOL", {3}, std::string(3, '\1')},
                  RawTensor{"lr", "F64", {}, std::string(8, '\0')}});
  const std::string maps = " --map k=model.K_BF16 --map beta=BETA --map g=G --map A=gpu.A";
  ToolRun r = Run(std::string(kRun) + maps + " --in '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ref A    vs " + path + " tensor 'gpu.A': bitwise equal (25600 elements)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("  result   PASS (bitwise)"), std::string::npos) << r.out;

  // Without the maps: the missing tensor, and every tensor of the file with dtype and shape.
  ExpectError(std::string(kRun) + " --in '" + path + "'",
              path +
                  ": no tensor 'k' (the file has 'BETA' F32 [1, 100, 4], 'G' F32 [1, 100, 4], "
                  "'gpu.A' F32 [1, 100, 4, 64], 'lr' F64 [], 'mask' BOOL [3], 'model.K_BF16' "
                  "BF16 [1, 100, 2, 64], 'step' I64 [1])");
  ExpectError(std::string(kRun) + maps + " --map beta=nothing --in '" + path + "'",
              path + ": no tensor 'nothing' (--map beta=nothing) (the file has");
  ExpectError(std::string(kRun) + maps + " --map x=y --in '" + path + "'",
              "tgk: Invalid argument: --map x=y: kkt has no tensor 'x' (its tensors: beta, g, k, "
              "A)");
  r = Run(std::string(kRun) + " --map k");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'k' is not NAME=TENSOR"), std::string::npos) << r.err;
}

// numpy's files work wherever safetensors do: --in an .npz (bf16 as ml_dtypes writes it, or
// as uint16 bits), --ref an .npy (the tensor's name is the file's stem, or --map's).
TEST_F(ParityTest, NpzInputsAndNpyReferences) {
  const Tensors t = KktTensors();
  const auto npy = [](const std::string& descr, const Tensor& tensor) {
    std::string shape = "(";
    for (uint64_t d : tensor.shape) shape += std::to_string(d) + ", ";
    return Npy(descr, shape + ")", AsString(tensor.data));
  };
  for (const char* k_descr : {"<V2", "<u2"}) {
    SCOPED_TRACE(k_descr);
    const std::string in = WriteBytes("in.npz", Zip({{"k.npy", npy(k_descr, t.at("k"))},
                                                     {"beta.npy", npy("<f4", t.at("beta"))},
                                                     {"g.npy", npy("<f4", t.at("g"))},
                                                     {"A.npy", npy("<f4", t.at("A"))}}));
    const ToolRun r = Run(std::string(kRun) + " --in '" + in + "'");
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("  inputs   " + in + "\n"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ref A    vs " + in + " tensor 'A': bitwise equal (25600 elements)"),
              std::string::npos)
        << r.out;
  }
  const std::string in = WriteBytes("in.npz", Zip({{"k.npy", npy("<V2", t.at("k"))},
                                                   {"beta.npy", npy("<f4", t.at("beta"))},
                                                   {"g.npy", npy("<f4", t.at("g"))}}));
  const std::string ref = WriteBytes("A.npy", npy("<f4", t.at("A")));
  ToolRun r = Run(std::string(kRun) + " --in '" + in + "' --ref '" + ref + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ref A    vs " + ref + " tensor 'A': bitwise equal"), std::string::npos)
      << r.out;
  Tensor A = t.at("A");
  A.as<float>()[5] = std::nextafter(A.as<float>()[5], 1.0f);
  const std::string gpu = WriteBytes("A_gpu.npy", npy("<f4", A));
  r = Run(std::string(kRun) + " --in '" + in + "' --ref '" + gpu + "' --map A=A_gpu");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("tensor 'A_gpu': FAIL, 1 of 25600 elements differ"), std::string::npos)
      << r.out;

  ExpectError(std::string(kRun) + " --in '" + in + "' --ref '" + gpu + "'",
              gpu + ": tensor 'A_gpu' is not an output of kkt");
  const std::string out = Path("out.NPZ");
  ExpectError(std::string(kRun) + " --out '" + out + "'",
              "tgk: Invalid argument: --out " + out +
                  ": tgk writes safetensors, and a file of this name would be read back as "
                  "numpy's (name it .safetensors)");
  EXPECT_FALSE(fs::exists(out));
  const std::string compressed = WriteBytes("c.npz", Zip({{"k.npy", npy("<V2", t.at("k")), 8}}));
  ExpectError(std::string(kRun) + " --in '" + compressed + "'",
              compressed +
                  ": entry 'k.npy': it is compressed (deflate), and tgk reads stored "
                  "entries only: write the file with np.savez, not np.savez_compressed");
}

TEST_F(ParityTest, CastConvertsOtherFloatDtypesOnRequest) {
  const Tensors t = KktTensors();
  const Tensor& beta = t.at("beta");
  std::string beta64;
  for (uint64_t i = 0; i < beta.count(); ++i) {
    float f;
    std::memcpy(&f, beta.data.data() + 4 * i, 4);
    const double d = f;
    beta64.append(reinterpret_cast<const char*>(&d), 8);
  }
  const std::string path = Path("f64.safetensors");
  WriteAny(path, {Raw("k", t.at("k")), RawTensor{"beta", "F64", beta.shape, beta64},
                  Raw("g", t.at("g")), Raw("A", t.at("A"))});
  ExpectError(std::string(kRun) + " --in '" + path + "'",
              path +
                  ": tensor 'beta' has dtype F64, expected F32 (--cast converts between float "
                  "dtypes)");
  const ToolRun r = Run(std::string(kRun) + " --cast --in '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("bitwise equal (25600 elements)"), std::string::npos) << r.out;
  // Integers are never cast.
  const std::string ints = Path("ints.safetensors");
  WriteAny(ints,
           {Raw("k", t.at("k")), RawTensor{"beta", "I32", beta.shape, std::string(1600, '\0')},
            Raw("g", t.at("g"))});
  ExpectError(std::string(kRun) + " --cast --in '" + ints + "'",
              ints + ": tensor 'beta' has dtype I32, expected F32");
}

TEST_F(ParityTest, LeadingUnitDims) {
  const Tensors t = KktTensors();
  const std::string path = Path("unit.safetensors");
  const auto reshaped = [&](const char* name, std::vector<uint64_t> shape) {
    RawTensor raw = Raw(name, t.at(name));
    raw.shape = std::move(shape);
    return raw;
  };
  WriteAny(path, {reshaped("k", {1, 1, 100, 2, 64}), reshaped("beta", {1, 1, 100, 4}),
                  reshaped("g", {1, 100, 4}), reshaped("A", {1, 1, 1, 100, 4, 64})});
  const ToolRun r = Run(std::string(kRun) + " --in '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Line(r.out, "  shape"), "  shape    B=1 T=100 H=4 Hg=2 K=64") << r.out;
  EXPECT_NE(r.out.find("bitwise equal (25600 elements)"), std::string::npos) << r.out;

  // Unit dims in two places, one to drop: which one is ambiguous.
  WriteAny(path, {Raw("k", t.at("k")), reshaped("beta", {1, 100, 1, 4, 1}), Raw("g", t.at("g"))});
  ExpectError(std::string(kRun) + " --in '" + path + "'",
              "tensor 'beta' has shape [1, 100, 1, 4, 1], expected [B, T, H] (which unit dims to "
              "drop is ambiguous, or too few are 1)");
}

TEST_F(ParityTest, ReferenceFileAndTolerances) {
  Tensors t = KktTensors();
  const std::string in = Path("in.safetensors"), ref = Path("ref.safetensors");
  WriteSafetensors(in, {{"k", t.at("k")}, {"beta", t.at("beta")}, {"g", t.at("g")}});
  // No reference in the input file: nothing to compare, and said so.
  ToolRun r = Run(std::string(kRun) + " --in '" + in + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  result   no reference"), std::string::npos) << r.out;

  // A reference one ULP away at [0, 3, 1, 2], another 2e-3 away at [0, 5, 0, 1].
  Tensor A = t.at("A");
  float* a = A.as<float>();
  a[(3 * 4 + 1) * 64 + 2] = std::nextafter(a[(3 * 4 + 1) * 64 + 2], 1.0f);
  WriteSafetensors(ref, {{"A_gpu", A}});
  const std::string check =
      std::string(kRun) + " --in '" + in + "' --ref '" + ref + "' --map A=A_gpu";
  r = Run(check);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("tensor 'A_gpu': FAIL, 1 of 25600 elements differ; max abs "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("max ulp 1 at A[0, 3, 1, 2]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  result   FAIL (bitwise)"), std::string::npos) << r.out;
  r = Run(check + " --max-ulp 1");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS, 1 of 25600 elements differ"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  result   PASS (atol 0, rtol 0, max ulp 1)"), std::string::npos) << r.out;

  a[(5 * 4 + 0) * 64 + 1] += 2e-3f;
  WriteSafetensors(ref, {{"A_gpu", A}});
  EXPECT_EQ(Run(check + " --max-ulp 1").exit_code, 1);
  EXPECT_EQ(Run(check + " --atol 1e-3").exit_code, 1);
  EXPECT_EQ(Run(check + " --atol 3e-3").exit_code, 0);
  EXPECT_EQ(Run(check + " --rtol 1e6").exit_code, 0);

  // A NaN in the reference does not hide a 1.0 error elsewhere.
  a[0] = std::numeric_limits<float>::quiet_NaN();
  a[64 * 4 * 10 + 7] += 1.0f;
  WriteSafetensors(ref, {{"A_gpu", A}});
  r = Run(check + " --atol 1e-2");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("max abs 1 at A[0, 10, 0, 7]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("; NaN mismatches 1"), std::string::npos) << r.out;

  // Usage: a negative tolerance; a reference under a name the kernel does not produce.
  EXPECT_EQ(Run(check + " --atol -1").exit_code, 2);
  ExpectError(std::string(kRun) + " --in '" + in + "' --ref '" + ref + "'",
              ref +
                  ": tensor 'A_gpu' is not an output of kkt (its outputs: A; --map "
                  "OUTPUT=A_gpu names a reference)");
  WriteSafetensors(ref, {{"k", t.at("k")}});
  ExpectError(std::string(kRun) + " --in '" + in + "' --ref '" + ref + "'",
              ref + ": holds none of kkt's outputs (the file has 'k' BF16 [1, 100, 2, 64])");
}

// The oracle and the ceiling probe run only when asked for.
TEST_F(ParityTest, OracleAndCeilingOnRequest) {
  ToolRun r = Run(std::string(kRun) + " --T 64 --H 1 --Hg 1 --K 64");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Line(r.out, "  oracle"), "") << r.out;
  EXPECT_EQ(Line(r.out, "  ceiling"), "") << r.out;
  r = Run(std::string(kRun) + " --T 64 --H 1 --Hg 1 --K 64 --oracle --ceiling");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Line(r.out, "  oracle"), "") << r.out;
  EXPECT_NE(Line(r.out, "  ceiling"), "") << r.out;
}

// --out stores the parameters no tensor holds; --in replays them; an option given wins.
TEST_F(ParityTest, ParametersReplayFromTheFile) {
  const std::string path = Path("flash.safetensors");
  const std::string shape =
      "num_heads=2 num_kv_heads=1 head_dim=256 kv_seq_len=300 kv_capacity=320 scale=0.5 "
      "mask_type=2 sliding_window=200 ring_start=7 NWG=32";
  ToolRun r = Run(
      "run flash-attn-vec --nwg 32 --num_heads 2 --num_kv_heads 1 --head_dim 256 --kv_seq_len 300 "
      "--kv_capacity 320 --scale 0.5 --mask_type 2 --sliding_window 200 --ring_start 7" +
      std::string(kTinyOptions) + " --out '" + path + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Line(r.out, "  shape"), "  shape    " + shape);
  const TensorFile file = ReadTensorFile(path);
  EXPECT_EQ(nlohmann::json::parse(file.metadata.at("tgk_params")),
            nlohmann::json({{"kv_seq_len", "300"},
                            {"mask_type", "2"},
                            {"nwg", "32"},
                            {"ring_start", "7"},
                            {"scale", "0.5"},
                            {"sliding_window", "200"}}));
  r = Run("run flash-attn-vec" + std::string(kTinyOptions) + " --in '" + path + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Line(r.out, "  shape"), "  shape    " + shape) << r.out;
  EXPECT_NE(r.out.find("tensor 'out': bitwise equal (512 elements)"), std::string::npos) << r.out;
  r = Run("run flash-attn-vec --ring_start 0" + std::string(kTinyOptions) + " --in '" + path + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;  // another ring start: another result
  EXPECT_EQ(Line(r.out, "  shape").find("ring_start"), std::string::npos) << r.out;
}

// A tiny file cannot make a command allocate what its header claims: a zero dim is refused,
// and the kernel validates the whole shape before the outputs are allocated: under the data
// limit below (100 MB), allocating the invalid kkt shape's 164 MB output first would end in
// "out of memory" instead of the kernel's message.
TEST_F(ParityTest, InputFilesCannotHurt) {
  const auto empty = [](const char* name, const char* dtype, std::vector<uint64_t> shape) {
    return RawTensor{name, dtype, std::move(shape), ""};
  };
  const std::string dequant = Path("dequant.safetensors"), encode = Path("encode.safetensors");
  WriteAny(dequant,
           {empty("packed", "U8", {1000000, 0, 10000}), empty("norms", "F32", {1000000, 0, 39})});
  WriteAny(encode, {empty("src", "F32", {0, 1000000, 256})});
  EXPECT_LT(fs::file_size(dequant), 200u);
  ExpectError("run tq-dequant --no-seq --in '" + dequant + "'",
              dequant +
                  ": tensor 'packed' has shape [1000000, 0, 10000], a zero dim "
                  "(cache_capacity): the tensors of an input file must hold elements");
  ExpectError("run tq-encode --write_pos_start 1000 --in '" + encode + "'",
              encode + ": tensor 'src' has shape [0, 1000000, 256], a zero dim (n_tokens)");

#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's shadow memory does not fit the data limit the rest of this test sets";
#endif
  // kkt with H = 1000, Hg = 3: 5 MB of inputs, 164 MB of output, an invalid shape.
  const std::string kkt = Path("kkt_invalid.safetensors");
  WriteSafetensors(kkt, {{"k", Tensor::Zeros(DType::kBF16, {1, 640, 3, 64})},
                         {"beta", Tensor::Zeros(DType::kF32, {1, 640, 1000})},
                         {"g", Tensor::Zeros(DType::kF32, {1, 640, 1000})}});
  const ToolRun r = Run("run kkt --threads 1 --in '" + kkt + "'", 100000);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("gated_delta_net_kkt: h (1000) must be a multiple of hg (3)"),
            std::string::npos)
      << r.err;
}

// Random inputs are declared and drawn only after the kernel has validated the shape: under
// the data limit below (100 MB), each of these invalid shapes, whose inputs alone take 245 MB
// to 256 GB, fails with the kernel's message instead of "out of memory".
TEST_F(ToolRunTest, RandomInputsAreDrawnAfterValidation) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "ASan's shadow memory does not fit the data limit this test sets";
#endif
  const std::pair<const char*, const char*> cases[] = {
      {"kkt --T 640000 --H 1000 --Hg 3 --K 64",
       "gated_delta_net_kkt: h (1000) must be a multiple of hg (3)"},
      {"sdpa --n_heads 30 --n_kv_heads 7 --seq_len 100000 --kv_seq_len 100000",
       "n_heads (30) must be divisible by n_kv_heads (7)"},
      {"flash-attn-vec --head_dim 100 --kv_seq_len 10000000",
       "flash_attn_vec_peer_port_f16: head_dim must be 128, 256 or 512, got 100"},
      {"tq-encode --n_tokens 10000000 --head_dim 100",
       "hadamard_quantize_kv_seq: head_dim must be a power of two, got 100"},
      {"tq-dequant --cache_capacity 100000000 --head_dim 100 --n_tokens 1000000",
       "dispatch_tq_dequantize_hb_kv_seq: head_dim must be power of two, got 100"},
      {"gdn-chunk --T 100000 --H 30 --Hg 16",
       "chunk_gated_delta_rule_fwd: H (30) must be a multiple of Hg (16)"},
      {"gdn-wu --T 100000 --H 30 --Hg 16",
       "gated_delta_net_recompute_wu: h (30) must be a multiple of hg (16)"},
      {"gdn-state --T 100000 --H 30 --Hg 16",
       "gated_delta_net_chunk: h (30) must be a multiple of hg (16)"},
      {"gdn-output --T 100000 --K 20000",
       "gated_delta_net_chunk_o: K (20000) and V (128) must "
       "be at most 16384"},
      {"gdn-recurrent --Sn 1000 --T 1000 --Hv 30 --Hk 16",
       "gated_delta_rule_recurrent: n_v_heads (30) must be a multiple of n_k_heads (16)"},
  };
  for (const auto& [args, message] : cases) {
    SCOPED_TRACE(args);
    const ToolRun r = Run(std::string("run ") + args + " --threads 1", 100000);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

TEST_F(ParityTest, NamesArePrintedEscaped) {
  const std::string path = Path("escape.safetensors");
  WriteAny(path, {RawTensor{"k\x1b]0;owned\x07", "F32", {1}, std::string(4, '\0')}});
  const ToolRun r = Run(std::string(kRun) + " --in '" + path + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'k\\x1b]0;owned\\x07' F32 [1]"), std::string::npos) << r.err;
}

// ---- machine-readable output, scaling and its plot ---------------------------------------

// Each line of `out` parsed as one JSON object.
std::vector<nlohmann::json> JsonLines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  for (size_t at = 0, end; (end = out.find('\n', at)) != std::string::npos; at = end + 1) {
    lines.push_back(nlohmann::json::parse(out.substr(at, end - at)));
  }
  return lines;
}

TEST_F(ParityTest, RunJson) {
  const ToolRun r = Run(std::string(kTiny) + " --json --oracle --ceiling");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j.at("kernel"), "kkt");
  EXPECT_EQ(j.at("shape"), "B=1 T=100 H=4 Hg=2 K=64");
  EXPECT_EQ(j.at("target"), BestTarget().name());
  EXPECT_EQ(j.at("threads"), 2);
  EXPECT_EQ(j.at("times_s").size(), 2u);
  EXPECT_GT(j.at("rate").get<double>(), 0);
  EXPECT_EQ(j.at("rate_unit"), "GFLOP/s");
  EXPECT_GT(j.at("ceiling").get<double>(), 0);
  EXPECT_GT(j.at("fraction").get<double>(), 0);
  EXPECT_EQ(j.at("parity").at("oracle").at(0).at("differing"), 0);
  EXPECT_EQ(j.at("parity").at("oracle").at(0).at("count"), 25600);
  EXPECT_TRUE(j.at("passed").get<bool>());
}

// The ceiling is the best of the probe runs for a compute roof (a probe never runs above the
// peak), their median for a memory roof (each probe paired with a run).
TEST_F(ParityTest, RunJsonCeilingOfItsProbeRuns) {
  struct Case {
    std::string args;
    const char* roof;
    bool best;
  };
  const Case cases[] = {
      {"run kkt --T 100 --H 4 --Hg 2 --K 64 --threads 2 --repeat 3", "FMA peak", true},
      {std::string(kTinyRuns[0].args) + " --repeat 3", "mul+add peak", true},
      {std::string(kTinyRuns[7].args) + " --threads 2 --repeat 3", "STREAM copy", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    const ToolRun r = Run(c.args + " --ceiling --json");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("roof"), c.roof);
    std::vector<double> runs = j.at("ceiling_runs").get<std::vector<double>>();
    ASSERT_EQ(runs.size(), 3u) << r.out;
    std::sort(runs.begin(), runs.end());
    EXPECT_GT(runs[0], 0) << r.out;
    EXPECT_EQ(j.at("ceiling").get<double>(), c.best ? runs[2] : runs[1]) << r.out;
  }
  // Without --ceiling, none.
  const nlohmann::json j = nlohmann::json::parse(Run(std::string(kTiny) + " --json").out);
  EXPECT_TRUE(j.at("ceiling").is_null());
  EXPECT_TRUE(j.at("ceiling_runs").is_null());
  EXPECT_TRUE(j.at("fraction").is_null());
}

// The two cheapest kernels at their default shapes: a few seconds under ASan.
TEST_F(ParityTest, BenchJsonOfTheNamedKernels) {
  const ToolRun r =
      Run("bench --kernel gdn-l2norm --kernel gdn-cumsum --threads 2 --repeat 1 --warmup 0 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  // In bench order, whatever the order of the options.
  EXPECT_EQ(lines[0].at("kernel"), "gdn-cumsum");
  EXPECT_EQ(lines[0].at("shape"), "B=1 T=4096 H=32");
  EXPECT_EQ(lines[1].at("kernel"), "gdn-l2norm");
  EXPECT_EQ(lines[1].at("shape"), "rows=65536 dim=128 bf16");
  const char* const outputs[] = {"g_cumsum", "y"};
  const int elements[] = {4096 * 32, 65536 * 128};

  // The fields of `run --json`, with the same names, and the row's variant.
  const ToolRun one =
      Run("run gdn-cumsum --T 64 --H 2 --oracle --ceiling --json" + std::string(kTinyOptions));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  nlohmann::json run_fields = nlohmann::json::parse(one.out);
  run_fields["variant"] = "";
  const auto keys = [](const nlohmann::json& object) {
    std::vector<std::string> names;
    for (const auto& [key, value] : object.items()) names.push_back(key);
    return names;
  };

  for (size_t i = 0; i < lines.size(); ++i) {
    const nlohmann::json& j = lines[i];
    SCOPED_TRACE(j.dump());
    EXPECT_EQ(keys(j), keys(run_fields));
    EXPECT_EQ(j.at("variant"), "");
    EXPECT_EQ(j.at("inputs"), "random, seed 0");
    EXPECT_EQ(j.at("target"), BestTarget().name());
    EXPECT_EQ(j.at("threads"), 2);
    ASSERT_EQ(j.at("times_s").size(), 1u);
    EXPECT_EQ(j.at("median_s"), j.at("times_s").at(0));
    EXPECT_GT(j.at("rate").get<double>(), 0);
    EXPECT_EQ(j.at("rate_unit"), "GB/s");
    EXPECT_EQ(j.at("roof"), "STREAM copy");
    EXPECT_GT(j.at("ceiling").get<double>(), 0);
    EXPECT_GT(j.at("fraction").get<double>(), 0);
    // bench always compares with the oracle; it has no reference.
    const nlohmann::json& oracle = j.at("parity").at("oracle");
    ASSERT_EQ(oracle.size(), 1u);
    EXPECT_EQ(oracle.at(0).at("output"), outputs[i]);
    EXPECT_EQ(oracle.at(0).at("source"), "scalar oracle");
    EXPECT_EQ(oracle.at(0).at("count"), elements[i]);
    EXPECT_EQ(oracle.at(0).at("differing"), 0);
    EXPECT_TRUE(oracle.at(0).at("passed").get<bool>());
    EXPECT_EQ(j.at("parity").at("references"), nlohmann::json::array());
    EXPECT_TRUE(j.at("passed").get<bool>());
  }
}

TEST_F(ParityTest, BenchRejectsAnUnknownKernelBeforeRunningAny) {
  // A typo, and a stage that gdn-chunk's row times: neither has bench rows.
  for (const char* name : {"kkt2", "gdn-solve"}) {
    SCOPED_TRACE(name);
    const ToolRun r =
        Run(std::string("bench --kernel gdn-cumsum --kernel ") + name + " --repeat 1 --warmup 0");
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind(std::string("tgk: Invalid argument: --kernel ") + name +
                              ": tgk bench has no such kernel (its kernels: ",
                          0),
              0u)
        << r.err;
    const size_t from = r.err.find("(its kernels: ") + 14;
    const std::string list = ", " + r.err.substr(from, r.err.find(')', from) - from) + ", ";
    for (const char* known : {"kkt", "flash-attn-vec", "sdpa", "tq-encode", "tq-dequant",
                              "gdn-chunk", "gdn-recurrent", "gdn-cumsum", "gdn-l2norm"}) {
      EXPECT_NE(list.find(std::string(", ") + known + ", "), std::string::npos) << list;
    }
    EXPECT_EQ(list.find(", gdn-solve, "), std::string::npos) << list;
  }
}

TEST_F(ParityTest, ScalingTableJsonAndPlot) {
  const std::string kernel = " kkt --T 128 --H 2 --Hg 1 --K 64 --repeat 1 --warmup 0";
  ToolRun r = Run("scaling" + kernel + " --threads 1,2");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("tgk scaling: kkt at 1 thread (1 of 2)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tgk scaling: kkt at 2 threads (2 of 2)"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("threads          time              rate  speedup  efficiency"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\n      1  "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    1.00        1.00\n"), std::string::npos) << r.out;  // the first row
  EXPECT_NE(r.out.find("\n      2  "), std::string::npos) << r.out;

  r = Run("scaling" + kernel + " --threads 1,2 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].at("threads"), 1);
  EXPECT_EQ(lines[1].at("threads"), 2);
  EXPECT_EQ(lines[0].at("speedup"), 1.0);
  EXPECT_EQ(lines[1].at("efficiency").get<double>(), lines[1].at("speedup").get<double>() / 2);
  EXPECT_TRUE(lines[1].at("ceiling_efficiency").is_null());

  // With --ceiling: the ceiling at each count, the fraction of it, and how the ceiling itself
  // scales (its rate's speedup over the thread ratio).
  r = Run("scaling" + kernel + " --threads 1,2 --ceiling");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("efficiency                   ceiling  of ceiling  ceiling's own eff."),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("GFLOP/s FMA peak"), std::string::npos) << r.out;
  r = Run("scaling" + kernel + " --threads 1,2 --ceiling --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<nlohmann::json> paired = JsonLines(r.out);
  ASSERT_EQ(paired.size(), 2u) << r.out;
  EXPECT_EQ(paired[0].at("ceiling_efficiency").get<double>(), 1.0);
  EXPECT_EQ(paired[1].at("ceiling_efficiency").get<double>(),
            paired[1].at("ceiling").get<double>() / paired[0].at("ceiling").get<double>() / 2);

  const std::string png = Path("scaling.png");
  r = Run("scaling" + kernel + " --threads 1,2 --plot '" + png + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream in(png, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 33u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  const auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(bytes[at])) << 24 | uint32_t(uint8_t(bytes[at + 1])) << 16 |
           uint32_t(uint8_t(bytes[at + 2])) << 8 | uint32_t(uint8_t(bytes[at + 3]));
  };
  EXPECT_EQ(be32(8), 13u);  // IHDR's length
  EXPECT_EQ(be32(16), 1000u);
  EXPECT_EQ(be32(20), 800u);

  ExpectError("scaling" + kernel + " --threads 1 --plot '" + Path("no/dir/x.png") + "'",
              "no/dir/x.png: cannot write the plot");
  ExpectError("scaling" + kernel + " --threads 0,1", "--threads 0: each count must be >= 1");
}

TEST_F(ToolRunTest, Targets) {
  const ToolRun r = Run("targets");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const Target& t : AvailableTargets()) {
    EXPECT_NE(r.out.find(t.name()), std::string::npos) << r.out;
  }
  EXPECT_NE(r.out.find(BestTarget().name() + "  (default)"), std::string::npos) << r.out;
  // The AVX-512 targets say whether they convert to bf16 with the CPU's AVX512_BF16.
  const bool avx512 = r.out.find("avx3") != std::string::npos;
  EXPECT_EQ(r.out.find("(bf16 conversions by the CPU: AVX512_BF16)") != std::string::npos,
            avx512 && detail::kCpuHasAvx512Bf16)
      << r.out;
}

}  // namespace
}  // namespace tgk::tool
