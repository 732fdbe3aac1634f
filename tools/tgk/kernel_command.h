// How a kernel plugs into `tgk run NAME` and `tgk bench`: implement KernelCommand in its
// family's folder (src/kernels/FAMILY/FAMILY_command.cc) and name the file and its factory in
// the family's sources.cmake (TGK_FAMILY_COMMANDS, TGK_FAMILY_COMMAND_FACTORIES). The helpers below
// (timing against the scalar oracle, random numbers, the shape checks of input files, output files,
// formatting) are shared by every kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ceilings.h"
#include "safetensors.h"
#include "tgk/queue.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace tgk::tool {

// Options every `tgk run` kernel and `tgk bench` take.
struct RunOptions {
  int threads = 0;     // 0: the OpenMP default
  std::string target;  // a Target::name(); empty: the best available here
  uint64_t seed = 0;   // of the random inputs
  int warmup = 1;      // untimed runs first
  int repeat = 5;      // timed runs; reports give their median
  std::string in;      // safetensors file holding the inputs (random inputs when empty)
  std::string out;     // safetensors file to write the inputs and outputs to
};

struct Timing {
  double median_s = 0;
  double best_s = 0;
  int runs = 0;
};

// The roof's ceiling measured next to the timed runs (see Measure), so that each run is judged
// against the machine as it was then.
struct Paired {
  std::vector<double> ceilings;  // the probe runs, GFLOP/s or GB/s
  double ceiling = 0;            // their median
  double fraction = 0;           // the median over the timed runs of run rate / its ceiling
};

// How one set of tensors compares with another of the same names, dtypes and shapes.
struct Comparison {
  uint64_t elements = 0;
  uint64_t differing = 0;  // elements whose bits differ
  double max_abs_diff = 0;
  std::string first;  // the first differing element, both values
  bool equal() const { return differing == 0; }
  std::string Summary() const;
};

struct RunResult {
  std::string shape;   // the spec's symbols: "B=1 T=4096 H=16 Hg=16 K=128"
  std::string inputs;  // "random, seed 0" or the input file
  std::string target;  // the target that ran
  int threads = 0;
  Timing timing;
  double work = 0;                     // per run, in the roof's unit; set before Measure
  perf::Roof roof = perf::Roof::kFma;  // set before Measure, which probes its ceiling
  Paired paired;
  Comparison oracle;  // against the scalar oracle on the same inputs
  std::vector<std::pair<std::string, std::string>> notes;  // further report lines
};

class KernelCommand {
 public:
  virtual ~KernelCommand() = default;
  virtual std::string name() const = 0;         // `tgk run NAME`
  virtual std::string description() const = 0;  // one line for --help
  // Adds the kernel's own options (its shape, named after the spec's symbols, with defaults).
  virtual void AddOptions(CLI::App& command) = 0;
  // Runs at the shape the options give (their defaults under `tgk bench`).
  virtual RunResult Run(const RunOptions& options) = 0;
  // The rows of `tgk bench`: each the command's options parsed from one line ("--nwg 32") over
  // their defaults.
  virtual std::vector<std::string> BenchVariants() const { return {""}; }
};

// Every kernel the tool knows, in `tgk bench` order (registry.cc).
std::vector<std::unique_ptr<KernelCommand>> MakeKernelCommands();

// ---- helpers for kernel commands -----------------------------------------------------------

// Records one run of a kernel on `queue`, writing into `outputs`.
using Recorder = std::function<void(Queue& queue, Tensors& outputs)>;

// Runs `record` options.warmup + options.repeat times on the chosen target, timing each run
// and, just before each timed one, a run of the ceiling probe of result.roof (for the FMA roof
// options.repeat probe runs before the warm-up instead: perf::PairedPerRun); then once on the
// scalar oracle (same thread count) into zero-filled tensors shaped like `outputs`, and
// compares bit for bit. Sets the result's target, threads, timing, paired and oracle from
// its work and roof; `outputs` keeps the chosen target's results.
void Measure(const RunOptions& options, const Recorder& record, Tensors& outputs,
             RunResult& result);

Comparison Compare(const Tensors& got, const Tensors& want);

// Random numbers that depend only on the seed (no std:: distributions, whose algorithms
// differ between standard libraries).
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  // Uniform on [0, 1): 24 random bits, so exact in f32.
  float Uniform() { return float(engine_() >> 40) * 0x1p-24f; }
  // Standard normal (Box-Muller, in f64).
  float Normal();
  // 64 random bits, for bytes: 8 at a time.
  uint64_t Bits() { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// The shape of an input file, read into the spec's symbols: the first tensor that names a
// symbol sets it, and every later one must agree (tgk::Error, kind kIo, naming the file, the
// tensor, the expected shape and where each symbol came from).
class FileShape {
 public:
  explicit FileShape(const TensorFile& file) : file_(file) {}
  // Fixes a symbol the kernel does not take from the file (kkt's BT = 64).
  void Set(const std::string& symbol, uint64_t value, std::string source);
  // The tensor `name` of dtype `dtype`, whose dims are `symbols` in order.
  const Tensor& Bind(const std::string& name, DType dtype, const std::vector<std::string>& symbols);
  // The value of a bound symbol, which a kernel's 32-bit shape must hold. When the user also
  // gave the symbol's option (null: none), it must agree with the file (tgk::Error,
  // kInvalidArgument).
  uint32_t Take(const std::string& symbol, const CLI::Option* option, uint32_t option_value) const;

 private:
  struct Value {
    uint64_t value;
    std::string source;
  };
  const TensorFile& file_;
  std::map<std::string, Value> symbols_;
};

// Writes the inputs and outputs to options.out (when set), with the run's description as
// metadata, and notes it in the result. `tgk run NAME --in` of that file recomputes the outputs
// and compares them with the file's.
void WriteOutputFile(const RunOptions& options, const std::string& kernel, const Tensors& inputs,
                     const Tensors& outputs, RunResult& result);

// Notes, for every output the input file also holds (a reference result, a GPU dump, or an
// earlier --out), how the computed one compares.
void CompareWithFile(const TensorFile& file, const Tensors& outputs, RunResult& result);

// "12.34 ms"; "103.2 GFLOP/s" or "18.5 GB/s" (giga of the roof's unit per second).
std::string FormatSeconds(double seconds);
std::string FormatRate(double giga_per_second, perf::Roof roof);

}  // namespace tgk::tool
