// `tgk run gdn-output`: gated_delta_net_chunk_o_bf16 (spec/gated_delta_net_chunk.md, stage 7),
// GatedDeltaNetChunkOutput. Inputs q, k bf16 [B, T, Hg, K], v_new bf16 [B, T, H, V], h bf16
// [B, NT, H, V, K] (NT = ceil(T / 64)), g_cumsum f32 [B, T, H]; output o bf16 [B, T, H, V].
// --scale (default 1/sqrt(K)) is stored in the --out file and replayed by --in. Random inputs
// are in the layer's regime (gdn_commands.h): v_new like v, h like h0.
#include <CLI/CLI.hpp>
#include <cmath>
#include <utility>
#include <vector>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/kernels/gdn_output.h"

namespace tgk::tool {
namespace {

class GdnOutputCommand final : public ShapedCommand<GdnOutputShape> {
 public:
  GdnOutputCommand() : ShapedCommand({.B = 1, .T = 4096, .Hg = 16, .H = 32, .K = 128, .V = 128}) {}
  std::string name() const override { return "gdn-output"; }
  std::string description() const override {
    return "gated_delta_net_chunk_o_bf16: the output of each chunk, Gated DeltaNet stage 7 (q, k "
           "bf16 [B,T,Hg,K], v_new bf16 [B,T,H,V], h bf16 [B,NT,H,V,K], g_cumsum f32 [B,T,H] -> "
           "o bf16 [B,T,H,V])";
  }
  // gdn-chunk's row times the whole path; perf/ times each stage.
  std::vector<std::string> BenchVariants() const override { return {}; }

  void AddOptions(CLI::App& command) override {
    options_.Add(command, params_);
    scale_option_ = command.add_option("--scale", scale_, "Output scale (default: 1/sqrt(K))");
  }

 private:
  // Drawn in this order: q, k, v_new, h, then G.
  void RandomInputs(Job& job, const GdnOutputShape& s, uint64_t seed) const override {
    job.inputs = Tensors{{"q", Shaped(DType::kBF16, {s.B, s.T, s.Hg, s.K})},
                         {"k", Shaped(DType::kBF16, {s.B, s.T, s.Hg, s.K})},
                         {"v_new", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})},
                         {"h", Shaped(DType::kBF16, {s.B, GdnChunks(s.T), s.H, s.V, s.K})},
                         {"g_cumsum", Shaped(DType::kF32, {s.B, s.T, s.H})}};
    job.draw = [seed](Tensors& inputs) {
      Random random(seed);
      DrawUnitRows(random, inputs.at("q"));
      DrawUnitRows(random, inputs.at("k"));
      for (const auto& [name, sigma] : {std::pair{"v_new", 0.5f}, std::pair{"h", 0.1f}}) {
        Tensor& t = inputs.at(name);
        for (uint64_t i = 0; i < t.count(); ++i) {
          t.as<bf16>()[i] = BF16FromF32(random.Normal() * sigma);
        }
      }
      DrawGateCumsum(random, inputs.at("g_cumsum"));
    };
  }

  // h must hold NT = ceil(T / 64) chunks.
  Tensors FileInputs(FileShape& dims, GdnOutputShape& s) const override {
    Tensors inputs{{"q", dims.Bind("q", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"k", dims.Bind("k", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"v_new", dims.Bind("v_new", DType::kBF16, {"B", "T", "H", "V"})},
                   {"g_cumsum", dims.Bind("g_cumsum", DType::kF32, {"B", "T", "H"})}};
    options_.Take(dims, params_, s);
    dims.Set("NT", GdnChunks(s.T), "ceil(T / 64)");
    inputs.emplace("h", dims.Bind("h", DType::kBF16, {"B", "NT", "H", "V", "K"}));
    if (dims.Has("o")) dims.BindShape("o", {"B", "T", "H", "V"});
    return inputs;
  }

  void Declare(const GdnOutputShape& s, Job& job, RunResult& result) const override {
    const float scale = scale_option_->count() > 0 ? scale_ : DefaultScale(s.K);
    result.shape = options_.Text(s);
    result.work = GdnOutputFlops(s);
    result.roof = perf::Roof::kFma;
    result.params = {{"scale", FloatText(scale)}};
    job.outputs = Tensors{{"o", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})}};
    job.record = [s, scale](Queue& queue, const Views& v) {
      GatedDeltaNetChunkOutput(queue, s, v.at("q"), v.at("k"), v.at("v_new"), v.at("h"),
                               v.at("g_cumsum"), scale, v.at("o"));
    };
  }

  float scale_ = 0.0f;
  ShapeOptions<GdnOutputShape> options_ = GdnShapeOptions<GdnOutputShape>(
      "Key dimension (at most 16384)", "Value dimension (at most 16384)");
  const CLI::Option* scale_option_ = nullptr;
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnOutputCommand() {
  return std::make_unique<GdnOutputCommand>();
}

}  // namespace tgk::tool
