// `tgk run sdpa`: sdpa / sdpa_bf16 (docs/spec/sdpa.md), fused scaled-dot-product attention with a
// causal mask aligned to the end of the keys and grouped-query heads. Inputs Q [batch, n_heads,
// seq_len, head_dim], K and V [batch, n_kv_heads, kv_capacity, head_dim]; output O shaped like
// Q; all f32 (sdpa) or all bf16 (sdpa_bf16, chosen as in the spec by Q's dtype).
//
// Random inputs are N(0, 1), rounded to bf16 for sdpa_bf16. With --in, the file's Q gives the
// dtype and, with K, every dimension; kv_seq_len and scale, which no tensor holds, come from
// their options as with random inputs, except that kv_seq_len defaults to the file's kv_capacity.
#include <CLI/CLI.hpp>
#include <array>
#include <cmath>
#include <cstdio>

#include "kernel_command.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/kernels/sdpa.h"

namespace tgk::tool {
namespace {

// The dimensions, then whatever differs from what a caller usually passes.
std::string ShapeText(const SdpaParams& p) {
  std::string text =
      "batch=" + std::to_string(p.batch) + " n_heads=" + std::to_string(p.n_heads) +
      " n_kv_heads=" + std::to_string(p.n_kv_heads) + " head_dim=" + std::to_string(p.head_dim) +
      " seq_len=" + std::to_string(p.seq_len) + " kv_seq_len=" + std::to_string(p.kv_seq_len);
  if (p.kv_capacity != p.kv_seq_len) text += " kv_capacity=" + std::to_string(p.kv_capacity);
  if (p.scale != DefaultScale(p.head_dim)) {
    char scale[32];
    std::snprintf(scale, sizeof scale, " scale=%g", p.scale);
    text += scale;
  }
  return text;
}

class SdpaCommand final : public ShapedCommand<SdpaParams> {
 public:
  SdpaCommand()
      : ShapedCommand({.batch = 1,
                       .n_heads = 16,
                       .n_kv_heads = 8,
                       .head_dim = 128,
                       .seq_len = 512,
                       .kv_seq_len = 512,
                       .scale = 0.0f,
                       .kv_capacity = 0}) {}
  std::string name() const override { return "sdpa"; }
  std::string description() const override {
    return "sdpa / sdpa_bf16: causal grouped-query attention (Q [batch,n_heads,seq_len,head_dim], "
           "K, V [batch,n_kv_heads,kv_capacity,head_dim] -> O like Q; f32 or bf16)";
  }
  std::vector<std::string> BenchVariants() const override {
    return {"--dtype f32", "--dtype bf16"};
  }

  void AddOptions(CLI::App& command) override {
    const auto add = [&](const char* name, auto& value, const char* help) {
      return command.add_option(name, value, help)->capture_default_str();
    };
    // In the spec's parameter order.
    options_[0] = add("--batch", params_.batch, "Batch size");
    options_[1] = add("--n_heads", params_.n_heads, "Query heads (a multiple of n_kv_heads)");
    options_[2] = add("--n_kv_heads", params_.n_kv_heads, "Key/value heads");
    options_[3] = add("--head_dim", params_.head_dim, "Head dimension (at most 512)");
    options_[4] = add("--seq_len", params_.seq_len, "Query rows (at most kv_seq_len)");
    kv_seq_len_ = add("--kv_seq_len", params_.kv_seq_len,
                      "Valid key/value positions (with --in: default the file's kv_capacity)");
    scale_ = command.add_option("--scale", params_.scale,
                                "Applied to each dot product (default: 1/sqrt(head_dim))");
    options_[5] = add("--kv_capacity", params_.kv_capacity,
                      "Positions allocated per K/V head (0: kv_seq_len)");
    dtype_ = add("--dtype", dtype_name_, "f32 (sdpa) or bf16 (sdpa_bf16)")
                 ->check(CLI::IsMember({"f32", "bf16"}));
  }

 private:
  // `p` with the options' defaults that depend on other parameters: kv_capacity 0 is kv_seq_len
  // (a file's K always gives one), no --scale is 1/sqrt(head_dim).
  SdpaParams Resolved(SdpaParams p) const {
    if (p.kv_capacity == 0) p.kv_capacity = p.kv_seq_len;
    if (scale_->count() == 0) p.scale = DefaultScale(p.head_dim);
    return p;
  }

  DType OptionDType() const { return dtype_name_ == "bf16" ? DType::kBF16 : DType::kF32; }

  // Q, K and V of N(0, 1) values, drawn in that order.
  void RandomInputs(Job& job, const SdpaParams& params, uint64_t seed) const override {
    const SdpaParams p = Resolved(params);
    const DType dtype = OptionDType();
    const std::vector<uint64_t> kv_shape{p.batch, p.n_kv_heads, p.kv_capacity, p.head_dim};
    job.inputs = Tensors{{"Q", Shaped(dtype, {p.batch, p.n_heads, p.seq_len, p.head_dim})},
                         {"K", Shaped(dtype, kv_shape)},
                         {"V", Shaped(dtype, kv_shape)}};
    job.draw = [seed](Tensors& inputs) {
      Random random(seed);
      for (const char* name : {"Q", "K", "V"}) {
        Tensor& t = inputs.at(name);
        if (t.dtype == DType::kBF16) {
          bf16* data = t.as<bf16>();
          for (uint64_t i = 0; i < t.count(); ++i) data[i] = BF16FromF32(random.Normal());
        } else {
          float* data = t.as<float>();
          for (uint64_t i = 0; i < t.count(); ++i) data[i] = random.Normal();
        }
      }
    };
  }

  // The file's Q, K and V, of Q's dtype (an explicit --dtype must agree); `p` takes their dims.
  Tensors FileInputs(FileShape& dims, SdpaParams& p) const override {
    DType dtype = OptionDType();
    if (const auto q = dims.DTypeOf("Q"); q && dtype_->count() == 0) dtype = *q;
    const std::vector<std::string> q_dims{"batch", "n_heads", "seq_len", "head_dim"};
    const std::vector<std::string> kv_dims{"batch", "n_kv_heads", "kv_capacity", "head_dim"};
    Tensors inputs{{"Q", dims.Bind("Q", dtype, q_dims)},
                   {"K", dims.Bind("K", dtype, kv_dims)},
                   {"V", dims.Bind("V", dtype, kv_dims)}};
    if (dims.Has("O")) dims.BindShape("O", q_dims);
    p.batch = dims.Take("batch", options_[0], params_.batch);
    p.n_heads = dims.Take("n_heads", options_[1], params_.n_heads);
    p.n_kv_heads = dims.Take("n_kv_heads", options_[2], params_.n_kv_heads);
    p.head_dim = dims.Take("head_dim", options_[3], params_.head_dim);
    p.seq_len = dims.Take("seq_len", options_[4], params_.seq_len);
    p.kv_capacity = dims.Take("kv_capacity", options_[5], params_.kv_capacity);
    if (kv_seq_len_->count() == 0) p.kv_seq_len = p.kv_capacity;
    return inputs;
  }

  // The inputs' dtype picks the kernel: sdpa_bf16 for bf16, else sdpa.
  void Declare(const SdpaParams& params, Job& job, RunResult& result) const override {
    const SdpaParams p = Resolved(params);
    const DType dtype = job.inputs.at("Q").dtype;
    result.shape = ShapeText(p);
    result.work = SdpaFlops(p);
    result.roof = perf::Roof::kMulAdd;
    result.notes.emplace_back("kernel", dtype == DType::kBF16 ? "sdpa_bf16" : "sdpa");
    result.params = {{"kv_seq_len", std::to_string(p.kv_seq_len)}, {"scale", FloatText(p.scale)}};
    job.outputs = Tensors{{"O", Shaped(dtype, job.inputs.at("Q").shape)}};
    job.record = [p](Queue& queue, const Views& v) {
      Sdpa(queue, p, v.at("Q"), v.at("K"), v.at("V"), v.at("O"));
    };
  }

  std::string dtype_name_ = "f32";
  // batch, n_heads, n_kv_heads, head_dim, seq_len, kv_capacity
  std::array<const CLI::Option*, 6> options_{};
  const CLI::Option* kv_seq_len_ = nullptr;
  const CLI::Option* scale_ = nullptr;
  const CLI::Option* dtype_ = nullptr;
};

}  // namespace

std::unique_ptr<KernelCommand> MakeSdpaCommand() { return std::make_unique<SdpaCommand>(); }

}  // namespace tgk::tool
