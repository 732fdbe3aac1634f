// `tgk run gdn-l2norm`: l2_norm_bf16 (docs/spec/gdn_l2norm.md), the L2
// norm of each row. Input x [rows, dim] bf16 (f32 and f16 from a file too); output y of the
// same dtype and shape. The work reported is the bytes read and written once, against STREAM
// copy.
#include <CLI/CLI.hpp>
#include <array>
#include <optional>

#include "kernel_command.h"
#include "tgk/convert.h"
#include "tgk/kernels/gdn_l2norm.h"

namespace tgk::tool {
namespace {

std::string ShapeText(const GdnL2NormShape& s, DType dtype) {
  return "rows=" + std::to_string(s.rows) + " dim=" + std::to_string(s.dim) + " " +
         std::string(Name(dtype));
}

// Rows of N(0, 0.01) values, as a q or k before normalisation.
void RandomInputs(Job& job, const GdnL2NormShape& s, uint64_t seed) {
  job.inputs = Tensors{{"x", Shaped(DType::kBF16, {s.rows, s.dim})}};
  job.draw = [seed](Tensors& inputs) {
    Random random(seed);
    Tensor& x = inputs.at("x");
    bf16* data = x.as<bf16>();
    for (uint64_t i = 0; i < x.count(); ++i) data[i] = BF16FromF32(random.Normal() * 0.1f);
  };
}

class GdnL2NormCommand final : public KernelCommand {
 public:
  std::string name() const override { return "gdn-l2norm"; }
  std::string description() const override {
    return "l2_norm_bf16: L2 norm of each row, the Gated DeltaNet q/k normalisation (x [rows,dim] "
           "bf16|f32|f16 -> y, same dtype)";
  }

  void AddOptions(CLI::App& command) override {
    rows_option_ = command.add_option("--rows", rows_, "Rows (B*T*Hg)")->capture_default_str();
    dim_option_ = command.add_option("--dim", dim_, "Row length (K)")->capture_default_str();
  }

  RunResult Run(const RunOptions& options) override {
    RunResult result;
    GdnL2NormShape shape{rows_, dim_};
    const std::optional<TensorFile> file = OpenInput(*this, options, result);
    Job job;
    DType dtype = DType::kBF16;
    if (!file) {
      RandomInputs(job, shape, options.seed);
    } else {
      FileShape dims(*file, options);
      dtype = dims.DTypeOf("x").value_or(DType::kBF16);
      job.inputs = Tensors{{"x", dims.Bind("x", dtype, {"rows", "dim"})}};
      if (dims.Has("y")) dims.BindShape("y", {"rows", "dim"});
      shape.rows = dims.Take("rows", rows_option_, rows_);
      shape.dim = dims.Take("dim", dim_option_, dim_);
    }
    result.shape = ShapeText(shape, dtype);
    result.work = GdnL2NormBytes(shape, uint32_t(SizeOf(dtype)));
    result.roof = perf::Roof::kCopy;

    job.outputs = Tensors{{"y", Shaped(dtype, {shape.rows, shape.dim})}};
    job.record = [&](Queue& queue, const Views& v) {
      GatedDeltaNetL2Norm(queue, shape, v.at("x"), v.at("y"));
    };
    Measure(options, file, job, result);
    return result;
  }

 private:
  uint32_t rows_ = 4096 * 16;
  uint32_t dim_ = 128;
  const CLI::Option* rows_option_ = nullptr;
  const CLI::Option* dim_option_ = nullptr;
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnL2NormCommand() {
  return std::make_unique<GdnL2NormCommand>();
}

}  // namespace tgk::tool
