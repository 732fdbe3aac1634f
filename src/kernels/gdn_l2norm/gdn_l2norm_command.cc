// `tgk run gdn-l2norm`: l2_norm_bf16 (docs/spec/gdn_l2norm.md), the L2
// norm of each row. Input x [rows, dim] bf16 (f32 and f16 from a file too); output y of the
// same dtype and shape. The work reported is the bytes read and written once, against STREAM
// copy.
#include <CLI/CLI.hpp>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/convert.h"
#include "tgk/kernels/gdn_l2norm.h"

namespace tgk::tool {
namespace {

// The options, 32-bit, and the dtype of x and y: bf16, or the --in file's.
struct L2NormParams {
  uint32_t rows = 4096 * 16;
  uint32_t dim = 128;
  DType dtype = DType::kBF16;
};

class GdnL2NormCommand final : public ShapedCommand<L2NormParams> {
 public:
  GdnL2NormCommand() : ShapedCommand(L2NormParams{}) {}
  std::string name() const override { return "gdn-l2norm"; }
  std::string description() const override {
    return "l2_norm_bf16: L2 norm of each row, the Gated DeltaNet q/k normalisation (x [rows,dim] "
           "bf16|f32|f16 -> y, same dtype)";
  }

  void AddOptions(CLI::App& command) override { options_.Add(command, params_); }

 private:
  // Rows of N(0, 0.01) values, as a q or k before normalisation.
  void RandomInputs(Job& job, const L2NormParams& p, uint64_t seed) const override {
    job.inputs = Tensors{{"x", Shaped(DType::kBF16, {p.rows, p.dim})}};
    job.draw = [seed](Tensors& inputs) {
      Random random(seed);
      Tensor& x = inputs.at("x");
      bf16* data = x.as<bf16>();
      for (uint64_t i = 0; i < x.count(); ++i) data[i] = BF16FromF32(random.Normal() * 0.1f);
    };
  }

  Tensors FileInputs(FileShape& dims, L2NormParams& p) const override {
    p.dtype = dims.DTypeOf("x").value_or(DType::kBF16);
    Tensors inputs{{"x", dims.Bind("x", p.dtype, {"rows", "dim"})}};
    if (dims.Has("y")) dims.BindShape("y", {"rows", "dim"});
    options_.Take(dims, params_, p);
    return inputs;
  }

  void Declare(const L2NormParams& p, Job& job, RunResult& result) const override {
    const GdnL2NormShape s{p.rows, p.dim};
    result.shape = options_.Text(p) + " " + std::string(Name(p.dtype));
    result.work = GdnL2NormBytes(s, uint32_t(SizeOf(p.dtype)));
    result.roof = perf::Roof::kCopy;
    job.outputs = Tensors{{"y", Shaped(p.dtype, {s.rows, s.dim})}};
    job.record = [s](Queue& queue, const Views& v) {
      GatedDeltaNetL2Norm(queue, s, v.at("x"), v.at("y"));
    };
  }

  ShapeOptions<L2NormParams> options_{{{"rows", &L2NormParams::rows, "Rows (B*T*Hg)"},
                                       {"dim", &L2NormParams::dim, "Row length (K)"}}};
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnL2NormCommand() {
  return std::make_unique<GdnL2NormCommand>();
}

}  // namespace tgk::tool
