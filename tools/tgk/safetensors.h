// A small reader and writer of the safetensors format (huggingface/safetensors), so that tgk's
// inputs and outputs can be exchanged with PyTorch and with dumps taken from a GPU:
//
//   8 bytes   N, little-endian
//   N bytes   JSON: {"NAME": {"dtype": "F32", "shape": [2, 3], "data_offsets": [BEGIN, END]},
//                    ..., "__metadata__": {"key": "value", ...}}
//   the rest  the data section; a tensor's bytes are [BEGIN, END) of it, row-major.
//
// The reader trusts nothing in the file. Every problem is a tgk::Error of kind kIo whose
// message names the file, the tensor and what is wrong, and it never allocates more than the
// file's size, whatever the header claims.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tgk/dtype.h"
#include "tgk/view.h"

namespace tgk::tool {

// An owning, row-major tensor. The safetensors dtype names are tgk::DebugName's ("BF16").
struct Tensor {
  DType dtype = DType::kF32;
  std::vector<uint64_t> shape;
  std::vector<std::byte> data;

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

struct TensorFile {
  std::string path;
  Tensors tensors;
  std::map<std::string, std::string> metadata;

  // The tensor `name`, which must have dtype `dtype`: tgk::Error (kIo) naming the file and
  // the tensor when it is missing or has another dtype.
  const Tensor& Get(const std::string& name, DType dtype) const;
  // Null when the file has no tensor `name`.
  const Tensor* Find(const std::string& name) const;
  // tgk::Error (kIo): "<path>: <problem>".
  [[noreturn]] void Fail(const std::string& problem) const;
};

TensorFile ReadSafetensors(const std::string& path);

// Writes `tensors` in name order, header padded with spaces to a multiple of 8 bytes as the
// reference implementation does. tgk::Error (kIo) when the file cannot be written.
void WriteSafetensors(const std::string& path, const Tensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// "[1, 128, 2, 64]".
std::string ShapeString(const std::vector<uint64_t>& shape);

}  // namespace tgk::tool
