// Readers of numpy's files, into the TensorFile of safetensors.h, so that every command that
// reads safetensors reads them too (ReadTensorFile picks the reader by the file's extension):
//
//   .npy   one array: "\x93NUMPY", the format version (1.0, 2.0 or 3.0), the header's length
//          (2 bytes in 1.0, 4 in 2.0 and 3.0, little-endian), the header (a Python dict literal:
//          {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }), then the data. The
//          tensor's name is the file's stem ("k" for k.npy).
//   .npz   a zip archive of NAME.npy entries (np.savez); the tensor's name is NAME. Entries must
//          be stored, not compressed (np.savez_compressed deflates them: tgk has no zlib).
//          Entries whose names do not end in .npy are not tensors and are skipped.
//
// dtypes: numpy's little-endian descrs are named as safetensors names them ('<f4' F32, '<f2'
// F16, '<f8' F64, '<i8' I64, '|b1' BOOL, ...); '<V2', which numpy writes for an
// ml_dtypes.bfloat16 array, is BF16; a '<u2' array (the bits of 16-bit floats, as numpy holds
// them without ml_dtypes) loads as BF16 or F16. Every other descr (big-endian, complex, strings,
// objects, structured) is indexed under its own spelling and cannot be loaded. A Fortran-order
// array is reordered to row-major when it is loaded.
//
// The readers trust nothing in a file, as the safetensors reader does: every problem is a
// tgk::Error of kind kIo naming the file (and the entry, escaped). A .npy header is at most
// kMaxNpyHeaderBytes, read whole and parsed without building any tree (nesting at most
// kMaxNpyHeaderDepth, a shape of at most kMaxRank dims); an .npz's central directory is read
// whole (it is part of the file), its entries must lie inside the file without overlapping,
// and only one entry's header is held at a time. Data is read when a tensor is loaded.
#pragma once

#include <cstdint>
#include <string>

#include "safetensors.h"

namespace tgk::tool {

// The largest header format version 1.0 can hold; numpy writes 2.0 only past it.
inline constexpr uint64_t kMaxNpyHeaderBytes = 65535;
inline constexpr int kMaxNpyHeaderDepth = 16;

TensorFile ReadNpy(const std::string& path);
TensorFile ReadNpz(const std::string& path);

// The reader of `path` when it is numpy's: ReadNpy or ReadNpz when it ends in .npy or .npz (in
// any case), else null.
using TensorFileReader = TensorFile (*)(const std::string& path);
TensorFileReader NumpyReader(const std::string& path);

}  // namespace tgk::tool
