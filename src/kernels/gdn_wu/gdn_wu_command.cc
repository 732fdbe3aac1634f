// `tgk run gdn-wu`: gated_delta_net_recompute_wu_bf16 (spec/gated_delta_net_chunk.md, stage 5),
// GatedDeltaNetRecomputeWu. Inputs k bf16 [B, T, Hg, K], v bf16 [B, T, H, V], beta and g_cumsum
// f32 [B, T, H], A_inv f32 [B, T, H, 64]; outputs w bf16 [B, T, H, K], u bf16 [B, T, H, V].
// Random inputs are in the layer's regime (gdn_commands.h), A_inv the first-order inverse
// of kkt's blocks for these β and G.
#include <CLI/CLI.hpp>
#include <vector>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/kernels/gdn_wu.h"

namespace tgk::tool {
namespace {

class GdnWuCommand final : public ShapedCommand<GdnWuShape> {
 public:
  GdnWuCommand() : ShapedCommand({.B = 1, .T = 4096, .Hg = 16, .H = 32, .K = 128, .V = 128}) {}
  std::string name() const override { return "gdn-wu"; }
  std::string description() const override {
    return "gated_delta_net_recompute_wu_bf16: w and u of each chunk, Gated DeltaNet stage 5 (k "
           "bf16 [B,T,Hg,K], v bf16 [B,T,H,V], beta, g_cumsum f32 [B,T,H], A_inv f32 [B,T,H,64] "
           "-> w bf16 [B,T,H,K], u bf16 [B,T,H,V])";
  }
  // gdn-chunk's row times the whole path; perf/ times each stage.
  std::vector<std::string> BenchVariants() const override { return {}; }

  void AddOptions(CLI::App& command) override { options_.Add(command, params_); }

 private:
  // Drawn in this order: k, v, β, G, then A_inv.
  void RandomInputs(Job& job, const GdnWuShape& s, uint64_t seed) const override {
    job.inputs = Tensors{{"k", Shaped(DType::kBF16, {s.B, s.T, s.Hg, s.K})},
                         {"v", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})},
                         {"beta", Shaped(DType::kF32, {s.B, s.T, s.H})},
                         {"g_cumsum", Shaped(DType::kF32, {s.B, s.T, s.H})},
                         {"A_inv", Shaped(DType::kF32, {s.B, s.T, s.H, kGdnChunk})}};
    job.draw = [s, seed](Tensors& inputs) {
      Random random(seed);
      DrawUnitRows(random, inputs.at("k"));
      Tensor& v = inputs.at("v");
      for (uint64_t i = 0; i < v.count(); ++i) {
        v.as<bf16>()[i] = BF16FromF32(random.Normal() * 0.5f);
      }
      Tensor& beta = inputs.at("beta");
      DrawBeta(random, beta.as<float>(), beta.count());
      DrawGateCumsum(random, inputs.at("g_cumsum"));
      DrawChunkBlocks(random, inputs.at("g_cumsum"), beta.as<float>(), s.K, true,
                      inputs.at("A_inv"));
    };
  }

  Tensors FileInputs(FileShape& dims, GdnWuShape& s) const override {
    dims.Set("BT", kGdnChunk, "the kernel's chunk size");
    Tensors inputs{{"k", dims.Bind("k", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"v", dims.Bind("v", DType::kBF16, {"B", "T", "H", "V"})},
                   {"beta", dims.Bind("beta", DType::kF32, {"B", "T", "H"})},
                   {"g_cumsum", dims.Bind("g_cumsum", DType::kF32, {"B", "T", "H"})},
                   {"A_inv", dims.Bind("A_inv", DType::kF32, {"B", "T", "H", "BT"})}};
    if (dims.Has("w")) dims.BindShape("w", {"B", "T", "H", "K"});
    if (dims.Has("u")) dims.BindShape("u", {"B", "T", "H", "V"});
    options_.Take(dims, params_, s);
    return inputs;
  }

  void Declare(const GdnWuShape& s, Job& job, RunResult& result) const override {
    result.shape = options_.Text(s);
    result.work = GdnWuFlops(s);
    result.roof = perf::Roof::kFma;
    job.outputs = Tensors{{"w", Shaped(DType::kBF16, {s.B, s.T, s.H, s.K})},
                          {"u", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})}};
    job.record = [s](Queue& queue, const Views& v) {
      GatedDeltaNetRecomputeWu(queue, s, v.at("k"), v.at("v"), v.at("beta"), v.at("g_cumsum"),
                               v.at("A_inv"), v.at("w"), v.at("u"));
    };
  }

  ShapeOptions<GdnWuShape> options_ =
      GdnShapeOptions<GdnWuShape>("Key dimension", "Value dimension");
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnWuCommand() { return std::make_unique<GdnWuCommand>(); }

}  // namespace tgk::tool
