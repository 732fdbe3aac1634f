// `tgk run gdn-state`: gated_delta_net_chunk_inter_state_bf16 (spec/gated_delta_net_chunk.md,
// stage 6), GatedDeltaNetChunkState. Inputs k bf16 [B, T, Hg, K], w bf16 [B, T, H, K], u bf16
// [B, T, H, V], g_cumsum f32 [B, T, H], h0 f32 [B, H, V, K]; outputs h bf16 [B, NT, H, V, K]
// (NT = ceil(T / 64)), v_new bf16 [B, T, H, V], final_state f32 [B, H, V, K]. Random inputs are
// in the layer's regime (gdn_commands.h), w and u stage 5's to first order (A_inv ≈ I):
// w = β·exp(G)·k and u = β·v, row by row.
#include <CLI/CLI.hpp>
#include <cmath>
#include <vector>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/kernels/gdn_state.h"

namespace tgk::tool {
namespace {

class GdnStateCommand final : public ShapedCommand<GdnStateShape> {
 public:
  GdnStateCommand() : ShapedCommand({.B = 1, .T = 4096, .Hg = 16, .H = 32, .K = 128, .V = 128}) {}
  std::string name() const override { return "gdn-state"; }
  std::string description() const override {
    return "gated_delta_net_chunk_inter_state_bf16: the state across chunks, Gated DeltaNet stage "
           "6 (k bf16 [B,T,Hg,K], w bf16 [B,T,H,K], u bf16 [B,T,H,V], g_cumsum f32 [B,T,H], h0 "
           "f32 [B,H,V,K] -> h bf16 [B,NT,H,V,K], v_new bf16 [B,T,H,V], final_state f32 "
           "[B,H,V,K])";
  }
  // gdn-chunk's row times the whole path; perf/ times each stage.
  std::vector<std::string> BenchVariants() const override { return {}; }

  void AddOptions(CLI::App& command) override { options_.Add(command, params_); }

 private:
  // Drawn in this order: k, β, G, v (for u), then h0.
  void RandomInputs(Job& job, const GdnStateShape& s, uint64_t seed) const override {
    job.inputs = Tensors{{"k", Shaped(DType::kBF16, {s.B, s.T, s.Hg, s.K})},
                         {"w", Shaped(DType::kBF16, {s.B, s.T, s.H, s.K})},
                         {"u", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})},
                         {"g_cumsum", Shaped(DType::kF32, {s.B, s.T, s.H})},
                         {"h0", Shaped(DType::kF32, {s.B, s.H, s.V, s.K})}};
    job.draw = [s, seed](Tensors& inputs) {
      Random random(seed);
      Tensor& k = inputs.at("k");
      DrawUnitRows(random, k);
      std::vector<float> beta(uint64_t{s.B} * s.T * s.H);
      DrawBeta(random, beta.data(), beta.size());
      Tensor& g_cumsum = inputs.at("g_cumsum");
      DrawGateCumsum(random, g_cumsum);
      bf16* w = inputs.at("w").as<bf16>();
      bf16* u = inputs.at("u").as<bf16>();
      for (uint64_t row = 0; row < beta.size(); ++row) {  // row = (b·T + t)·H + h
        const uint64_t key_row = row / s.H * s.Hg + row % s.H / (s.H / s.Hg);
        const float gate = beta[row] * std::exp(g_cumsum.as<float>()[row]);
        for (uint32_t c = 0; c < s.K; ++c) {
          w[row * s.K + c] = BF16FromF32(gate * F32FromBF16(k.as<bf16>()[key_row * s.K + c]));
        }
        for (uint32_t x = 0; x < s.V; ++x) {
          u[row * s.V + x] = BF16FromF32(beta[row] * random.Normal() * 0.5f);
        }
      }
      Tensor& h0 = inputs.at("h0");
      for (uint64_t i = 0; i < h0.count(); ++i) h0.as<float>()[i] = 0.1f * random.Normal();
    };
  }

  Tensors FileInputs(FileShape& dims, GdnStateShape& s) const override {
    Tensors inputs{{"k", dims.Bind("k", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"w", dims.Bind("w", DType::kBF16, {"B", "T", "H", "K"})},
                   {"u", dims.Bind("u", DType::kBF16, {"B", "T", "H", "V"})},
                   {"g_cumsum", dims.Bind("g_cumsum", DType::kF32, {"B", "T", "H"})},
                   {"h0", dims.Bind("h0", DType::kF32, {"B", "H", "V", "K"})}};
    options_.Take(dims, params_, s);
    dims.Set("NT", GdnChunks(s.T), "ceil(T / 64)");
    if (dims.Has("h")) dims.BindShape("h", {"B", "NT", "H", "V", "K"});
    if (dims.Has("v_new")) dims.BindShape("v_new", {"B", "T", "H", "V"});
    if (dims.Has("final_state")) dims.BindShape("final_state", {"B", "H", "V", "K"});
    return inputs;
  }

  void Declare(const GdnStateShape& s, Job& job, RunResult& result) const override {
    result.shape = options_.Text(s);
    result.work = GdnStateFlops(s);
    result.roof = perf::Roof::kFma;
    job.outputs = Tensors{{"h", Shaped(DType::kBF16, {s.B, GdnChunks(s.T), s.H, s.V, s.K})},
                          {"v_new", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})},
                          {"final_state", Shaped(DType::kF32, {s.B, s.H, s.V, s.K})}};
    job.record = [s](Queue& queue, const Views& v) {
      GatedDeltaNetChunkState(queue, s, v.at("k"), v.at("w"), v.at("u"), v.at("g_cumsum"),
                              v.at("h0"), v.at("h"), v.at("v_new"), v.at("final_state"));
    };
  }

  ShapeOptions<GdnStateShape> options_ = GdnShapeOptions<GdnStateShape>(
      "Key dimension (at most 16384)", "Value dimension (at most 16384)");
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnStateCommand() { return std::make_unique<GdnStateCommand>(); }

}  // namespace tgk::tool
