// How a kernel plugs into `tgk run NAME` and `tgk bench`: implement KernelCommand (through
// ShapedCommand when its Run is the usual one) in its family's folder
// (src/kernels/FAMILY/FAMILY_command.cc) and name the file and its factory in the family's
// sources.cmake (TGK_FAMILY_COMMANDS, TGK_FAMILY_COMMAND_FACTORIES). The helpers below (timing
// against the scalar oracle, random numbers, the shape checks of input files, output files,
// formatting) are shared by every kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ceilings.h"
#include "safetensors.h"
#include "testing/random.h"
#include "tgk/compare.h"
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
  std::string out;     // safetensors file to write the inputs, outputs and parameters to
  std::string ref;     // safetensors file holding the reference outputs (else: those of `in`)
  std::map<std::string, std::string> map;  // kernel tensor name -> the files' name (--map)
  bool cast = false;     // convert other float dtypes of the files' tensors (--cast)
  Tolerance tolerance;   // of the reference comparison (default: bitwise)
  bool oracle = false;   // also run the scalar oracle and compare bit for bit
  bool ceiling = false;  // also measure the roof's ceiling beside the runs
};

struct Timing {
  std::vector<double> seconds;  // each timed run
  double median_s = 0;
  double best_s = 0;
  int runs = 0;
};

// The roof's ceiling measured next to the timed runs (see Measure), so that each run is judged
// against the machine as it was then.
struct Paired {
  std::vector<double> ceilings;  // the probe runs, GFLOP/s or GB/s
  double ceiling = 0;            // their median (a compute roof: their best)
  double fraction = 0;           // the median over the timed runs of run rate / its ceiling
};

// One output compared with its reference or with the oracle's (tgk::Compare).
struct OutputComparison {
  std::string name;             // the kernel's output name
  std::string source;           // "FILE tensor 'NAME'" or "scalar oracle"
  std::vector<uint64_t> shape;  // for multi-indices in the report
  Comparison stats;
  std::string Summary() const;  // "bitwise equal (N elements)" or the statistics
};

struct RunResult {
  std::string kernel;  // the command's name
  std::string shape;   // the spec's symbols: "B=1 T=4096 H=16 Hg=16 K=128"
  std::string inputs;  // "random, seed 0" or the input file
  std::string target;  // the target that ran
  int threads = 0;
  Timing timing;
  double work = 0;                           // per run, in the roof's unit; set before Measure
  perf::Roof roof = perf::Roof::kFma;        // set before Measure, which probes its ceiling
  std::optional<Paired> paired;              // with options.ceiling
  std::vector<OutputComparison> oracle;      // with options.oracle
  std::vector<OutputComparison> references;  // every output a reference was found for
  // The kernel's parameters that no tensor holds, as `tgk run` options without "--" ("scale",
  // "mask_type", ...) and their values: --out stores them, --in of that file replays them.
  std::map<std::string, std::string> params;
  std::vector<std::pair<std::string, std::string>> notes;  // further report lines

  // No oracle or reference comparison failed.
  bool passed() const;
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
  // their defaults; none when another row times the kernel already (a stage inside its path).
  virtual std::vector<std::string> BenchVariants() const { return {""}; }
};

// Every kernel the tool knows, in `tgk bench` order (registry.cc).
std::vector<std::unique_ptr<KernelCommand>> MakeKernelCommands();

// ---- helpers for kernel commands -----------------------------------------------------------

// Views of a run's tensors by name: its inputs, outputs and scratch.
using Views = std::map<std::string, View>;

// Records one run of a kernel on `queue`, reading and writing the tensors of `views`.
using Recorder = std::function<void(Queue& queue, const Views& views)>;

// A tensor's dtype and shape, without data: how a command declares its outputs, and its
// inputs when they are random.
Tensor Shaped(DType dtype, std::vector<uint64_t> shape);

// What one `tgk run` executes.
struct Job {
  // Read from the --in file, or declared with Shaped and drawn by `draw` (random inputs).
  Tensors inputs;
  // Fills the declared inputs, allocated and zero-filled, once the kernel has validated the
  // shape. Null when the inputs come from a file.
  std::function<void(Tensors& inputs)> draw;
  Tensors outputs;  // declared with Shaped
  // Declared with Shaped (flash-attn-vec's partials, gdn-chunk's stage buffers): validated,
  // allocated and given to `record` beside the outputs, but neither compared nor written.
  Tensors scratch;
  Recorder record;
};

// The whole of a run, in this order:
// 1. Checks every --map names one of the kernel's inputs or outputs.
// 2. Records `job.record` once on a scratch queue over address space reserved (not memory) for
//    every declared tensor: random inputs, outputs and scratch; and drops it. So the kernel's
//    own validation of the full shape runs before anything the shape implies is allocated
//    (tgk::Error then, nothing allocated).
// 3. Allocates the declared inputs and has `job.draw` fill them, then allocates the outputs and
//    scratch.
// 4. Runs `job.record` options.warmup + options.repeat times on the chosen target, timing each
//    run; with options.ceiling, beside a run of the ceiling probe of result.roof before each
//    timed one (for a compute roof options.repeat probe runs before the warm-up instead, and
//    their best: perf::PairedPerRun).
// 5. With options.oracle, runs once on the scalar oracle (same thread count) into zero-filled
//    outputs and compares bit for bit.
// 6. Compares each output with its reference: the output's tensor (through --map) in
//    options.ref, else in `file` (the --in file, if any). A --ref file's tensors must each be
//    an input or an output of the kernel.
// 7. Writes inputs, outputs and result.params to options.out.
// Afterwards job.inputs and job.outputs hold the data.
void Measure(const RunOptions& options, const std::optional<TensorFile>& file, Job& job,
             RunResult& result);

// The start of every Run: sets result.kernel and result.inputs, and reads the --in file
// (options.in); nothing when there is none and the command draws random inputs.
std::optional<TensorFile> OpenInput(const KernelCommand& command, const RunOptions& options,
                                    RunResult& result);

// Random inputs come from the generator tests and benchmarks share (tests/testing/random.h).
using test::Random;

// The shape of an input file, read into the spec's symbols: the first tensor that names a
// symbol sets it, and every later one must agree (tgk::Error, kind kIo, naming the file, the
// tensor, the expected shape and where each symbol came from).
//
// Every dim must be at least 1: a tensor without elements would let a tiny file choose the
// other dims, and so what the command allocates. Names go through options.map; another float
// dtype is converted with options.cast; a tensor with more dims than symbols binds when
// dropping some of its unit dims gives one shape, the same whichever are dropped (torch's
// [1, H, 1, D] for [H, D]).
class FileShape {
 public:
  FileShape(const TensorFile& file, const RunOptions& options) : file_(file), options_(options) {}
  // Fixes a symbol the kernel does not take from the file (kkt's BT = 64).
  void Set(const std::string& symbol, uint64_t value, std::string source);
  // The tensor `name` of dtype `dtype`, whose dims are `symbols` in order, read from the file.
  Tensor Bind(const std::string& name, DType dtype, const std::vector<std::string>& symbols);
  // Binds only the dims of tensor `name`, without reading its data (a reference output).
  void BindShape(const std::string& name, const std::vector<std::string>& symbols);
  // Whether the file holds tensor `name` (through --map).
  bool Has(const std::string& name) const;
  // The file's dtype of tensor `name` (through --map), if the file has it and it is tgk's.
  std::optional<DType> DTypeOf(const std::string& name) const;
  // The value of a bound symbol, which a kernel's 32-bit shape must hold. When the user also
  // gave the symbol's option (null: none), it must agree with the file (tgk::Error,
  // kInvalidArgument).
  uint32_t Take(const std::string& symbol, const CLI::Option* option, uint32_t option_value) const;

 private:
  struct Value {
    uint64_t value;
    std::string source;
  };
  std::vector<uint64_t> Dims(const std::string& name, const std::vector<std::string>& symbols);

  const TensorFile& file_;
  const RunOptions& options_;
  std::map<std::string, Value> symbols_;
};

// A command whose Run is the usual one, over one struct of parameters (the kernel's shape, and
// any parameter no tensor holds): the subclass binds its options to params_ and says only what
// differs, its inputs, outputs, report and kernel call.
template <class Params>
class ShapedCommand : public KernelCommand {
 public:
  RunResult Run(const RunOptions& options) final {
    RunResult result;
    Params p = params_;
    const std::optional<TensorFile> file = OpenInput(*this, options, result);
    Job job;
    if (!file) {
      RandomInputs(job, p, options.seed);
    } else {
      FileShape dims(*file, options);
      job.inputs = FileInputs(dims, p);
    }
    Declare(p, job, result);
    Measure(options, file, job, result);
    return result;
  }

 protected:
  explicit ShapedCommand(const Params& defaults) : params_(defaults) {}
  // Declares the inputs at `p`, and job.draw drawing them from `seed`.
  virtual void RandomInputs(Job& job, const Params& p, uint64_t seed) const = 0;
  // The file's inputs; `p` takes their dims (FileShape::Take). An output the file holds must be
  // shaped like the kernel's (FileShape::BindShape), since it will be compared with it.
  virtual Tensors FileInputs(FileShape& dims, Params& p) const = 0;
  // result's shape text, work, roof, params and notes; job's outputs, scratch and record, which
  // keeps copies of what it reads of `p`.
  virtual void Declare(const Params& p, Job& job, RunResult& result) const = 0;

  Params params_;  // the options' values (their defaults under `tgk bench`)
};

// The tensor name a file holds for the kernel's `name` (options.map).
std::string FileName(const RunOptions& options, const std::string& name);

// `shape` without unit dims so that `rank` remain, when that is one shape whichever unit dims
// go (the same shape when rank already matches); nothing otherwise.
std::optional<std::vector<uint64_t>> DropUnitDims(const std::vector<uint64_t>& shape, size_t rank);

// "12.34 ms"; "103.2 GFLOP/s" or "18.5 GB/s" (giga of the roof's unit per second).
std::string FormatSeconds(double seconds);
std::string FormatRate(double giga_per_second, perf::Roof roof);
// "GFLOP/s" or "GB/s".
std::string RateUnit(perf::Roof roof);
// The median rate, giga of the roof's unit per second.
double MedianRate(const RunResult& r);
// The usual scale of a dot product over `dim` elements when none is given: 1/√dim, rounded once
// from double (attention's head_dim, the gated delta net's K).
float DefaultScale(uint32_t dim);
// A float as text that reads back to the same float ("%.9g").
std::string FloatText(float value);

}  // namespace tgk::tool
