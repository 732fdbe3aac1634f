// tgk: tgk's kernels from the command line.
//
//   tgk bench                  every kernel at its default shape (a row per variant a kernel
//                              lists, e.g. flash-attn-vec's two NWG): time, rate, the machine's
//                              ceiling measured next to the runs and the kernel's fraction of
//                              it, parity with the scalar oracle
//   tgk run KERNEL [options]   one kernel on random or file inputs: time, rate, parity, and
//                              optionally a safetensors file of inputs and outputs
//   tgk targets                the targets this CPU can run
//   tgk --version              the version of the tgk library it runs with
//
// `tgk` alone prints the usage. Exit status: 0 success; 2 a tgk::Error (a bad argument, a bad
// file), printed as "tgk: <what()>"; 1 any other failure, including a result that differs from
// the oracle, and the bare usage; CLI11's own status for usage errors.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <new>

#include "kernel_command.h"
#include "tgk/error.h"
#include "tgk/target.h"
#include "tgk/version.h"

namespace tgk::tool {
namespace {

void AddCommonOptions(CLI::App& command, RunOptions& options) {
  command.add_option("--threads", options.threads, "OpenMP threads (0: the OpenMP default)")
      ->capture_default_str();
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

// "1 thread", "2 threads".
std::string Count(int n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}
std::string Threads(int threads) { return Count(threads, "thread"); }

int ListTargets() {
  const Target best = BestTarget();
  for (const Target& t : AvailableTargets()) {
    std::cout << t.name() << (t.is_scalar() ? "  (the oracle)" : "")
              << (t == best ? "  (default)" : "") << '\n';
  }
  return 0;
}

std::string RoofName(perf::Roof roof) {
  switch (roof) {
    case perf::Roof::kFma:
      return "FMA peak";
    case perf::Roof::kRead:
      return "STREAM read";
    case perf::Roof::kCopy:
      return "STREAM copy";
  }
  return "";
}

double MedianRate(const RunResult& r) { return r.work / r.timing.median_s * 1e-9; }

// "0.84"; two significant digits, so that a tiny kernel's fraction does not print as 0.
std::string FormatFraction(double fraction) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2g", fraction);
  return text;
}

int RunOne(KernelCommand& kernel, const RunOptions& options) {
  const RunResult r = kernel.Run(options);
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
  const bool paired = perf::PairedPerRun(r.roof);
  line("ceiling", FormatRate(r.paired.ceiling, r.roof) + " " + RoofName(r.roof) + " (median of " +
                      std::to_string(r.paired.ceilings.size()) +
                      (paired ? ", each measured just before a run); "
                              : ", measured just before the warm-up); ") +
                      FormatFraction(r.paired.fraction) + " of it (median of the " +
                      std::to_string(r.timing.runs) + (paired ? " paired ratios)" : " ratios)"));
  line("oracle", "vs scalar, " + Threads(r.threads) + ": " + r.oracle.Summary());
  for (const auto& [label, text] : r.notes) line(label, text);
  return r.oracle.equal() ? 0 : 1;
}

// Rows are gathered first so that the table's columns line up.
int Bench(const std::vector<std::unique_ptr<KernelCommand>>& kernels, const RunOptions& options) {
  const Target target = options.target.empty() ? BestTarget() : ParseTarget(options.target);
  const int threads = Queue(QueueOptions{.threads = options.threads}).threads();
  std::printf(
      "tgk bench: %s, %s, median of %s after %d warmup, each run paired with a run of its "
      "ceiling just before it (FMA peak: measured just before the warm-up)\n\n",
      target.name().c_str(), Threads(threads).c_str(), Count(options.repeat, "run").c_str(),
      options.warmup);
  std::fflush(stdout);

  std::vector<std::vector<std::string>> rows{
      {"kernel", "shape", "time", "rate", "ceiling", "of ceiling", "oracle"}};
  std::vector<std::string> mismatches;
  for (size_t i = 0; i < kernels.size(); ++i) {
    for (const std::string& variant : kernels[i]->BenchVariants()) {
      // A fresh command per row, so that no row inherits an option an earlier row set.
      const std::unique_ptr<KernelCommand> kernel = std::move(MakeKernelCommands()[i]);
      CLI::App parser;
      kernel->AddOptions(parser);
      parser.parse(variant);
      const std::string label = kernel->name() + (variant.empty() ? "" : " " + variant);
      const RunResult r = kernel->Run(options);
      rows.push_back(
          {label, r.shape, FormatSeconds(r.timing.median_s), FormatRate(MedianRate(r), r.roof),
           FormatRate(r.paired.ceiling, r.roof) + " " + RoofName(r.roof),
           FormatFraction(r.paired.fraction), r.oracle.equal() ? "bitwise equal" : "DIFFERS"});
      if (!r.oracle.equal()) mismatches.push_back(label + ": " + r.oracle.Summary());
    }
  }

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
  return mismatches.empty() ? 0 : 1;
}

}  // namespace
}  // namespace tgk::tool

int main(int argc, char** argv) {
  using namespace tgk::tool;
  CLI::App app(
      "tgk: GPU-style compute kernels on CPUs, the same bits on every SIMD target and "
      "thread count",
      "tgk");
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", std::string("tgk ") + tgk::Version());
  RunOptions options;
  const auto kernels = MakeKernelCommands();

  CLI::App* bench =
      app.add_subcommand("bench",
                         "Every kernel at its default shape: time, rate, the machine's ceiling "
                         "measured beside it and the fraction of it, parity with the scalar "
                         "oracle");
  AddCommonOptions(*bench, options);

  CLI::App* run = app.add_subcommand(
      "run",
      "One kernel: time it, check it against the scalar oracle, read its inputs from or "
      "write its results to safetensors files");
  run->require_subcommand(1);
  std::vector<std::pair<CLI::App*, KernelCommand*>> run_commands;
  for (const auto& kernel : kernels) {
    CLI::App* command = run->add_subcommand(kernel->name(), kernel->description());
    AddCommonOptions(*command, options);
    command->add_option("--in", options.in,
                        "Read the inputs from this safetensors file (the shape follows them)");
    command->add_option("--out", options.out,
                        "Write the inputs and outputs to this safetensors file");
    kernel->AddOptions(*command);
    run_commands.emplace_back(command, kernel.get());
  }

  CLI::App* targets = app.add_subcommand("targets", "The targets this CPU can run");

  CLI11_PARSE(app, argc, argv);
  try {
    if (targets->parsed()) return ListTargets();
    if (bench->parsed()) return Bench(kernels, options);
    for (const auto& [command, kernel] : run_commands) {
      if (command->parsed()) return RunOne(*kernel, options);
    }
    std::cout << app.help();
    return 1;
  } catch (const tgk::Error& e) {
    std::cerr << "tgk: " << e.what() << '\n';
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "tgk: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "tgk: " << e.what() << '\n';
    return 1;
  }
}
