// `tgk run kkt`: gated_delta_net_kkt_bf16 (docs/spec/kkt.md), the chunk-scaled K·Kᵀ
// of Gated DeltaNet. Inputs k bf16 [B, T, Hg, K], beta and g f32 [B, T, H]; output A f32
// [B, T, H, 64].
#include <CLI/CLI.hpp>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/convert.h"
#include "tgk/kernels/kkt.h"

namespace tgk::tool {
namespace {

class KktCommand final : public ShapedCommand<KktShape> {
 public:
  KktCommand() : ShapedCommand({.B = 1, .T = 4096, .Hg = 16, .H = 16, .K = 128}) {}
  std::string name() const override { return "kkt"; }
  std::string description() const override {
    return "gated_delta_net_kkt_bf16: chunk-scaled K*K^T of Gated DeltaNet (k bf16 [B,T,Hg,K], "
           "beta, g f32 [B,T,H] -> A f32 [B,T,H,64])";
  }

  void AddOptions(CLI::App& command) override { options_.Add(command, params_); }

 private:
  // The distributions of the upstream fixture (spec section 9), drawn in its order: k, β, then
  // the gate increments, which are summed along T restarting at every chunk.
  void RandomInputs(Job& job, const KktShape& s, uint64_t seed) const override {
    job.inputs = Tensors{{"k", Shaped(DType::kBF16, {s.B, s.T, s.Hg, s.K})},
                         {"beta", Shaped(DType::kF32, {s.B, s.T, s.H})},
                         {"g", Shaped(DType::kF32, {s.B, s.T, s.H})}};
    job.draw = [s, seed](Tensors& inputs) {
      Random random(seed);
      Tensor& k = inputs.at("k");
      bf16* k_data = k.as<bf16>();
      for (uint64_t i = 0; i < k.count(); ++i) k_data[i] = BF16FromF32(random.Normal() * 0.1f);
      Tensor& beta = inputs.at("beta");
      float* beta_data = beta.as<float>();
      for (uint64_t i = 0; i < beta.count(); ++i) beta_data[i] = random.Uniform() * 0.9f + 0.1f;
      Tensor& g = inputs.at("g");
      float* g_data = g.as<float>();
      for (uint64_t i = 0; i < g.count(); ++i) g_data[i] = random.Uniform() * 0.045f - 0.05f;
      for (uint64_t b = 0; b < s.B; ++b) {
        for (uint64_t t = 0; t < s.T; ++t) {
          if (t % kKktChunk == 0) continue;
          for (uint64_t h = 0; h < s.H; ++h) {
            const uint64_t i = (b * s.T + t) * s.H + h;
            g_data[i] = g_data[i - s.H] + g_data[i];
          }
        }
      }
    };
  }

  Tensors FileInputs(FileShape& dims, KktShape& s) const override {
    dims.Set("BT", kKktChunk, "the kernel's chunk size");
    Tensors inputs{{"k", dims.Bind("k", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"beta", dims.Bind("beta", DType::kF32, {"B", "T", "H"})},
                   {"g", dims.Bind("g", DType::kF32, {"B", "T", "H"})}};
    if (dims.Has("A")) dims.BindShape("A", {"B", "T", "H", "BT"});
    options_.Take(dims, params_, s);
    return inputs;
  }

  void Declare(const KktShape& s, Job& job, RunResult& result) const override {
    result.shape = options_.Text(s);
    result.work = KktFlops(s);
    result.roof = perf::Roof::kFma;
    job.outputs = Tensors{{"A", Shaped(DType::kF32, {s.B, s.T, s.H, kKktChunk})}};
    job.record = [s](Queue& queue, const Views& v) {
      GatedDeltaNetKkt(queue, s, v.at("k"), v.at("beta"), v.at("g"), v.at("A"));
    };
  }

  ShapeOptions<KktShape> options_{{
      {"B", &KktShape::B, "Batch size"},
      {"T", &KktShape::T, "Time steps"},
      {"H", &KktShape::H, "Value heads (a multiple of Hg)"},
      {"Hg", &KktShape::Hg, "Key heads"},
      {"K", &KktShape::K, "Key dimension (a multiple of 64, at most 512)"},
  }};
};

}  // namespace

std::unique_ptr<KernelCommand> MakeKktCommand() { return std::make_unique<KktCommand>(); }

}  // namespace tgk::tool
