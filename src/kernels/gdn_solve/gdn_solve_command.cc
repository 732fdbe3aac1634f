// `tgk run gdn-solve`: chunk_tri_solve_invert_f32 (spec/gated_delta_net_chunk.md, stage 4),
// GatedDeltaNetSolve: (I + A)⁻¹ of every 64 × 64 chunk block. Input A_strict f32
// [B, T, H, 64]; output A_inv f32 [B, T, H, 64]. Random A_strict is kkt's output in the
// layer's regime (gdn_commands.h) for keys of K = 128.
#include <CLI/CLI.hpp>
#include <vector>

#include "kernel_command.h"
#include "kernels/gdn_chunk/gdn_commands.h"
#include "tgk/kernels/gdn_solve.h"

namespace tgk::tool {
namespace {

class GdnSolveCommand final : public ShapedCommand<GdnSolveShape> {
 public:
  GdnSolveCommand() : ShapedCommand({.B = 1, .T = 4096, .H = 32}) {}
  std::string name() const override { return "gdn-solve"; }
  std::string description() const override {
    return "chunk_tri_solve_invert_f32: (I + A)^-1 of each 64x64 chunk block, Gated DeltaNet "
           "stage 4 (A_strict f32 [B,T,H,64] -> A_inv f32 [B,T,H,64])";
  }
  // gdn-chunk's row times the whole path; perf/ times each stage.
  std::vector<std::string> BenchVariants() const override { return {}; }

  void AddOptions(CLI::App& command) override { options_.Add(command, params_); }

 private:
  // Drawn in this order: the gates (summed to G), β, then the blocks.
  void RandomInputs(Job& job, const GdnSolveShape& s, uint64_t seed) const override {
    job.inputs = Tensors{{"A_strict", Shaped(DType::kF32, {s.B, s.T, s.H, kGdnChunk})}};
    job.draw = [s, seed](Tensors& inputs) {
      Random random(seed);
      Tensor g_cumsum = Tensor::Zeros(DType::kF32, {s.B, s.T, s.H});
      DrawGateCumsum(random, g_cumsum);
      std::vector<float> beta(g_cumsum.count());
      DrawBeta(random, beta.data(), beta.size());
      DrawChunkBlocks(random, g_cumsum, beta.data(), 128, false, inputs.at("A_strict"));
    };
  }

  Tensors FileInputs(FileShape& dims, GdnSolveShape& s) const override {
    dims.Set("BT", kGdnChunk, "the kernel's chunk size");
    Tensors inputs{{"A_strict", dims.Bind("A_strict", DType::kF32, {"B", "T", "H", "BT"})}};
    if (dims.Has("A_inv")) dims.BindShape("A_inv", {"B", "T", "H", "BT"});
    options_.Take(dims, params_, s);
    return inputs;
  }

  void Declare(const GdnSolveShape& s, Job& job, RunResult& result) const override {
    result.shape = options_.Text(s);
    result.work = GdnSolveFlops(s);
    result.roof = perf::Roof::kFma;
    job.outputs = Tensors{{"A_inv", Shaped(DType::kF32, {s.B, s.T, s.H, kGdnChunk})}};
    job.record = [s](Queue& queue, const Views& v) {
      GatedDeltaNetSolve(queue, s, v.at("A_strict"), v.at("A_inv"));
    };
  }

  ShapeOptions<GdnSolveShape> options_ = GdnGateOptions<GdnSolveShape>();
};

}  // namespace

std::unique_ptr<KernelCommand> MakeGdnSolveCommand() { return std::make_unique<GdnSolveCommand>(); }

}  // namespace tgk::tool
