#include "kernel_command.h"

#include <sys/mman.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "tgk/error.h"
#include "tgk/target.h"

namespace tgk::tool {
namespace {

std::string Printf(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// "A[0, 65, 1, 3]": a flat row-major index as the tensor's multi-index.
std::string Index(const std::string& name, const std::vector<uint64_t>& shape, uint64_t flat) {
  std::vector<uint64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return name + ShapeString(index);
}

uint64_t Bytes(const Tensor& t) {
  uint64_t bytes = SizeOf(t.dtype);
  for (uint64_t d : t.shape) {
    if (__builtin_mul_overflow(bytes, d, &bytes)) {
      ThrowInvalidArgument("output " + std::string(DebugName(t.dtype)) + " " +
                           ShapeString(t.shape) + " overflows 64 bits");
    }
  }
  return bytes;
}

// Address space for the outputs of the validation run: reserved, never backed by memory, and
// never touched (the recorded work is dropped, not run).
class Reservation {
 public:
  explicit Reservation(uint64_t bytes) : bytes_(std::max<uint64_t>(bytes, 1)) {
    data_ = bytes_ > SIZE_MAX ? MAP_FAILED
                              : mmap(nullptr, size_t(bytes_), PROT_NONE,
                                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (data_ == MAP_FAILED) {
      ThrowInvalidArgument("the outputs need " + std::to_string(bytes) +
                           " bytes, more address space than this process can reserve");
    }
  }
  ~Reservation() { munmap(data_, size_t(bytes_)); }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  void* data() const { return data_; }

 private:
  uint64_t bytes_;
  void* data_;
};

void CheckMaps(const RunOptions& options, const Tensors& inputs, const Tensors& outputs,
               const std::string& kernel) {
  for (const auto& [name, file_name] : options.map) {
    if (inputs.count(name) || outputs.count(name)) continue;
    std::string names;
    for (const Tensors* group : {&inputs, &outputs}) {
      for (const auto& [known, t] : *group) names += (names.empty() ? "" : ", ") + known;
    }
    ThrowInvalidArgument("--map " + name + "=" + file_name + ": " + kernel + " has no tensor '" +
                         name + "' (its tensors: " + names + ")");
  }
}

// Whether `t` is declared (Shaped) rather than holding data.
bool Declared(const Tensor& t) { return t.data.empty(); }

// Step 2 of Measure.
void ValidateBeforeAllocating(Job& job) {
  std::vector<std::unique_ptr<Reservation>> reservations;
  Views views;
  for (Tensors* group : {&job.inputs, &job.outputs, &job.scratch}) {
    for (auto& [name, t] : *group) {
      if (!Declared(t)) {
        views.emplace(name, t.view());
        continue;
      }
      const uint64_t bytes = Bytes(t);
      reservations.push_back(std::make_unique<Reservation>(bytes));
      views.emplace(name, View(reservations.back()->data(), bytes / SizeOf(t.dtype), t.dtype));
    }
  }
  Queue validation(QueueOptions{.threads = 1, .target = Target::Scalar()});
  job.record(validation, views);
  validation.discard();  // validated only: the reserved tensors are never run on
}

// Zero-filled tensors shaped like `declared`.
Tensors Allocate(const Tensors& declared) {
  Tensors tensors;
  for (const auto& [name, t] : declared) tensors.emplace(name, Tensor::Zeros(t.dtype, t.shape));
  return tensors;
}

// Views of `tensors` added to `views`.
void AddViews(Tensors& tensors, Views& views) {
  for (auto& [name, t] : tensors) views.insert_or_assign(name, t.view());
}

// Step 5 of Measure.
void CompareWithReferences(const RunOptions& options, const TensorFile* in_file,
                           const Tensors& inputs, const Tensors& outputs, RunResult& result) {
  std::optional<TensorFile> ref_file;
  if (!options.ref.empty()) {
    ref_file = ReadTensorFile(options.ref);
    std::set<std::string> known;
    for (const Tensors* group : {&inputs, &outputs}) {
      for (const auto& [name, t] : *group) known.insert(FileName(options, name));
    }
    for (const auto& [name, info] : ref_file->index) {
      if (known.count(name)) continue;
      std::string names;
      for (const auto& [output, t] : outputs) names += (names.empty() ? "" : ", ") + output;
      ref_file->Fail("tensor '" + Escaped(name) + "' is not an output of " + result.kernel +
                     " (its outputs: " + names + "; --map OUTPUT=" + Escaped(name) +
                     " names a reference)");
    }
  }
  const TensorFile* file = ref_file ? &*ref_file : in_file;
  if (!file) return;
  for (const auto& [name, computed] : outputs) {
    const std::string file_name = FileName(options, name);
    const TensorInfo* info = file->Find(file_name);
    if (!info) continue;
    const std::optional<std::vector<uint64_t>> shape =
        DropUnitDims(info->shape, computed.shape.size());
    if (shape != computed.shape) {
      file->Fail("tensor '" + Escaped(file_name) + "' has shape " + ShapeString(info->shape) +
                 ", but the computed " + name + " has " + ShapeString(computed.shape));
    }
    const Tensor reference = file->Load(file_name, computed.dtype, options.cast);
    result.references.push_back(
        OutputComparison{name, file->path + " tensor '" + Escaped(file_name) + "'", computed.shape,
                         Compare(computed.view(), reference.view(), options.tolerance)});
  }
  if (ref_file && result.references.empty()) {
    ref_file->Fail("holds none of " + result.kernel + "'s outputs (the file has " +
                   ref_file->Listing() + ")");
  }
}

// Step 6 of Measure.
void WriteOutputFile(const RunOptions& options, const Tensors& inputs, const Tensors& outputs,
                     RunResult& result) {
  if (options.out.empty()) return;
  Tensors tensors = inputs;
  tensors.insert(outputs.begin(), outputs.end());
  WriteSafetensors(options.out, tensors,
                   {{"tgk_kernel", result.kernel},
                    {"tgk_params", nlohmann::json(result.params).dump()},
                    {"tgk_shape", result.shape},
                    {"tgk_inputs", result.inputs},
                    {"tgk_target", result.target}});
  result.notes.emplace_back("wrote", options.out);
}

}  // namespace

std::string OutputComparison::Summary() const {
  if (stats.differing == 0) return "bitwise equal (" + std::to_string(stats.count) + " elements)";
  std::string s = std::string(stats.passed ? "PASS" : "FAIL") + ", " +
                  std::to_string(stats.differing) + " of " + std::to_string(stats.count) +
                  " elements differ";
  if (stats.differing > stats.nan_mismatches + stats.inf_mismatches) {
    s += "; max abs " + Printf("%.3g", stats.max_abs) + " at " +
         Index(name, shape, stats.max_abs_index) + ", max rel " + Printf("%.3g", stats.max_rel) +
         " at " + Index(name, shape, stats.max_rel_index) + ", max ulp " +
         std::to_string(stats.max_ulp) + " at " + Index(name, shape, stats.max_ulp_index);
  }
  if (stats.nan_mismatches) s += "; NaN mismatches " + std::to_string(stats.nan_mismatches);
  if (stats.inf_mismatches) s += "; Inf mismatches " + std::to_string(stats.inf_mismatches);
  return s;
}

bool RunResult::passed() const {
  for (const auto* group : {&oracle, &references}) {
    for (const OutputComparison& c : *group) {
      if (!c.stats.passed) return false;
    }
  }
  return true;
}

Tensor Shaped(DType dtype, std::vector<uint64_t> shape) {
  return Tensor{dtype, std::move(shape), {}};
}

std::optional<TensorFile> OpenInput(const KernelCommand& command, const RunOptions& options,
                                    RunResult& result) {
  result.kernel = command.name();
  if (options.in.empty()) {
    result.inputs = "random, seed " + std::to_string(options.seed);
    return std::nullopt;
  }
  result.inputs = options.in;
  return ReadTensorFile(options.in);
}

void Measure(const RunOptions& options, const std::optional<TensorFile>& file, Job& job,
             RunResult& result) {
  CheckMaps(options, job.inputs, job.outputs, result.kernel);
  ValidateBeforeAllocating(job);
  if (job.draw) {
    job.inputs = Allocate(job.inputs);
    job.draw(job.inputs);
  }
  job.outputs = Allocate(job.outputs);
  Tensors scratch = Allocate(job.scratch);
  Views views;
  for (Tensors* group : {&job.inputs, &job.outputs, &scratch}) AddViews(*group, views);

  QueueOptions queue_options{.threads = options.threads};
  if (!options.target.empty()) queue_options.target = ParseTarget(options.target);
  Queue queue(queue_options);
  result.target = queue.target().name();
  result.threads = queue.threads();

  perf::CeilingProbe* probe = options.ceiling ? &perf::SharedCeilingProbe(result.threads) : nullptr;
  const bool paired = perf::PairedPerRun(result.roof);
  std::vector<double> ceilings, fractions;
  if (probe && !paired) {
    for (int i = 0; i < options.repeat; ++i) ceilings.push_back(probe->Run(result.roof));
  }
  const double unpaired_ceiling = perf::UnpairedCeiling(ceilings);  // 0 when paired
  std::vector<double>& seconds = result.timing.seconds;
  for (int i = 0; i < options.warmup + options.repeat; ++i) {
    const bool timed = i >= options.warmup;
    if (probe && timed && paired) ceilings.push_back(probe->Run(result.roof));
    const auto start = std::chrono::steady_clock::now();
    job.record(queue, views);
    queue.commit_and_wait();
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (!timed) continue;
    seconds.push_back(elapsed.count());
    if (probe) {
      const double ceiling = paired ? ceilings.back() : unpaired_ceiling;
      fractions.push_back(result.work / elapsed.count() * 1e-9 / ceiling);
    }
  }
  result.timing.median_s = perf::Median(seconds);
  result.timing.best_s = *std::min_element(seconds.begin(), seconds.end());
  result.timing.runs = int(seconds.size());
  if (probe) {
    const double ceiling = paired ? perf::Median(ceilings) : unpaired_ceiling;
    result.paired = Paired{ceilings, ceiling, perf::Median(fractions)};
  }

  if (options.oracle) {
    Tensors expected = Allocate(job.outputs), oracle_scratch = Allocate(job.scratch);
    Views oracle_views = views;
    AddViews(expected, oracle_views);
    AddViews(oracle_scratch, oracle_views);
    Queue oracle(QueueOptions{.threads = options.threads, .target = Target::Scalar()});
    job.record(oracle, oracle_views);
    oracle.commit_and_wait();
    for (const auto& [name, t] : job.outputs) {
      result.oracle.push_back(OutputComparison{name, "scalar oracle", t.shape,
                                               Compare(t.view(), expected.at(name).view())});
    }
  }
  CompareWithReferences(options, file ? &*file : nullptr, job.inputs, job.outputs, result);
  WriteOutputFile(options, job.inputs, job.outputs, result);
}

std::string FileName(const RunOptions& options, const std::string& name) {
  const auto it = options.map.find(name);
  return it == options.map.end() ? name : it->second;
}

std::optional<std::vector<uint64_t>> DropUnitDims(const std::vector<uint64_t>& shape, size_t rank) {
  if (shape.size() == rank) return shape;
  if (shape.size() < rank) return std::nullopt;
  // Keep the non-unit dims in order; the unit dims kept fill the gaps between them. The
  // result is one shape only when every kept unit dim has one place it can go: all unit dims
  // lie in one gap (or there are none to keep).
  std::vector<uint64_t> non_unit;
  std::vector<size_t> gap_of_unit;  // for each unit dim, how many non-unit dims precede it
  for (uint64_t d : shape) {
    if (d == 1) {
      gap_of_unit.push_back(non_unit.size());
    } else {
      non_unit.push_back(d);
    }
  }
  if (non_unit.size() > rank) return std::nullopt;
  const size_t keep = rank - non_unit.size();
  if (keep == 0) return non_unit;
  if (gap_of_unit.front() != gap_of_unit.back()) return std::nullopt;
  std::vector<uint64_t> out = non_unit;
  out.insert(out.begin() + std::ptrdiff_t(gap_of_unit.front()), keep, uint64_t{1});
  return out;
}

void FileShape::Set(const std::string& symbol, uint64_t value, std::string source) {
  symbols_[symbol] = Value{value, std::move(source)};
}

bool FileShape::Has(const std::string& name) const {
  return file_.Find(FileName(options_, name)) != nullptr;
}

std::optional<DType> FileShape::DTypeOf(const std::string& name) const {
  const TensorInfo* info = file_.Find(FileName(options_, name));
  return info ? info->dtype : std::nullopt;
}

std::vector<uint64_t> FileShape::Dims(const std::string& name,
                                      const std::vector<std::string>& symbols) {
  const std::string file_name = FileName(options_, name);
  const TensorInfo* info = file_.Find(file_name);
  if (!info) {
    file_.Fail("no tensor '" + Escaped(file_name) + "'" +
               (file_name == name ? "" : " (--map " + name + "=" + Escaped(file_name) + ")") +
               " (the file has " + file_.Listing() + ")");
  }
  std::string expected, known;
  for (const std::string& s : symbols) {
    expected += (expected.empty() ? "" : ", ") + s;
    if (const auto it = symbols_.find(s); it != symbols_.end()) {
      known += "; " + s + " = " + std::to_string(it->second.value) + " from " + it->second.source;
    }
  }
  const std::string what = "tensor '" + Escaped(file_name) + "'";
  const auto fail = [&](const std::string& why) {
    file_.Fail(what + " has shape " + ShapeString(info->shape) + ", expected [" + expected + "]" +
               why + known);
  };
  const std::optional<std::vector<uint64_t>> shape = DropUnitDims(info->shape, symbols.size());
  if (!shape) {
    fail(info->shape.size() > symbols.size()
             ? " (which unit dims to drop is ambiguous, or too few are 1)"
             : "");
  }
  for (size_t d = 0; d < symbols.size(); ++d) {
    // An empty tensor would let a tiny file set the other dims at will (its bytes do not grow
    // with them), and so the size of what the command allocates.
    if ((*shape)[d] == 0) {
      file_.Fail(what + " has shape " + ShapeString(info->shape) + ", a zero dim (" + symbols[d] +
                 "): the tensors of an input file must hold elements");
    }
    const auto [it, inserted] = symbols_.try_emplace(symbols[d], Value{(*shape)[d], what});
    if (!inserted && it->second.value != (*shape)[d]) fail("");
  }
  return *shape;
}

Tensor FileShape::Bind(const std::string& name, DType dtype,
                       const std::vector<std::string>& symbols) {
  std::vector<uint64_t> shape = Dims(name, symbols);
  Tensor t = file_.Load(FileName(options_, name), dtype, options_.cast);
  t.shape = std::move(shape);
  return t;
}

void FileShape::BindShape(const std::string& name, const std::vector<std::string>& symbols) {
  Dims(name, symbols);
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

std::string FormatSeconds(double seconds) {
  if (seconds >= 1) return Printf("%.3f s", seconds);
  if (seconds >= 1e-3) return Printf("%.3f ms", seconds * 1e3);
  return Printf("%.1f us", seconds * 1e6);
}

std::string RateUnit(perf::Roof roof) {
  return roof == perf::Roof::kFma || roof == perf::Roof::kMulAdd ? "GFLOP/s" : "GB/s";
}

std::string FormatRate(double giga_per_second, perf::Roof roof) {
  return Printf("%.1f ", giga_per_second) + RateUnit(roof);
}

double MedianRate(const RunResult& r) { return r.work / r.timing.median_s * 1e-9; }

float DefaultScale(uint32_t dim) { return float(1.0 / std::sqrt(double(dim))); }

std::string FloatText(float value) { return Printf("%.9g", double(value)); }

}  // namespace tgk::tool
