// `tgk run gdn-chunk`: the chunked Gated DeltaNet forward (spec/gated_delta_net_chunk.md),
// GatedDeltaRuleChunkForward. Inputs q, k bf16 [B, T, Hg, K], v bf16 [B, T, H, V], g and beta
// f32 [B, T, H], h0 f32 [B, H, V, K]; outputs o bf16 [B, T, H, V], final_state f32
// [B, H, V, K].
//
// Random inputs are in the spec's regime: unit-norm q and k rows (as after l2norm), v ~ N(0,
// 0.25), g uniform in [-0.1, 0], beta uniform in [0.1, 1], h0 ~ N(0, 0.01). With --in, the
// file's tensors give every dimension; --scale (default 1/sqrt(K)) and --use_qk_l2norm, which
// no tensor holds, are stored in the --out file and replayed by --in.
#include <CLI/CLI.hpp>
#include <cmath>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/convert.h"
#include "tgk/kernels/gdn_chunk.h"

namespace tgk::tool {
namespace {

class GdnChunkCommand final : public ShapedCommand<GdnChunkShape> {
 public:
  GdnChunkCommand() : ShapedCommand({.B = 1, .T = 4096, .Hg = 16, .H = 32, .K = 128, .V = 128}) {}
  std::string name() const override { return "gdn-chunk"; }
  std::string description() const override {
    return "chunked Gated DeltaNet forward (q, k bf16 [B,T,Hg,K], v bf16 [B,T,H,V], g, beta f32 "
           "[B,T,H], h0 f32 [B,H,V,K] -> o bf16 [B,T,H,V], final_state f32 [B,H,V,K])";
  }

  void AddOptions(CLI::App& command) override {
    options_.Add(command, params_);
    scale_option_ = command.add_option("--scale", scale_, "Output scale (default: 1/sqrt(K))");
    command.add_flag("--use_qk_l2norm", use_qk_l2norm_, "L2-normalise q and k first (stage 1)");
  }

 private:
  void RandomInputs(Job& job, const GdnChunkShape& s, uint64_t seed) const override {
    job.inputs = Tensors{{"q", Shaped(DType::kBF16, {s.B, s.T, s.Hg, s.K})},
                         {"k", Shaped(DType::kBF16, {s.B, s.T, s.Hg, s.K})},
                         {"v", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})},
                         {"g", Shaped(DType::kF32, {s.B, s.T, s.H})},
                         {"beta", Shaped(DType::kF32, {s.B, s.T, s.H})},
                         {"h0", Shaped(DType::kF32, {s.B, s.H, s.V, s.K})}};
    job.draw = [seed](Tensors& inputs) {
      Random random(seed);
      DrawUnitRows(random, inputs.at("q"));
      DrawUnitRows(random, inputs.at("k"));
      Tensor& v = inputs.at("v");
      for (uint64_t i = 0; i < v.count(); ++i) {
        v.as<bf16>()[i] = BF16FromF32(random.Normal() * 0.5f);
      }
      Tensor& g = inputs.at("g");
      for (uint64_t i = 0; i < g.count(); ++i) g.as<float>()[i] = -0.1f * random.Uniform();
      Tensor& beta = inputs.at("beta");
      DrawBeta(random, beta.as<float>(), beta.count());
      Tensor& h0 = inputs.at("h0");
      for (uint64_t i = 0; i < h0.count(); ++i) h0.as<float>()[i] = 0.1f * random.Normal();
    };
  }

  Tensors FileInputs(FileShape& dims, GdnChunkShape& s) const override {
    Tensors inputs{{"q", dims.Bind("q", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"k", dims.Bind("k", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"v", dims.Bind("v", DType::kBF16, {"B", "T", "H", "V"})},
                   {"g", dims.Bind("g", DType::kF32, {"B", "T", "H"})},
                   {"beta", dims.Bind("beta", DType::kF32, {"B", "T", "H"})},
                   {"h0", dims.Bind("h0", DType::kF32, {"B", "H", "V", "K"})}};
    if (dims.Has("o")) dims.BindShape("o", {"B", "T", "H", "V"});
    if (dims.Has("final_state")) dims.BindShape("final_state", {"B", "H", "V", "K"});
    options_.Take(dims, params_, s);
    return inputs;
  }

  void Declare(const GdnChunkShape& s, Job& job, RunResult& result) const override {
    const float scale = scale_option_->count() > 0 ? scale_ : DefaultScale(s.K);
    const bool l2norm = use_qk_l2norm_;
    result.shape = options_.Text(s);
    result.work = GdnChunkFlops(s);
    result.roof = perf::Roof::kFma;
    if (scale_option_->count() > 0) result.notes.emplace_back("scale", std::to_string(scale));
    result.params = {{"scale", FloatText(scale)}, {"use_qk_l2norm", l2norm ? "true" : "false"}};
    job.outputs = Tensors{{"o", Shaped(DType::kBF16, {s.B, s.T, s.H, s.V})},
                          {"final_state", Shaped(DType::kF32, {s.B, s.H, s.V, s.K})}};
    job.scratch = Tensors{{"scratch", Shaped(DType::kU8, {GdnChunkScratch(s, l2norm).bytes})}};
    job.record = [s, scale, l2norm](Queue& queue, const Views& v) {
      GatedDeltaRuleChunkForward(queue, s, v.at("q"), v.at("k"), v.at("v"), v.at("g"), v.at("beta"),
                                 scale, v.at("h0"), v.at("o"), v.at("final_state"), v.at("scratch"),
                                 l2norm);
    };
  }

  float scale_ = 0.0f;
  bool use_qk_l2norm_ = false;
  ShapeOptions<GdnChunkShape> options_ = GdnShapeOptions<GdnChunkShape>(
      "Key dimension (a multiple of 64, at most 512)", "Value dimension (at most 16384)");
  const CLI::Option* scale_option_ = nullptr;
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnChunkCommand() { return std::make_unique<GdnChunkCommand>(); }

}  // namespace tgk::tool
