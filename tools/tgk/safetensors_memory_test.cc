// The readers' parse-memory bound (safetensors.h): whatever the header holds, reading it
// allocates at most kParseMemoryFactor times its size plus kParseMemorySlack; an .npy or .npz
// file, at most that many times the file's size. This program replaces operator new to count
// the bytes live at the peak, so it is a test of its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>

#include "npy.h"
#include "npy_testing.h"
#include "safetensors.h"
#include "tgk/error.h"

namespace {

std::atomic<uint64_t> g_live{0}, g_peak{0};
constexpr size_t kPrefix = alignof(std::max_align_t);  // the size, before the user's bytes

void* Allocate(size_t n) {
  void* block = std::malloc(n + kPrefix);
  if (!block) throw std::bad_alloc();
  *static_cast<size_t*>(block) = n;
  const uint64_t live = g_live += n;
  for (uint64_t peak = g_peak; live > peak && !g_peak.compare_exchange_weak(peak, live);) {
  }
  return static_cast<char*>(block) + kPrefix;
}

void Free(void* p) noexcept {
  if (!p) return;
  void* block = static_cast<char*>(p) - kPrefix;
  g_live -= *static_cast<size_t*>(block);
  std::free(block);
}

}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { Free(p); }
void operator delete[](void* p) noexcept { Free(p); }
void operator delete(void* p, size_t) noexcept { Free(p); }
void operator delete[](void* p, size_t) noexcept { Free(p); }

namespace tgk::tool {
namespace {

namespace fs = std::filesystem;

class ParseMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stem_ = (fs::path(::testing::TempDir()) / ("tgk_parse_memory_" + std::to_string(::getpid())))
                .string();
  }
  void TearDown() override {
    for (const char* extension : {".safetensors", ".npy", ".npz"}) fs::remove(stem_ + extension);
  }

  // Writes `header`, reads the file, and returns the peak of the bytes allocated meanwhile
  // (the result's included); `problem`, if not empty, must be the kIo error's text.
  uint64_t PeakReading(const std::string& header, const std::string& problem = "") {
    std::string bytes;
    testing::PutLittleEndian(bytes, header.size(), 8);
    return PeakReadingFile(bytes + header, ".safetensors", problem);
  }

  // The same for a file of `bytes` with the extension `extension`.
  uint64_t PeakReadingFile(const std::string& bytes, const std::string& extension,
                           const std::string& problem = "") {
    const std::string path = stem_ + extension;
    std::ofstream(path, std::ios::binary) << bytes;
    const uint64_t base = g_live;
    g_peak = base;
    try {
      const TensorFile file = ReadTensorFile(path);
      EXPECT_EQ(problem, "") << "read without error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kIo);
      EXPECT_NE(problem, "") << e.what();
      EXPECT_NE(e.message().find(problem), std::string::npos) << e.what();
    }
    return g_peak - base;
  }

  static uint64_t Bound(const std::string& file) {
    return kParseMemoryFactor * file.size() + kParseMemorySlack;
  }

  std::string stem_;
};

// The cheapest entries per byte of header: the index costs more per entry than its text.
TEST_F(ParseMemoryTest, ManySmallTensors) {
  std::string header = "{";
  for (int i = 0; i < 100000; ++i) {
    header += (i ? ",\"" : "\"") + std::to_string(i) +
              "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
  }
  header += "}";
  const uint64_t peak = PeakReading(header);
  EXPECT_LE(peak, Bound(header)) << header.size() << " header bytes";
}

TEST_F(ParseMemoryTest, DeepNestingIsRefusedAtDepthFour) {
  const std::string header = "{\"x\":{\"y\":" + std::string(20'000'000, '[');
  const uint64_t peak = PeakReading(header, "nests deeper than 3 levels");
  // The header's text and little else: no tree is built.
  EXPECT_LE(peak, header.size() + kParseMemorySlack);
}

TEST_F(ParseMemoryTest, LongShapesAreRefused) {
  std::string dims = "0";
  for (size_t i = 1; i < kMaxRank; ++i) dims += ",1";
  const std::string ok =
      "{\"x\":{\"dtype\":\"F32\",\"shape\":[" + dims + "],\"data_offsets\":[0,0]}}";
  EXPECT_LE(PeakReading(ok), Bound(ok));
  std::string long_shape = "{\"x\":{\"dtype\":\"F32\",\"shape\":[" + dims;
  for (int i = 0; i < 1'000'000; ++i) long_shape += ",0";
  long_shape += "],\"data_offsets\":[0,0]}}";
  const uint64_t peak = PeakReading(long_shape, "tensor 'x': \"shape\" has more than 64 dims");
  EXPECT_LE(peak, Bound(long_shape));
}

TEST_F(ParseMemoryTest, MetadataEntriesAreCounted) {
  const auto metadata = [](size_t entries) {
    std::string header = "{\"__metadata__\":{";
    for (size_t i = 0; i < entries; ++i) {
      header += (i ? ",\"" : "\"") + std::to_string(i) + "\":\"\"";
    }
    return header + "}}";
  };
  const std::string full = metadata(kMaxMetadataEntries);
  EXPECT_LE(PeakReading(full), Bound(full));
  const std::string over = metadata(200000);
  EXPECT_LE(PeakReading(over, "__metadata__ has more than 1024 entries (the reader's limit)"),
            Bound(over));
}

// An .npz's index costs more per entry than the entry's bytes: the most entries, each with the
// longest shape per byte of header, and the central directory read whole besides.
TEST_F(ParseMemoryTest, ManyNpzEntriesWithLongShapes) {
  std::string shape = "(0";
  for (size_t i = 1; i < kMaxRank; ++i) shape += ",1";
  const std::string npy =
      testing::NpyWithHeader("{'descr':'<f4','fortran_order':False,'shape':" + shape + ")}", "");
  std::vector<testing::ZipMember> members;
  for (int i = 0; i < 20000; ++i) members.push_back({std::to_string(i) + ".npy", npy});
  const std::string npz = testing::Zip(members);
  const uint64_t peak = PeakReadingFile(npz, ".npz");
  EXPECT_LE(peak, Bound(npz)) << peak << " bytes at the peak, " << npz.size() << " in the file";

  members.assign(20000, {"", testing::Npy("<f4", "(0,)", "")});
  for (int i = 0; i < 20000; ++i) members[size_t(i)].name = std::to_string(i) + ".npy";
  const std::string scalars = testing::Zip(members);
  const uint64_t scalars_peak = PeakReadingFile(scalars, ".npz");
  EXPECT_LE(scalars_peak, Bound(scalars))
      << scalars_peak << " bytes at the peak, " << scalars.size() << " in the file";
}

TEST_F(ParseMemoryTest, NpyHeadersAreBounded) {
  std::string shape = "(0";
  for (size_t i = 1; i < kMaxRank; ++i) shape += ", 1";
  const std::string longest =
      testing::NpyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ")" +
                                 std::string(kMaxNpyHeaderBytes - 200 - shape.size(), ' ') + "}",
                             "");
  const uint64_t peak = PeakReadingFile(longest, ".npy");
  EXPECT_LE(peak, Bound(longest)) << peak << " bytes at the peak, " << longest.size()
                                  << " in the file";
  // A header length past the limit is refused before anything is allocated for it.
  std::string huge = testing::Npy("<f4", "(0,)", "", false, 2);
  huge.replace(8, 4, "\xff\xff\xff\x7f", 4);
  EXPECT_LE(PeakReadingFile(huge, ".npy", "exceeds the reader's limit of 65535 bytes"),
            kParseMemorySlack);
}

}  // namespace
}  // namespace tgk::tool
