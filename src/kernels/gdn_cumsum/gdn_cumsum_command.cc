// `tgk run gdn-cumsum`: chunk_local_cumsum_g_f32 (docs/spec/gdn_cumsum.md), the
// chunk-local cumulative sum of the gate. Input g f32 [B, T, H]; output g_cumsum f32
// [B, T, H]. The work reported is the bytes read and written once, against STREAM copy.
#include <CLI/CLI.hpp>
#include <cmath>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/kernels/gdn_cumsum.h"

namespace tgk::tool {
namespace {

class GdnCumsumCommand final : public ShapedCommand<GdnCumsumShape> {
 public:
  GdnCumsumCommand() : ShapedCommand({.B = 1, .T = 4096, .H = 32}) {}
  std::string name() const override { return "gdn-cumsum"; }
  std::string description() const override {
    return "chunk_local_cumsum_g_f32: chunk-local cumsum of the Gated DeltaNet gate (g f32 "
           "[B,T,H] -> g_cumsum f32 [B,T,H])";
  }

  void AddOptions(CLI::App& command) override { options_.Add(command, params_); }

 private:
  // FLA's logsigmoid gates, g = log σ(u) with u ~ U[0, 1).
  void RandomInputs(Job& job, const GdnCumsumShape& s, uint64_t seed) const override {
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

  Tensors FileInputs(FileShape& dims, GdnCumsumShape& s) const override {
    Tensors inputs{{"g", dims.Bind("g", DType::kF32, {"B", "T", "H"})}};
    if (dims.Has("g_cumsum")) dims.BindShape("g_cumsum", {"B", "T", "H"});
    options_.Take(dims, params_, s);
    return inputs;
  }

  void Declare(const GdnCumsumShape& s, Job& job, RunResult& result) const override {
    result.shape = options_.Text(s);
    result.work = GdnCumsumBytes(s);
    result.roof = perf::Roof::kCopy;
    job.outputs = Tensors{{"g_cumsum", Shaped(DType::kF32, {s.B, s.T, s.H})}};
    job.record = [s](Queue& queue, const Views& v) {
      GatedDeltaNetChunkCumsum(queue, s, v.at("g"), v.at("g_cumsum"));
    };
  }

  ShapeOptions<GdnCumsumShape> options_ = GdnGateOptions<GdnCumsumShape>();
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnCumsumCommand() {
  return std::make_unique<GdnCumsumCommand>();
}

}  // namespace tgk::tool
