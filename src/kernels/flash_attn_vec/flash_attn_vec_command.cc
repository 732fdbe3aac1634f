// `tgk run flash-attn-vec`: flash_attn_vec_peer_port_f16 (docs/spec/flash_attn_vec.md),
// single-query decode attention over an f16 K/V cache, with one workgroup per head (--nwg 1) or
// the KV range split 32 ways and reduced (--nwg 32). Inputs Q f32 [num_heads, head_dim], K and
// V f16 [num_kv_heads, kv_capacity, head_dim]; output out f32 [num_heads, head_dim]. The NWG = 32
// partials buffer is scratch, not an output.
//
// Random inputs are uniform on [-1, 1): Q of 24 random bits, K and V of 16 (then rounded to
// f16), four from each draw, since at the default shape they hold 134 M values each, where
// normal draws would take seconds. With --in, the file's Q and K give every dimension; the other
// parameters come from their options as with random inputs, except that kv_seq_len defaults to the
// file's kv_capacity.
#include <CLI/CLI.hpp>
#include <array>
#include <cmath>
#include <cstdio>

#include "kernel_command.h"
#include "tgk/convert.h"
#include "tgk/kernels/flash_attn_vec.h"

namespace tgk::tool {
namespace {

// The dimensions, then whatever differs from the usual call (capacity = length, 1/sqrt(head_dim),
// the causal mask, no ring).
std::string ShapeText(const FlashAttnVecParams& p, int nwg) {
  std::string text = "num_heads=" + std::to_string(p.num_heads) +
                     " num_kv_heads=" + std::to_string(p.num_kv_heads) +
                     " head_dim=" + std::to_string(p.head_dim) +
                     " kv_seq_len=" + std::to_string(p.kv_seq_len);
  if (p.kv_capacity != p.kv_seq_len) text += " kv_capacity=" + std::to_string(p.kv_capacity);
  if (p.scale != DefaultScale(p.head_dim)) {
    char scale[32];
    std::snprintf(scale, sizeof scale, " scale=%g", p.scale);
    text += scale;
  }
  if (p.mask_type != 1) text += " mask_type=" + std::to_string(p.mask_type);
  if (p.sliding_window != 0) text += " sliding_window=" + std::to_string(p.sliding_window);
  if (p.ring_start != 0) text += " ring_start=" + std::to_string(p.ring_start);
  return text + " NWG=" + std::to_string(nwg);
}

class FlashAttnVecCommand final : public ShapedCommand<FlashAttnVecParams> {
 public:
  FlashAttnVecCommand()
      : ShapedCommand({.num_heads = 16,
                       .num_kv_heads = 8,
                       .head_dim = 256,
                       .kv_seq_len = 32768,
                       .kv_capacity = 0,
                       .scale = 0.0f,
                       .mask_type = 1,
                       .sliding_window = 0,
                       .ring_start = 0}) {}
  std::string name() const override { return "flash-attn-vec"; }
  std::string description() const override {
    return "flash_attn_vec_peer_port_f16: single-query attention over an f16 KV cache (Q f32 "
           "[num_heads,head_dim], K, V f16 [num_kv_heads,kv_capacity,head_dim] -> out f32 "
           "[num_heads,head_dim])";
  }
  std::vector<std::string> BenchVariants() const override { return {"--nwg 1", "--nwg 32"}; }

  void AddOptions(CLI::App& command) override {
    const auto add = [&](const char* name, auto& value, const char* help) {
      return command.add_option(name, value, help)->capture_default_str();
    };
    // In the spec's parameter order.
    options_[0] = add("--num_heads", params_.num_heads, "Query heads (a multiple of num_kv_heads)");
    options_[1] = add("--num_kv_heads", params_.num_kv_heads, "Key/value heads");
    options_[2] = add("--head_dim", params_.head_dim, "Head dimension (128, 256 or 512)");
    kv_seq_len_ = add("--kv_seq_len", params_.kv_seq_len,
                      "Positions attended to (with --in: default the file's kv_capacity)");
    options_[3] =
        add("--kv_capacity", params_.kv_capacity, "Rows per kv head in K and V (0: kv_seq_len)");
    scale_ = command.add_option("--scale", params_.scale,
                                "Applied to each dot product (default: 1/sqrt(head_dim))");
    add("--mask_type", params_.mask_type, "0 none, 1 causal, 2 sliding window");
    add("--sliding_window", params_.sliding_window, "Newest positions visible with mask_type 2");
    add("--ring_start", params_.ring_start, "Physical slot of logical position 0");
    add("--nwg", nwg_, "Workgroups per head: 1, or 32 (split and reduce)")
        ->check(CLI::IsMember({1, 32}));
  }

 private:
  // `p` with the options' defaults that depend on other parameters: kv_capacity 0 is kv_seq_len
  // (a file's K always gives one), no --scale is 1/sqrt(head_dim).
  FlashAttnVecParams Resolved(FlashAttnVecParams p) const {
    if (p.kv_capacity == 0) p.kv_capacity = p.kv_seq_len;
    if (scale_->count() == 0) p.scale = DefaultScale(p.head_dim);
    return p;
  }

  void RandomInputs(Job& job, const FlashAttnVecParams& params, uint64_t seed) const override {
    const FlashAttnVecParams p = Resolved(params);
    const std::vector<uint64_t> kv_shape{p.num_kv_heads, p.kv_capacity, p.head_dim};
    job.inputs = Tensors{{"Q", Shaped(DType::kF32, {p.num_heads, p.head_dim})},
                         {"K", Shaped(DType::kF16, kv_shape)},
                         {"V", Shaped(DType::kF16, kv_shape)}};
    job.draw = [seed](Tensors& inputs) {
      Random random(seed);
      Tensor& q = inputs.at("Q");
      float* q_data = q.as<float>();
      for (uint64_t i = 0; i < q.count(); ++i) q_data[i] = 2 * random.Uniform() - 1;
      for (const char* name : {"K", "V"}) {
        Tensor& t = inputs.at(name);
        f16* data = t.as<f16>();
        uint64_t bits = 0;
        for (uint64_t i = 0; i < t.count(); ++i, bits >>= 16) {
          if (i % 4 == 0) bits = random.Bits();
          data[i] = F16FromF32(float(int16_t(uint16_t(bits))) * 0x1p-15f);
        }
      }
    };
  }

  // The file's Q, K and V; `p` takes their dims.
  Tensors FileInputs(FileShape& dims, FlashAttnVecParams& p) const override {
    const std::vector<std::string> kv_dims{"num_kv_heads", "kv_capacity", "head_dim"};
    Tensors inputs{{"Q", dims.Bind("Q", DType::kF32, {"num_heads", "head_dim"})},
                   {"K", dims.Bind("K", DType::kF16, kv_dims)},
                   {"V", dims.Bind("V", DType::kF16, kv_dims)}};
    if (dims.Has("out")) dims.BindShape("out", {"num_heads", "head_dim"});
    p.num_heads = dims.Take("num_heads", options_[0], params_.num_heads);
    p.num_kv_heads = dims.Take("num_kv_heads", options_[1], params_.num_kv_heads);
    p.head_dim = dims.Take("head_dim", options_[2], params_.head_dim);
    p.kv_capacity = dims.Take("kv_capacity", options_[3], params_.kv_capacity);
    if (kv_seq_len_->count() == 0) p.kv_seq_len = p.kv_capacity;
    return inputs;
  }

  // The NWG = 32 partials buffer is scratch.
  void Declare(const FlashAttnVecParams& params, Job& job, RunResult& result) const override {
    const FlashAttnVecParams p = Resolved(params);
    result.shape = ShapeText(p, nwg_);
    result.work = double(FlashAttnVecBytes(p));
    result.roof = perf::Roof::kRead;
    result.params = {{"nwg", std::to_string(nwg_)},
                     {"kv_seq_len", std::to_string(p.kv_seq_len)},
                     {"scale", FloatText(p.scale)},
                     {"mask_type", std::to_string(p.mask_type)},
                     {"sliding_window", std::to_string(p.sliding_window)},
                     {"ring_start", std::to_string(p.ring_start)}};
    job.outputs = Tensors{{"out", Shaped(DType::kF32, {p.num_heads, p.head_dim})}};
    if (nwg_ == 32) {
      job.scratch.emplace(
          "tmp", Shaped(DType::kF32,
                        {FlashAttnVecNwg32TmpBytes(p.num_heads, p.head_dim) / sizeof(float)}));
    }
    job.record = [p, nwg = nwg_](Queue& queue, const Views& v) {
      if (nwg == 1) {
        FlashAttnVecF16(queue, p, v.at("Q"), v.at("K"), v.at("V"), v.at("out"));
      } else {
        FlashAttnVecF16Nwg32(queue, p, v.at("Q"), v.at("K"), v.at("V"), v.at("tmp"), v.at("out"));
      }
    };
  }

  int nwg_ = 1;
  std::array<const CLI::Option*, 4> options_{};  // num_heads, num_kv_heads, head_dim, kv_capacity
  const CLI::Option* kv_seq_len_ = nullptr;
  const CLI::Option* scale_ = nullptr;
};

}  // namespace

std::unique_ptr<KernelCommand> MakeFlashAttnVecCommand() {
  return std::make_unique<FlashAttnVecCommand>();
}

}  // namespace tgk::tool
