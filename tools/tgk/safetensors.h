// A small reader and writer of the safetensors format (huggingface/safetensors), so that tgk's
// inputs and outputs can be exchanged with PyTorch and with dumps taken from a GPU:
//
//   8 bytes   N, little-endian
//   N bytes   JSON: {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]},
//                    ..., "__metadata__": {"key": "value", ...}}
//   the rest  the data section; a tensor's bytes are [BEGIN, END) of it, row-major.
//
// The reader trusts nothing in the file. Every problem is a tgk::Error of kind kIo whose
// message names the file, the tensor (escaped: see Escaped) and what is wrong. Its limits:
// - The header is at most kMaxHeaderBytes (100 MB, the format's own limit).
// - The header is parsed as a stream (SAX), straight into the tensor index: never into a JSON
//   tree. Nesting deeper than the format's kMaxHeaderDepth (3) levels, a shape of more than
//   kMaxRank (64) dims and more than kMaxMetadataEntries (1024) metadata entries are refused
//   as soon as they are met. Parsing therefore holds at most 6 times the header's size plus
//   256 KiB (kParseMemoryFactor, kParseMemorySlack; safetensors_memory_test measures it).
// - Opening a file reads only its header; a tensor's data is read when it is asked for, so a
//   command holds only the tensors it uses, never more than the file's size.
// Tensors of any dtype are indexed (F64, I64, BOOL, ...: a dump may hold anything), and those
// whose element size is known are checked against their offsets; only tgk's dtypes can be
// loaded, and F64/F32/F16/BF16 converted to another float dtype on request (Load's `cast`).
//
// TensorFile is also what numpy's .npy and .npz files are read into (npy.h): ReadTensorFile
// reads a path that ends in .npy or .npz as one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "testing/aligned.h"
#include "tgk/dtype.h"
#include "tgk/view.h"

namespace tgk::tool {

inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr int kMaxHeaderDepth = 3;
inline constexpr size_t kMaxMetadataEntries = 1024;
inline constexpr size_t kMaxRank = 64;
inline constexpr uint64_t kParseMemoryFactor = 6;
inline constexpr uint64_t kParseMemorySlack = 256 * 1024;

// Tensor data on cache lines, as a server allocates its buffers (tests/testing/aligned.h).
using AlignedBytes = test::AlignedVector<std::byte>;

// An owning, row-major tensor. The safetensors dtype names are tgk::DebugName's ("BF16").
struct Tensor {
  DType dtype = DType::kF32;
  std::vector<uint64_t> shape;
  AlignedBytes data;

  // A zero-filled tensor; tgk::Error (kInvalidArgument) if its size overflows 64 bits.
  static Tensor Zeros(DType dtype, std::vector<uint64_t> shape);

  uint64_t count() const { return data.size() / SizeOf(dtype); }
  View view() { return View(data.data(), count(), dtype); }
  ConstView view() const { return ConstView(data.data(), count(), dtype); }
  template <class T>
  T* as() {
    return view().as<T>();
  }
};

using Tensors = std::map<std::string, Tensor>;

// What the header says of one tensor; its data stays in the file until TensorFile::Load.
struct TensorInfo {
  std::string dtype_name;      // as safetensors spells it ("F32", "I64"), or an .npy descr
                               // that has no such name (">f4", "<U3")
  std::optional<DType> dtype;  // tgk's dtype, when it is one
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;  // within the data section
  bool column_major = false;    // .npy's fortran_order: Load reorders the data to row-major
  bool float16_bits = false;    // .npy's U16: also loads as BF16 or F16 (the bits)
};

struct TensorFile {
  std::string path;
  std::map<std::string, TensorInfo> index;  // every tensor of the header
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // the data section's offset in the file (0 for .npy and .npz)

  // Null when the file has no tensor `name`.
  const TensorInfo* Find(const std::string& name) const;
  // Reads tensor `name` as `dtype`. A tensor of another float dtype (F64, F32, F16, BF16) is
  // converted when `cast` is set (rounding to nearest even, through f32). tgk::Error (kIo)
  // naming the file and the tensor when it is missing (the message lists the file's tensors),
  // has another dtype, or cannot be read.
  Tensor Load(const std::string& name, DType dtype, bool cast = false) const;
  // Every tensor of one of tgk's dtypes, as stored.
  Tensors LoadAll() const;
  // "'a' F32 [2, 3], 'b' I64 [4]": the file's tensors (the first 64, then how many more).
  std::string Listing() const;
  // tgk::Error (kIo): "<path>: <problem>".
  [[noreturn]] void Fail(const std::string& problem) const;
};

// Reads the header (the limits above); tensor data is read by TensorFile::Load. A path ending
// in .npy or .npz (in any case) is read by ReadNpy or ReadNpz instead (npy.h: NumpyReader).
TensorFile ReadTensorFile(const std::string& path);

// Writes `tensors` in name order, header padded with spaces to a multiple of 8 bytes as the
// reference implementation does. tgk::Error (kIo) when the file cannot be written.
void WriteSafetensors(const std::string& path, const Tensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// "[1, 128, 2, 64]".
std::string ShapeString(const std::vector<uint64_t>& shape);

// ---- shared by the readers (safetensors.cc, npy.cc) ----------------------------------------

// Opens file.path for reading and sets `bytes` to its size; tgk::Error (kIo) when it is not a
// regular file or cannot be opened.
std::ifstream OpenTensorFile(const TensorFile& file, uint64_t& bytes);

// Reads `bytes` bytes at `offset` of `in` into `out`; tgk::Error (kIo) "cannot read <what>".
void ReadExactly(const TensorFile& file, std::ifstream& in, void* out, uint64_t offset,
                 uint64_t bytes, const std::string& what);

// tgk's dtype of a safetensors dtype name ("BF16"), if it is one.
std::optional<DType> DTypeFromName(const std::string& name);

// element_bytes times the dims; nothing when that overflows 64 bits.
std::optional<uint64_t> TensorBytes(uint64_t element_bytes, const std::vector<uint64_t>& shape);

// A name from a file as it may be printed to a terminal: printable ASCII stays, a backslash
// or quote is backslash-escaped, every other byte is \xHH.
std::string Escaped(std::string_view name);

}  // namespace tgk::tool
