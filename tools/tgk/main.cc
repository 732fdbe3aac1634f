// tgk: tgk's kernels from the command line.
//
//   tgk bench [--kernel NAME]    every kernel (or those named) at its default shape (a row per
//                                variant a kernel lists, e.g. flash-attn-vec's two NWG): time,
//                                rate, the machine's ceiling measured next to the runs and the
//                                kernel's fraction of it, parity with the scalar oracle
//   tgk run KERNEL [options]     one kernel on random or file inputs: time and rate; the
//                                comparison with a reference (--in's outputs, or --ref), the
//                                scalar oracle (--oracle) and the ceiling (--ceiling) on request;
//                                inputs and references from safetensors, .npy or .npz files;
//                                optionally a safetensors file of inputs, outputs, parameters
//   tgk scaling KERNEL [options] one kernel at each thread count (--threads 1,2,4): time, rate,
//                                speedup and efficiency, progress on stderr, --plot FILE.png
//   tgk targets                  the targets this CPU can run
//   tgk --version                the version of the tgk library it runs with
//
// --json prints one JSON object per measurement (a line each) instead of the text report.
// Exit status: 0 success (every comparison passed), 1 a comparison failed (a reference or the
// oracle differs beyond the tolerance), 2 anything else: a usage error, a tgk::Error (a bad
// argument, a bad file), printed as "tgk: <what()>", any other failure. `tgk` alone prints the
// usage and exits 2.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "kernel_command.h"
#include "npy.h"
#include "plot.h"
#include "tgk/detail/cpu.h"
#include "tgk/error.h"
#include "tgk/target.h"
#include "tgk/version.h"

namespace tgk::tool {
namespace {

using Json = nlohmann::json;

constexpr int kMismatch = 1;
constexpr int kUsage = 2;

void AddCommonOptions(CLI::App& command, RunOptions& options, bool threads) {
  if (threads) {
    command.add_option("--threads", options.threads, "OpenMP threads (0: the OpenMP default)")
        ->capture_default_str();
  }
  command.add_option("--target", options.target,
                     "scalar or a Highway target (see `tgk targets`; default: the best here)");
  command.add_option("--seed", options.seed, "Seed of the random inputs")->capture_default_str();
  command.add_option("--warmup", options.warmup, "Untimed runs first")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  command.add_option("--repeat", options.repeat, "Timed runs; the time shown is their median")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
}

// --map NAME=TENSOR, repeatable, into options.map.
void AddFileOptions(CLI::App& command, RunOptions& options) {
  command.add_option("--in", options.in,
                     "Read the inputs (and the parameters tgk wrote there) from this "
                     "safetensors, .npy or .npz file; its outputs, if any, are the reference");
  command
      .add_option_function<std::vector<std::string>>(
          "--map",
          [&options](const std::vector<std::string>& maps) {
            for (const std::string& m : maps) {
              const size_t eq = m.find('=');
              if (eq == std::string::npos || eq == 0 || eq + 1 == m.size()) {
                throw CLI::ValidationError("--map", "'" + m + "' is not NAME=TENSOR");
              }
              options.map[m.substr(0, eq)] = m.substr(eq + 1);
            }
          },
          "NAME=TENSOR: the files hold the kernel's tensor NAME as TENSOR (repeatable)")
      ->allow_extra_args(false);
  command.add_flag("--cast", options.cast,
                   "Convert a file tensor of another float dtype (F64, F32, F16, BF16) to the "
                   "kernel's");
}

void AddCheckOptions(CLI::App& command, RunOptions& options) {
  command.add_option("--ref", options.ref,
                     "Compare the outputs with this safetensors, .npy or .npz file's (through "
                     "--map)");
  command.add_option("--atol", options.tolerance.atol, "Absolute tolerance (default 0: bitwise)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--rtol", options.tolerance.rtol, "Relative tolerance (default 0)")
      ->check(CLI::NonNegativeNumber);
  command.add_option("--max-ulp", options.tolerance.max_ulp,
                     "Accepted ULP distance at the output's dtype (default 0)");
}

// "1 thread", "2 threads".
std::string Count(int n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}
std::string Threads(int threads) { return Count(threads, "thread"); }

// convert-inl.h: the AVX-512 targets narrow f32 to bf16 with the CPU's instruction, if it has it.
bool ConvertsBF16ByCpu(const Target& t) {
  return detail::kCpuHasAvx512Bf16 && t.name().starts_with("avx3");
}

int ListTargets() {
  const Target best = BestTarget();
  for (const Target& t : AvailableTargets()) {
    std::cout << t.name() << (t.is_scalar() ? "  (the oracle)" : "")
              << (t == best ? "  (default)" : "")
              << (ConvertsBF16ByCpu(t) ? "  (bf16 conversions by the CPU: AVX512_BF16)" : "")
              << '\n';
  }
  return 0;
}

std::string RoofName(perf::Roof roof) {
  switch (roof) {
    case perf::Roof::kFma:
      return "FMA peak";
    case perf::Roof::kMulAdd:
      return "mul+add peak";
    case perf::Roof::kRead:
      return "STREAM read";
    case perf::Roof::kCopy:
      return "STREAM copy";
  }
  return "";
}

// "0.84"; two significant digits, so that a tiny kernel's fraction does not print as 0.
std::string FormatFraction(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2g", fraction);
  return text;
}

Json ComparisonJson(const OutputComparison& c) {
  const Comparison& s = c.stats;
  return Json{{"output", c.name},
              {"source", c.source},
              {"count", s.count},
              {"differing", s.differing},
              {"max_abs", s.max_abs},
              {"max_abs_index", s.max_abs_index},
              {"max_rel", s.max_rel},
              {"max_rel_index", s.max_rel_index},
              {"max_ulp", s.max_ulp},
              {"max_ulp_index", s.max_ulp_index},
              {"nan_mismatches", s.nan_mismatches},
              {"inf_mismatches", s.inf_mismatches},
              {"passed", s.passed}};
}

// One measurement: the object --json prints (null where a figure was not asked for).
Json ResultJson(const RunResult& r) {
  Json oracle = nullptr, references = Json::array();
  if (!r.oracle.empty()) {
    oracle = Json::array();
    for (const OutputComparison& c : r.oracle) oracle.push_back(ComparisonJson(c));
  }
  for (const OutputComparison& c : r.references) references.push_back(ComparisonJson(c));
  return Json{{"kernel", r.kernel},
              {"shape", r.shape},
              {"inputs", r.inputs},
              {"target", r.target},
              {"threads", r.threads},
              {"times_s", r.timing.seconds},
              {"median_s", r.timing.median_s},
              {"rate", MedianRate(r)},
              {"rate_unit", RateUnit(r.roof)},
              {"roof", RoofName(r.roof)},
              {"ceiling", r.paired ? Json(r.paired->ceiling) : Json(nullptr)},
              {"ceiling_runs", r.paired ? Json(r.paired->ceilings) : Json(nullptr)},
              {"fraction", r.paired ? Json(r.paired->fraction) : Json(nullptr)},
              {"parity", {{"oracle", oracle}, {"references", references}}},
              {"passed", r.passed()}};
}

std::string ToleranceText(const Tolerance& t) {
  if (t.atol == 0 && t.rtol == 0 && t.max_ulp == 0) return "bitwise";
  char text[96];
  std::snprintf(text, sizeof text, "atol %g, rtol %g, max ulp %llu", t.atol, t.rtol,
                static_cast<unsigned long long>(t.max_ulp));
  return text;
}

int RunOne(KernelCommand& kernel, const RunOptions& options, bool json) {
  const RunResult r = kernel.Run(options);
  const int status = r.passed() ? 0 : kMismatch;
  if (json) {
    std::printf("%s\n", ResultJson(r).dump().c_str());
    return status;
  }
  const auto line = [](const std::string& label, const std::string& text) {
    std::printf("  %-8s %s\n", label.c_str(), text.c_str());
  };
  std::printf("%s: %s\n", kernel.name().c_str(), kernel.description().c_str());
  line("shape", r.shape);
  line("inputs", r.inputs);
  line("target", r.target + ", " + Threads(r.threads));
  line("time", FormatSeconds(r.timing.median_s) + " (median of " + Count(r.timing.runs, "run") +
                   " after " + std::to_string(options.warmup) + " warmup; best " +
                   FormatSeconds(r.timing.best_s) + ")");
  line("rate", FormatRate(MedianRate(r), r.roof));
  if (r.paired) {
    const bool paired = perf::PairedPerRun(r.roof);
    line("ceiling", FormatRate(r.paired->ceiling, r.roof) + " " + RoofName(r.roof) +
                        (paired ? " (median of " : " (best of ") +
                        std::to_string(r.paired->ceilings.size()) +
                        (paired ? ", each measured just before a run); "
                                : ", measured just before the warm-up); ") +
                        FormatFraction(r.paired->fraction) + " of it (median of the " +
                        std::to_string(r.timing.runs) + (paired ? " paired ratios)" : " ratios)"));
  }
  for (const OutputComparison& c : r.oracle) {
    line("oracle", c.name + " vs scalar, " + Threads(r.threads) + ": " + c.Summary());
  }
  for (const OutputComparison& c : r.references) {
    line("ref " + c.name, "vs " + c.source + ": " + c.Summary());
  }
  for (const auto& [label, text] : r.notes) line(label, text);
  if (!r.references.empty() || !r.oracle.empty()) {
    line("result",
         std::string(r.passed() ? "PASS" : "FAIL") + " (" + ToleranceText(options.tolerance) + ")");
  } else if (!options.in.empty()) {
    line("result",
         "no reference: the file holds none of the outputs (--ref FILE, or --map "
         "OUTPUT=TENSOR)");
  }
  return status;
}

// `only` (--kernel) names the kernels to run, in bench order; empty: every kernel. Each must
// have bench rows: a stage timed inside another kernel's row (gdn-solve) has none. Rows are
// gathered first so that the table's columns line up.
int Bench(const std::vector<std::unique_ptr<KernelCommand>>& kernels, RunOptions options,
          const std::vector<std::string>& only, bool json) {
  for (const std::string& name : only) {
    if (std::none_of(kernels.begin(), kernels.end(), [&name](const auto& kernel) {
          return kernel->name() == name && !kernel->BenchVariants().empty();
        })) {
      std::string known;
      for (const auto& kernel : kernels) {
        if (!kernel->BenchVariants().empty()) known += (known.empty() ? "" : ", ") + kernel->name();
      }
      ThrowInvalidArgument("--kernel " + name +
                           ": tgk bench has no such kernel (its kernels: " + known + ")");
    }
  }
  options.oracle = options.ceiling = true;
  const Target target = options.target.empty() ? BestTarget() : ParseTarget(options.target);
  const int threads = Queue(QueueOptions{.threads = options.threads}).threads();
  if (!json) {
    std::printf(
        "tgk bench: %s, %s, median of %s after %d warmup, each run paired with a run of its "
        "ceiling just before it (FMA and mul+add peaks: the best of runs just before the "
        "warm-up)\n\n",
        target.name().c_str(), Threads(threads).c_str(), Count(options.repeat, "run").c_str(),
        options.warmup);
    std::fflush(stdout);
  }

  std::vector<std::vector<std::string>> rows{
      {"kernel", "shape", "time", "rate", "ceiling", "of ceiling", "oracle"}};
  std::vector<std::string> mismatches;
  for (size_t i = 0; i < kernels.size(); ++i) {
    const std::string name = kernels[i]->name();
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    for (const std::string& variant : kernels[i]->BenchVariants()) {
      // A fresh command per row, so that no row inherits an option an earlier row set.
      const std::unique_ptr<KernelCommand> kernel = std::move(MakeKernelCommands()[i]);
      CLI::App parser;
      kernel->AddOptions(parser);
      parser.parse(variant);
      const std::string label = kernel->name() + (variant.empty() ? "" : " " + variant);
      const RunResult r = kernel->Run(options);
      if (!r.passed()) {
        for (const OutputComparison& c : r.oracle) mismatches.push_back(label + ": " + c.Summary());
      }
      if (json) {
        Json object = ResultJson(r);
        object["variant"] = variant;
        std::printf("%s\n", object.dump().c_str());
        std::fflush(stdout);
        continue;
      }
      rows.push_back(
          {label, r.shape, FormatSeconds(r.timing.median_s), FormatRate(MedianRate(r), r.roof),
           FormatRate(r.paired->ceiling, r.roof) + " " + RoofName(r.roof),
           FormatFraction(r.paired->fraction), r.passed() ? "bitwise equal" : "DIFFERS"});
    }
  }
  if (json) return mismatches.empty() ? 0 : kMismatch;

  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string text;
    for (size_t c = 0; c < row.size(); ++c) {
      text += row[c] + (c + 1 < row.size() ? std::string(widths[c] - row[c].size() + 2, ' ') : "");
    }
    std::printf("%s\n", text.c_str());
  }
  for (const std::string& m : mismatches) std::printf("\n%s\n", m.c_str());
  return mismatches.empty() ? 0 : kMismatch;
}

// The ceiling's rate at `r`'s thread count over its rate at `first`'s, per thread: how the
// machine itself scales (clocks fall as more cores run AVX-512 code, bandwidth is shared).
double CeilingEfficiency(const RunResult& first, const RunResult& r) {
  return r.paired->ceiling / first.paired->ceiling * first.threads / r.threads;
}

struct ScalingOptions {
  std::vector<int> threads;  // empty: 1 .. the machine's hardware threads
  std::string plot;
};

int Scaling(KernelCommand& kernel, RunOptions options, const ScalingOptions& scaling, bool json) {
  std::vector<int> counts = scaling.threads;
  if (counts.empty()) {
    const int n = std::max(1, int(std::thread::hardware_concurrency()));
    for (int t = 1; t <= n; ++t) counts.push_back(t);
  }
  for (int t : counts) {
    if (t < 1) ThrowInvalidArgument("--threads " + std::to_string(t) + ": each count must be >= 1");
  }
  if (!scaling.plot.empty()) CheckPlotPossible(scaling.plot);
  std::vector<RunResult> results;
  std::vector<ScalingPoint> points;
  for (size_t i = 0; i < counts.size(); ++i) {
    std::fprintf(stderr, "tgk scaling: %s at %s (%zu of %zu)\n", kernel.name().c_str(),
                 Threads(counts[i]).c_str(), i + 1, counts.size());
    options.threads = counts[i];
    results.push_back(kernel.Run(options));
    const RunResult& r = results.back();
    const double speedup = results.front().timing.median_s / r.timing.median_s;
    points.push_back(ScalingPoint{counts[i], MedianRate(r), speedup * counts.front() / counts[i]});
    if (json) {
      Json object = ResultJson(r);
      object["speedup"] = speedup;
      object["efficiency"] = points.back().efficiency;
      object["ceiling_efficiency"] =
          r.paired ? Json(CeilingEfficiency(results.front(), r)) : Json(nullptr);
      std::printf("%s\n", object.dump().c_str());
      std::fflush(stdout);
    }
  }
  const RunResult& first = results.front();
  if (!json) {
    std::printf("%s: %s\n  shape    %s\n  target   %s\n\n", kernel.name().c_str(),
                kernel.description().c_str(), first.shape.c_str(), first.target.c_str());
    std::printf("%7s  %12s  %16s  %7s  %10s", "threads", "time", "rate", "speedup", "efficiency");
    if (first.paired) {
      std::printf("  %24s  %10s  %18s", "ceiling", "of ceiling", "ceiling's own eff.");
    }
    std::printf("\n");
    for (size_t i = 0; i < results.size(); ++i) {
      const RunResult& r = results[i];
      std::printf("%7d  %12s  %16s  %7.2f  %10.2f", counts[i],
                  FormatSeconds(r.timing.median_s).c_str(),
                  FormatRate(points[i].rate, r.roof).c_str(),
                  first.timing.median_s / r.timing.median_s, points[i].efficiency);
      if (r.paired) {
        const std::string ceiling = FormatRate(r.paired->ceiling, r.roof) + " " + RoofName(r.roof);
        std::printf("  %24s  %10s  %18.2f", ceiling.c_str(),
                    FormatFraction(r.paired->fraction).c_str(), CeilingEfficiency(first, r));
      }
      std::printf("\n");
    }
    if (first.paired) {
      std::printf(
          "\n  (the ceiling's own efficiency is its rate's speedup over the thread ratio: where it "
          "is below 1,\n   the machine itself slows down per core with more threads busy, e.g. "
          "lower clocks)\n");
    }
  }
  if (!scaling.plot.empty()) {
    PlotScaling(scaling.plot, kernel.name() + ": " + first.shape + ", " + first.target,
                RateUnit(first.roof), points);
    if (!json) std::printf("\n  wrote    %s\n", scaling.plot.c_str());
  }
  for (const RunResult& r : results) {
    if (!r.passed()) return kMismatch;
  }
  return 0;
}

// The arguments with the parameters an --out file recorded (tgk_params) for the options the
// user did not give, inserted after the kernel's name; nothing when there is nothing to add.
std::optional<std::vector<std::string>> ReplayArguments(const std::vector<std::string>& args,
                                                        size_t kernel_at, const CLI::App& command,
                                                        const std::string& kernel,
                                                        const std::string& in) {
  const TensorFile file = ReadTensorFile(in);
  const auto kernel_it = file.metadata.find("tgk_kernel");
  const auto params_it = file.metadata.find("tgk_params");
  if (kernel_it == file.metadata.end() || kernel_it->second != kernel ||
      params_it == file.metadata.end()) {
    return std::nullopt;
  }
  Json params;
  try {
    params = Json::parse(params_it->second);
  } catch (const Json::exception& e) {
    file.Fail(std::string("__metadata__ tgk_params is not JSON: ") + e.what());
  }
  if (!params.is_object()) file.Fail("__metadata__ tgk_params is not a JSON object");
  std::vector<std::string> extra;
  for (const auto& [name, value] : params.items()) {
    if (!value.is_string())
      file.Fail("__metadata__ tgk_params '" + Escaped(name) + "' is not a string");
    const CLI::Option* option = command.get_option_no_throw("--" + name);
    if (!option)
      file.Fail("__metadata__ tgk_params names '" + Escaped(name) + "', which " + kernel +
                " does not take");
    if (option->count() > 0) continue;
    extra.push_back("--" + name + "=" + value.get<std::string>());
  }
  if (extra.empty()) return std::nullopt;
  std::vector<std::string> replay(args.begin(), args.begin() + std::ptrdiff_t(kernel_at) + 1);
  replay.insert(replay.end(), extra.begin(), extra.end());
  replay.insert(replay.end(), args.begin() + std::ptrdiff_t(kernel_at) + 1, args.end());
  return replay;
}

int Main(const std::vector<std::string>& args, bool replayed) {
  CLI::App app(
      "tgk: GPU-style compute kernels on CPUs, the same bits on every SIMD target and "
      "thread count",
      "tgk");
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("tgk ") + tgk::Version());
  RunOptions options;
  bool json = false;
  ScalingOptions scaling;
  std::vector<std::string> bench_kernels;
  const auto kernels = MakeKernelCommands();

  CLI::App* bench =
      app.add_subcommand("bench",
                         "Every kernel (or each --kernel) at its default shape: time, rate, the "
                         "machine's ceiling measured beside it and the fraction of it, parity "
                         "with the scalar oracle");
  AddCommonOptions(*bench, options, true);
  bench
      ->add_option("--kernel", bench_kernels,
                   "Run only this kernel (repeatable; the names of `tgk run` that have bench rows)")
      ->allow_extra_args(false);
  bench->add_flag("--json", json, "One JSON object per row");

  CLI::App* run = app.add_subcommand(
      "run",
      "One kernel: time it, compare it with a reference (and, on request, the scalar oracle), "
      "read its inputs from or write its results to safetensors files");
  run->require_subcommand(1);
  CLI::App* scale = app.add_subcommand(
      "scaling", "One kernel at each thread count: time, rate, speedup, efficiency; a plot");
  scale->require_subcommand(1);
  std::vector<std::pair<CLI::App*, KernelCommand*>> run_commands, scaling_commands;
  for (const auto& kernel : kernels) {
    CLI::App* command = run->add_subcommand(kernel->name(), kernel->description());
    AddCommonOptions(*command, options, true);
    AddFileOptions(*command, options);
    AddCheckOptions(*command, options);
    command->add_option("--out", options.out,
                        "Write the inputs, outputs and parameters to this safetensors file");
    command->add_flag("--oracle", options.oracle,
                      "Also run the scalar oracle and compare bit for bit");
    command->add_flag("--ceiling", options.ceiling, "Also measure the roof's ceiling");
    command->add_flag("--json", json, "Print one JSON object");
    kernel->AddOptions(*command);
    run_commands.emplace_back(command, kernel.get());
  }
  // The same kernel commands again under `scaling`; the options are parsed afresh there.
  const auto scaling_kernels = MakeKernelCommands();
  for (const auto& kernel : scaling_kernels) {
    CLI::App* command = scale->add_subcommand(kernel->name(), kernel->description());
    AddCommonOptions(*command, options, false);
    AddFileOptions(*command, options);
    command
        ->add_option("--threads", scaling.threads,
                     "Thread counts, e.g. 1,2,4 (default: 1 .. the hardware threads)")
        ->delimiter(',');
    command->add_option("--plot", scaling.plot, "Draw rate and efficiency into this PNG");
    command->add_flag("--oracle", options.oracle, "Also compare with the scalar oracle");
    command->add_flag("--ceiling", options.ceiling, "Also measure the roof's ceiling");
    command->add_flag("--json", json, "One JSON object per thread count");
    kernel->AddOptions(*command);
    scaling_commands.emplace_back(command, kernel.get());
  }

  CLI::App* targets = app.add_subcommand("targets", "The targets this CPU can run");

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : kUsage;
  }
  try {
    if (targets->parsed()) return ListTargets();
    if (bench->parsed()) return Bench(kernels, options, bench_kernels, json);
    for (const auto& list : {&run_commands, &scaling_commands}) {
      for (const auto& [command, kernel] : *list) {
        if (!command->parsed()) continue;
        if (!options.in.empty() && !replayed) {
          const size_t at =
              size_t(std::find(args.begin(), args.end(), kernel->name()) - args.begin());
          if (const auto replay = ReplayArguments(args, at, *command, kernel->name(), options.in)) {
            return Main(*replay, true);
          }
        }
        if (!options.out.empty() && NumpyReader(options.out)) {
          ThrowInvalidArgument("--out " + options.out +
                               ": tgk writes safetensors, and a file of this name would be read "
                               "back as numpy's (name it .safetensors)");
        }
        return list == &run_commands ? RunOne(*kernel, options, json)
                                     : Scaling(*kernel, options, scaling, json);
      }
    }
    std::cout << app.help();
    return kUsage;
  } catch (const tgk::Error& e) {
    std::cerr << "tgk: " << e.what() << '\n';
    return kUsage;
  } catch (const std::bad_alloc&) {
    std::cerr << "tgk: out of memory\n";
    return kUsage;
  } catch (const std::exception& e) {
    std::cerr << "tgk: " << e.what() << '\n';
    return kUsage;
  }
}

}  // namespace
}  // namespace tgk::tool

int main(int argc, char** argv) {
  return tgk::tool::Main(std::vector<std::string>(argv + 1, argv + argc), false);
}
