#include "kernel_command.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numbers>
#include <stdexcept>

#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/target.h"

namespace tgk::tool {
namespace {

std::string Printf(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

double Element(const Tensor& t, uint64_t i) {
  const std::byte* p = t.data.data() + i * SizeOf(t.dtype);
  const auto read = [p]<class T>(T) {
    T value;
    std::memcpy(&value, p, sizeof value);
    return value;
  };
  switch (t.dtype) {
    case DType::kF32:
      return read(float{});
    case DType::kF16:
      return F32FromF16(read(f16{}));
    case DType::kBF16:
      return F32FromBF16(read(bf16{}));
    case DType::kU8:
      return read(uint8_t{});
    case DType::kU32:
      return read(uint32_t{});
    case DType::kI32:
      return read(int32_t{});
  }
  return 0;
}

// "0x3c23d70a (0.01)": an element's bits and value.
std::string Describe(const Tensor& t, uint64_t i) {
  const size_t size = SizeOf(t.dtype);
  uint32_t bits = 0;
  std::memcpy(&bits, t.data.data() + i * size, size);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "0x%0*" PRIx32 " (%.9g)", int(2 * size), bits,
                Element(t, i));
  return buffer;
}

// "A[0, 65, 1, 3]": a flat row-major index as the tensor's multi-index.
std::string Index(const std::string& name, const std::vector<uint64_t>& shape, uint64_t flat) {
  std::vector<uint64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return name + ShapeString(index);
}

void Accumulate(Comparison& c, const std::string& name, const Tensor& a, const Tensor& b) {
  if (a.dtype != b.dtype || a.shape != b.shape) {
    throw std::logic_error("Compare: tensors '" + name + "' differ in dtype or shape");
  }
  const size_t size = SizeOf(a.dtype);
  c.elements += a.count();
  for (uint64_t i = 0; i < a.count(); ++i) {
    if (std::memcmp(a.data.data() + i * size, b.data.data() + i * size, size) == 0) continue;
    if (c.differing++ == 0) {
      c.first = Index(name, a.shape, i) + ": " + Describe(a, i) + " vs " + Describe(b, i);
    }
    const double diff = std::abs(Element(a, i) - Element(b, i));
    if (std::isnan(diff) || diff > c.max_abs_diff) c.max_abs_diff = diff;
  }
}

}  // namespace

std::string Comparison::Summary() const {
  if (equal()) return "bitwise equal (" + std::to_string(elements) + " elements)";
  return std::to_string(differing) + " of " + std::to_string(elements) +
         " elements differ, max |diff| " + Printf("%.3g", max_abs_diff) + "; first " + first;
}

Comparison Compare(const Tensors& got, const Tensors& want) {
  Comparison c;
  for (const auto& [name, a] : got) Accumulate(c, name, a, want.at(name));
  return c;
}

void Measure(const RunOptions& options, const Recorder& record, Tensors& outputs,
             RunResult& result) {
  QueueOptions queue_options{.threads = options.threads};
  if (!options.target.empty()) queue_options.target = ParseTarget(options.target);
  Queue queue(queue_options);
  result.target = queue.target().name();
  result.threads = queue.threads();

  perf::CeilingProbe& probe = perf::SharedCeilingProbe(result.threads);
  const bool paired = perf::PairedPerRun(result.roof);
  std::vector<double>& ceilings = result.paired.ceilings;
  if (!paired) {
    for (int i = 0; i < options.repeat; ++i) ceilings.push_back(probe.Run(result.roof));
  }
  std::vector<double> seconds, fractions;
  for (int i = 0; i < options.warmup + options.repeat; ++i) {
    const bool timed = i >= options.warmup;
    if (timed && paired) ceilings.push_back(probe.Run(result.roof));
    const auto start = std::chrono::steady_clock::now();
    record(queue, outputs);
    queue.commit_and_wait();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (!timed) continue;
    seconds.push_back(elapsed.count());
    const double ceiling = paired ? ceilings.back() : perf::Median(ceilings);
    fractions.push_back(result.work / elapsed.count() * 1e-9 / ceiling);
  }
  result.timing = Timing{perf::Median(seconds), *std::min_element(seconds.begin(), seconds.end()),
                         int(seconds.size())};
  result.paired.ceiling = perf::Median(result.paired.ceilings);
  result.paired.fraction = perf::Median(fractions);

  Tensors expected;
  for (const auto& [name, t] : outputs) expected.emplace(name, Tensor::Zeros(t.dtype, t.shape));
  Queue oracle(QueueOptions{.threads = options.threads, .target = Target::Scalar()});
  record(oracle, expected);
  oracle.commit_and_wait();
  result.oracle = Compare(outputs, expected);
}

float Random::Normal() {
  const double u1 = double((engine_() >> 11) + 1) * 0x1p-53;  // (0, 1]: log(u1) is finite
  const double u2 = double(engine_() >> 11) * 0x1p-53;
  return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

void FileShape::Set(const std::string& symbol, uint64_t value, std::string source) {
  symbols_[symbol] = Value{value, std::move(source)};
}

const Tensor& FileShape::Bind(const std::string& name, DType dtype,
                              const std::vector<std::string>& symbols) {
  const Tensor& t = file_.Get(name, dtype);
  std::string expected, known;
  for (const std::string& s : symbols) {
    expected += (expected.empty() ? "" : ", ") + s;
    if (const auto it = symbols_.find(s); it != symbols_.end()) {
      known += "; " + s + " = " + std::to_string(it->second.value) + " from " + it->second.source;
    }
  }
  const auto fail = [&] {
    file_.Fail("tensor '" + name + "' has shape " + ShapeString(t.shape) + ", expected [" +
               expected + "]" + known);
  };
  if (t.shape.size() != symbols.size()) fail();
  for (size_t d = 0; d < symbols.size(); ++d) {
    const auto [it, inserted] =
        symbols_.try_emplace(symbols[d], Value{t.shape[d], "tensor '" + name + "'"});
    if (!inserted && it->second.value != t.shape[d]) fail();
  }
  return t;
}

uint32_t FileShape::Take(const std::string& symbol, const CLI::Option* option,
                         uint32_t option_value) const {
  const Value& v = symbols_.at(symbol);
  if (v.value > UINT32_MAX) {
    file_.Fail(symbol + " = " + std::to_string(v.value) + " (from " + v.source +
               ") does not fit 32 bits");
  }
  if (option && option->count() > 0 && option_value != v.value) {
    ThrowInvalidArgument(option->get_name() + " " + std::to_string(option_value) +
                         " disagrees with the input file " + file_.path + " (" + symbol + " = " +
                         std::to_string(v.value) + " from " + v.source +
                         "); with --in the shape comes from the file");
  }
  return uint32_t(v.value);
}

void WriteOutputFile(const RunOptions& options, const std::string& kernel, const Tensors& inputs,
                     const Tensors& outputs, RunResult& result) {
  if (options.out.empty()) return;
  Tensors tensors = inputs;
  tensors.insert(outputs.begin(), outputs.end());
  WriteSafetensors(options.out, tensors,
                   {{"tgk_kernel", kernel},
                    {"tgk_shape", result.shape},
                    {"tgk_inputs", result.inputs},
                    {"tgk_target", result.target}});
  result.notes.emplace_back("wrote", options.out);
}

void CompareWithFile(const TensorFile& file, const Tensors& outputs, RunResult& result) {
  for (const auto& [name, computed] : outputs) {
    if (!file.Find(name)) continue;
    const Tensor& stored = file.Get(name, computed.dtype);
    if (stored.shape != computed.shape) {
      file.Fail("tensor '" + name + "' has shape " + ShapeString(stored.shape) + ", but the " +
                "computed one has " + ShapeString(computed.shape));
    }
    Comparison c;
    Accumulate(c, name, computed, stored);
    result.notes.emplace_back("file " + name, "computed vs file: " + c.Summary());
  }
}

std::string FormatSeconds(double seconds) {
  if (seconds >= 1) return Printf("%.3f s", seconds);
  if (seconds >= 1e-3) return Printf("%.3f ms", seconds * 1e3);
  return Printf("%.1f us", seconds * 1e6);
}

std::string FormatRate(double giga_per_second, perf::Roof roof) {
  return Printf(roof == perf::Roof::kFma ? "%.1f GFLOP/s" : "%.1f GB/s", giga_per_second);
}

}  // namespace tgk::tool
