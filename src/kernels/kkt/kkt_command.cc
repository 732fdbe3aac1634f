// `tgk run kkt`: gated_delta_net_kkt_bf16 (docs/spec/kkt.md), the chunk-scaled K·Kᵀ
// of Gated DeltaNet. Inputs k bf16 [B, T, Hg, K], beta and g f32 [B, T, H]; output A f32
// [B, T, H, 64].
#include <CLI/CLI.hpp>
#include <array>
#include <optional>

#include "kernel_command.h"
#include "tgk/convert.h"
#include "tgk/kernels/kkt.h"

namespace tgk::tool {
namespace {

std::string ShapeText(const KktShape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " H=" + std::to_string(s.H) +
         " Hg=" + std::to_string(s.Hg) + " K=" + std::to_string(s.K);
}

// The distributions of the upstream fixture (spec section 9), drawn in its order: k, β, then
// the gate increments, which are summed along T restarting at every chunk.
void RandomInputs(Job& job, const KktShape& s, uint64_t seed) {
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

class KktCommand final : public KernelCommand {
 public:
  std::string name() const override { return "kkt"; }
  std::string description() const override {
    return "gated_delta_net_kkt_bf16: chunk-scaled K*K^T of Gated DeltaNet (k bf16 [B,T,Hg,K], "
           "beta, g f32 [B,T,H] -> A f32 [B,T,H,64])";
  }

  void AddOptions(CLI::App& command) override {
    options_ = {
        command.add_option("--B", shape_.B, "Batch size")->capture_default_str(),
        command.add_option("--T", shape_.T, "Time steps")->capture_default_str(),
        command.add_option("--H", shape_.H, "Value heads (a multiple of Hg)")
            ->capture_default_str(),
        command.add_option("--Hg", shape_.Hg, "Key heads")->capture_default_str(),
        command.add_option("--K", shape_.K, "Key dimension (a multiple of 64, at most 512)")
            ->capture_default_str(),
    };
  }

  RunResult Run(const RunOptions& options) override {
    RunResult result;
    KktShape shape = shape_;
    const std::optional<TensorFile> file = OpenInput(*this, options, result);
    Job job;
    if (!file) {
      RandomInputs(job, shape, options.seed);
    } else {
      job.inputs = FileInputs(*file, options, shape);
    }
    result.shape = ShapeText(shape);
    result.work = KktFlops(shape);
    result.roof = perf::Roof::kFma;

    job.outputs = Tensors{{"A", Shaped(DType::kF32, {shape.B, shape.T, shape.H, kKktChunk})}};
    job.record = [&](Queue& queue, const Views& v) {
      GatedDeltaNetKkt(queue, shape, v.at("k"), v.at("beta"), v.at("g"), v.at("A"));
    };
    Measure(options, file, job, result);
    return result;
  }

 private:
  // The file's k, beta and g; `shape` takes their dims. An A in the file must be shaped like
  // the output, since it will be compared with it.
  Tensors FileInputs(const TensorFile& file, const RunOptions& options, KktShape& shape) const {
    FileShape dims(file, options);
    dims.Set("BT", kKktChunk, "the kernel's chunk size");
    Tensors inputs{{"k", dims.Bind("k", DType::kBF16, {"B", "T", "Hg", "K"})},
                   {"beta", dims.Bind("beta", DType::kF32, {"B", "T", "H"})},
                   {"g", dims.Bind("g", DType::kF32, {"B", "T", "H"})}};
    if (dims.Has("A")) dims.BindShape("A", {"B", "T", "H", "BT"});
    shape.B = dims.Take("B", options_[0], shape_.B);
    shape.T = dims.Take("T", options_[1], shape_.T);
    shape.H = dims.Take("H", options_[2], shape_.H);
    shape.Hg = dims.Take("Hg", options_[3], shape_.Hg);
    shape.K = dims.Take("K", options_[4], shape_.K);
    return inputs;
  }

  KktShape shape_{.B = 1, .T = 4096, .Hg = 16, .H = 16, .K = 128};
  std::array<const CLI::Option*, 5> options_{};  // B, T, H, Hg, K
};

}  // namespace

std::unique_ptr<KernelCommand> MakeKktCommand() { return std::make_unique<KktCommand>(); }

}  // namespace tgk::tool
