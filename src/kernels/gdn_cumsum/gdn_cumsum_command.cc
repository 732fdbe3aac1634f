// `tgk run gdn-cumsum`: chunk_local_cumsum_g_f32 (docs/spec/gdn_cumsum.md), the
// chunk-local cumulative sum of the gate. Input g f32 [B, T, H]; output g_cumsum f32
// [B, T, H]. The work reported is the bytes read and written once, against STREAM copy.
#include <CLI/CLI.hpp>
#include <array>
#include <cmath>
#include <optional>

#include "kernel_command.h"
#include "tgk/kernels/gdn_cumsum.h"

namespace tgk::tool {
namespace {

std::string ShapeText(const GdnCumsumShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " H=" + std::to_string(s.H);
}

// FLA's logsigmoid gates, g = log σ(u) with u ~ U[0, 1).
void RandomInputs(Job& job, const GdnCumsumShape& s, uint64_t seed) {
  job.inputs = Tensors{{"g", Shaped(DType::kF32, {s.B, s.T, s.H})}};
  job.draw = [seed](Tensors& inputs) {
    Random random(seed);
    Tensor& g = inputs.at("g");
    float* data = g.as<float>();
    for (uint64_t i = 0; i < g.count(); ++i) {
      data[i] = float(-std::log1p(std::exp(-double(random.Uniform()))));
    }
  };
}

class GdnCumsumCommand final : public KernelCommand {
 public:
  std::string name() const override { return "gdn-cumsum"; }
  std::string description() const override {
    return "chunk_local_cumsum_g_f32: chunk-local cumsum of the Gated DeltaNet gate (g f32 "
           "[B,T,H] -> g_cumsum f32 [B,T,H])";
  }

  void AddOptions(CLI::App& command) override {
    options_ = {
        command.add_option("--B", shape_.B, "Batch size")->capture_default_str(),
        command.add_option("--T", shape_.T, "Time steps")->capture_default_str(),
        command.add_option("--H", shape_.H, "Value heads")->capture_default_str(),
    };
  }

  RunResult Run(const RunOptions& options) override {
    RunResult result;
    GdnCumsumShape shape = shape_;
    const std::optional<TensorFile> file = OpenInput(*this, options, result);
    Job job;
    if (!file) {
      RandomInputs(job, shape, options.seed);
    } else {
      FileShape dims(*file, options);
      job.inputs = Tensors{{"g", dims.Bind("g", DType::kF32, {"B", "T", "H"})}};
      if (dims.Has("g_cumsum")) dims.BindShape("g_cumsum", {"B", "T", "H"});
      shape.B = dims.Take("B", options_[0], shape_.B);
      shape.T = dims.Take("T", options_[1], shape_.T);
      shape.H = dims.Take("H", options_[2], shape_.H);
    }
    result.shape = ShapeText(shape);
    result.work = GdnCumsumBytes(shape);
    result.roof = perf::Roof::kCopy;

    job.outputs = Tensors{{"g_cumsum", Shaped(DType::kF32, {shape.B, shape.T, shape.H})}};
    job.record = [&](Queue& queue, const Views& v) {
      GatedDeltaNetChunkCumsum(queue, shape, v.at("g"), v.at("g_cumsum"));
    };
    Measure(options, file, job, result);
    return result;
  }

 private:
  GdnCumsumShape shape_{.B = 1, .T = 4096, .H = 32};
  std::array<const CLI::Option*, 3> options_{};  // B, T, H
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnCumsumCommand() {
  return std::make_unique<GdnCumsumCommand>();
}

}  // namespace tgk::tool
