// libFuzzer target for the tool's readers of tensor files (.ci/fuzz.sh builds and runs it under
// ASan and UBSan). Each input is a whole file, read as safetensors, as .npy and as .npz: each
// reader must read it or throw tgk::Error of kind kIo, and every tensor it indexes must then
// load, as stored and cast to f32 where that is allowed, or throw the same. Anything else (a
// crash, another exception, a leak, an allocation over -malloc_limit_mb) is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "npy.h"
#include "safetensors.h"
#include "tgk/error.h"

namespace {

// The readers take a path: one in-memory file, rewritten for each input. Its name has no
// extension, so ReadTensorFile reads it as safetensors.
const std::string& FilePath() {
  static const std::string path = [] {
    const int fd = memfd_create("tensor_file_fuzzer", 0);
    if (fd < 0) std::abort();
    return "/proc/self/fd/" + std::to_string(fd);
  }();
  return path;
}

void Expect(bool condition) {
  if (!condition) std::abort();
}

void ReadAndLoad(tgk::tool::TensorFile (*read)(const std::string&), size_t size) {
  try {
    const tgk::tool::TensorFile file = read(FilePath());
    for (const auto& [name, info] : file.index) {
      Expect(info.begin <= info.end);
      for (const bool cast : {false, true}) {
        try {
          const tgk::DType dtype =
              info.dtype.value_or(info.float16_bits ? tgk::DType::kBF16 : tgk::DType::kF32);
          const tgk::tool::Tensor t = file.Load(name, dtype, cast);
          Expect(t.data.size() <= size);
        } catch (const tgk::Error& e) {
          Expect(e.kind() == tgk::ErrorKind::kIo);
        }
      }
    }
    file.Listing();
  } catch (const tgk::Error& e) {
    Expect(e.kind() == tgk::ErrorKind::kIo);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = FilePath();
  const int fd = std::stoi(path.substr(path.rfind('/') + 1));
  Expect(ftruncate(fd, 0) == 0);
  Expect(pwrite(fd, data, size, 0) == ssize_t(size));
  ReadAndLoad(tgk::tool::ReadTensorFile, size);
  ReadAndLoad(tgk::tool::ReadNpy, size);
  ReadAndLoad(tgk::tool::ReadNpz, size);
  return 0;
}
