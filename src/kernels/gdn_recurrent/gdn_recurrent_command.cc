// `tgk run gdn-recurrent`: the recurrent path of the gated delta net layer,
// GatedDeltaRuleRecurrent (docs/spec/gdn_recurrent.md), whole. Inputs q, k f32
// [Sn, T, Hk, Dk], v f32 [Sn, T, Hv, Dv], g (a decay rate, α = exp(−g)) and beta f32
// [Sn, T, Hv], h0 f32 [Sn, Hv, Dv, Dk]; outputs o f32 [Sn, T, Hv, Dv] and final_state f32
// [Sn, Hv, Dv, Dk]. Value head h reads key head h % Hk (tiled). --scale multiplies q in the
// kernel (1: q is taken as pre-scaled, as mlx-native's kernels take it); --decode picks the
// decode kernel's reductions; both are stored in the --out file and replayed by --in. The work
// reported is the state read and written once, against STREAM copy.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/kernels/gdn_recurrent.h"

namespace tgk::tool {
namespace {

struct Params {
  GdnRecurrentShape shape{.Sn = 64, .T = 1, .Hk = 16, .Hv = 32, .Dk = 128, .Dv = 128};
  float scale = 1.0f;
  bool decode = false;
};

class GdnRecurrentCommand final : public ShapedCommand<Params> {
 public:
  GdnRecurrentCommand() : ShapedCommand(Params{}) {}
  std::string name() const override { return "gdn-recurrent"; }
  std::string description() const override {
    return "gated delta net, recurrent path (q, k f32 [Sn,T,Hk,Dk], v [Sn,T,Hv,Dv], g beta "
           "[Sn,T,Hv], h0 [Sn,Hv,Dv,Dk] -> o [Sn,T,Hv,Dv], final_state [Sn,Hv,Dv,Dk])";
  }
  std::vector<std::string> BenchVariants() const override { return {"", "--decode"}; }

  void AddOptions(CLI::App& command) override {
    options_.Add(command, params_.shape);
    command.add_option("--scale", params_.scale, "Multiplies q in the kernel (1: q pre-scaled)")
        ->capture_default_str();
    command.add_flag("--decode", params_.decode,
                     "The decode kernel's reductions (32 lane sums, halving tree; Dk % 32 == 0)");
  }

 private:
  // mlx-native's test distributions: unit-norm q (times Dk^-1/2) and k, v ~ N(0, 1),
  // g ~ U[0.05, 0.5), β ~ U[0, 1), h0 ~ N(0, 0.25); drawn in that order.
  void RandomInputs(Job& job, const Params& p, uint64_t seed) const override {
    const GdnRecurrentShape& s = p.shape;
    job.inputs = Tensors{{"q", Shaped(DType::kF32, {s.Sn, s.T, s.Hk, s.Dk})},
                         {"k", Shaped(DType::kF32, {s.Sn, s.T, s.Hk, s.Dk})},
                         {"v", Shaped(DType::kF32, {s.Sn, s.T, s.Hv, s.Dv})},
                         {"g", Shaped(DType::kF32, {s.Sn, s.T, s.Hv})},
                         {"beta", Shaped(DType::kF32, {s.Sn, s.T, s.Hv})},
                         {"h0", Shaped(DType::kF32, {s.Sn, s.Hv, s.Dv, s.Dk})}};
    job.draw = [s, seed](Tensors& inputs) {
      Random random(seed);
      const auto unit_rows = [&](Tensor& x, float row_scale) {
        float* data = x.as<float>();
        for (uint64_t r = 0; r < x.count(); r += s.Dk) {
          double norm = 0.0;
          for (uint32_t c = 0; c < s.Dk; ++c) {
            data[r + c] = random.Normal();
            norm += double(data[r + c]) * data[r + c];
          }
          for (uint32_t c = 0; c < s.Dk; ++c)
            data[r + c] = float(data[r + c] / std::sqrt(norm) * row_scale);
        }
      };
      unit_rows(inputs.at("q"), 1.0f / std::sqrt(float(s.Dk)));
      unit_rows(inputs.at("k"), 1.0f);
      Tensor& v = inputs.at("v");
      for (uint64_t i = 0; i < v.count(); ++i) v.as<float>()[i] = random.Normal();
      Tensor& g = inputs.at("g");
      for (uint64_t i = 0; i < g.count(); ++i) g.as<float>()[i] = random.Uniform() * 0.45f + 0.05f;
      Tensor& beta = inputs.at("beta");
      for (uint64_t i = 0; i < beta.count(); ++i) beta.as<float>()[i] = random.Uniform();
      Tensor& h0 = inputs.at("h0");
      for (uint64_t i = 0; i < h0.count(); ++i) h0.as<float>()[i] = random.Normal() * 0.5f;
    };
  }

  Tensors FileInputs(FileShape& dims, Params& p) const override {
    Tensors inputs{{"q", dims.Bind("q", DType::kF32, {"Sn", "T", "Hk", "Dk"})},
                   {"k", dims.Bind("k", DType::kF32, {"Sn", "T", "Hk", "Dk"})},
                   {"v", dims.Bind("v", DType::kF32, {"Sn", "T", "Hv", "Dv"})},
                   {"g", dims.Bind("g", DType::kF32, {"Sn", "T", "Hv"})},
                   {"beta", dims.Bind("beta", DType::kF32, {"Sn", "T", "Hv"})},
                   {"h0", dims.Bind("h0", DType::kF32, {"Sn", "Hv", "Dv", "Dk"})}};
    if (dims.Has("o")) dims.BindShape("o", {"Sn", "T", "Hv", "Dv"});
    if (dims.Has("final_state")) dims.BindShape("final_state", {"Sn", "Hv", "Dv", "Dk"});
    options_.Take(dims, params_.shape, p.shape);
    return inputs;
  }

  void Declare(const Params& p, Job& job, RunResult& result) const override {
    const GdnRecurrentShape& s = p.shape;
    result.shape = options_.Text(s);
    if (p.scale != 1.0f) {
      char scale[32];
      std::snprintf(scale, sizeof scale, " scale=%g", p.scale);
      result.shape += scale;
    }
    if (p.decode) result.shape += " decode";
    result.work = GdnRecurrentStateBytes(s);
    result.roof = perf::Roof::kCopy;
    result.params = {{"scale", FloatText(p.scale)}, {"decode", p.decode ? "true" : "false"}};
    job.outputs = Tensors{{"o", Shaped(DType::kF32, {s.Sn, s.T, s.Hv, s.Dv})},
                          {"final_state", Shaped(DType::kF32, {s.Sn, s.Hv, s.Dv, s.Dk})}};
    job.record = [p](Queue& queue, const Views& v) {
      GatedDeltaRuleRecurrent(queue, p.shape, v.at("q"), v.at("k"), v.at("v"), v.at("g"),
                              v.at("beta"), p.scale, v.at("h0"), v.at("o"), v.at("final_state"),
                              p.decode ? GdnRecurrentKernel::kDecode : GdnRecurrentKernel::kSerial);
    };
  }

  ShapeOptions<GdnRecurrentShape> options_{{
      {"Sn", &GdnRecurrentShape::Sn, "Sequences"},
      {"T", &GdnRecurrentShape::T, "Tokens per sequence"},
      {"Hk", &GdnRecurrentShape::Hk, "Key heads"},
      {"Hv", &GdnRecurrentShape::Hv,
       "Value heads (a multiple of Hk; head h reads key head h % Hk)"},
      {"Dk", &GdnRecurrentShape::Dk, "Key dimension (state columns)"},
      {"Dv", &GdnRecurrentShape::Dv, "Value dimension (state rows)"},
  }};
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnRecurrentCommand() {
  return std::make_unique<GdnRecurrentCommand>();
}

}  // namespace tgk::tool
