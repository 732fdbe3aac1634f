// `tgk run tq-encode` and `tgk run tq-dequant`: the TurboQuant KV cache (docs/spec/tq_kv.md).
// The cache of num_kv_heads heads × cache_capacity rows of head_dim indices is packed u8
// [num_kv_heads, cache_capacity, head_dim/2] at 4 bits (two per byte), [.., head_dim] at 5, 6
// and 8 bits, with norms f32 [num_kv_heads, cache_capacity, norms_per_pos], norms_per_pos =
// max(1, head_dim/256).
//
// tq-encode writes n_tokens tokens of src f32 [n_tokens, num_kv_heads, head_dim] into rows
// write_pos_start.. of a zeroed cache with one dispatch of a sequence encoder:
// hadamard_quantize_kv_seq at 4 bits, tgk's hadamard_quantize_kv_hb_seq at 5/6/8 bits (n_tokens
// hadamard_quantize_kv_hb dispatches bit for bit). Random src is uniform with unit
// variance: cheaper than normal draws for the 67 M values of the default shape, and the
// encoder's rotation makes the coordinates it quantises near-normal anyway.
//
// tq-dequant reads rows start_pos .. start_pos + n_tokens − 1 into dst f32 [num_kv_heads,
// n_tokens, head_dim] with tq_dequantize_hb_kv_seq or, at 4 bits, tgk's tq_dequantize_kv_seq
// (--seq, the default for 5/6/8 bits), or row read_pos into dst f32 [num_kv_heads, head_dim]
// with tq_dequantize_hb_kv (--no-seq, the default at 4 bits) or, at 4 bits, tq_dequantize_kv.
// Random caches are random indices (every byte a valid one: the upper bits of a 5- or 6-bit index
// are 0) with positive norms near those of an N(0, 1) vector (√D for the L2 norm of D <= 256, 1 for
// the per-block RMS of D > 256, ±25 %): any head_dim the dequantisers take works, where an encoded
// cache would need head_dim 256 or 512 at 5/6/8 bits.
//
// With --in, the file's tensors give the dimensions they hold (src, packed and norms for
// tq-encode; packed, norms and dst for tq-dequant); the positions, a dequantiser's n_tokens
// without a dst (default: to the end of the cache), the bits and the flags come from the
// options. A cache_capacity of 0 means just enough rows for the tokens.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernel_command.h"
#include "tgk/error.h"
#include "tgk/kernels/tq_kv.h"

namespace tgk::tool {
namespace {

uint32_t NormsPerPos(uint32_t head_dim) { return std::max<uint32_t>(1, head_dim / 256); }

// The last dim of packed: its symbol and size.
std::string RowSymbol(uint32_t bits) { return bits == 4 ? "head_dim/2" : "head_dim"; }
uint64_t RowBytes(uint32_t bits, uint32_t head_dim) { return bits == 4 ? head_dim / 2 : head_dim; }

// cache_capacity 0: `rows` (a first position plus a count, which must fit the kernels' u32).
uint32_t Capacity(uint32_t capacity, uint64_t rows) {
  if (capacity != 0) return capacity;
  if (rows > UINT32_MAX) {
    ThrowInvalidArgument("--cache_capacity 0 would be " + std::to_string(rows) +
                         " rows, which does not fit 32 bits");
  }
  return uint32_t(rows);
}

// The cache's dims and the rows a run touches (" n_tokens=4 start_pos=2"), then whatever differs
// from the usual call: a capacity other than the `rows_end` rows the tokens need, sf != 1.
std::string ShapeText(uint32_t heads, uint32_t head_dim, uint32_t capacity, const std::string& rows,
                      uint64_t rows_end, float sf) {
  std::string text =
      "num_kv_heads=" + std::to_string(heads) + " head_dim=" + std::to_string(head_dim) + rows;
  if (capacity != rows_end) text += " cache_capacity=" + std::to_string(capacity);
  if (sf != 1.0f) {
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, " scale_factor_d512=%g", sf);
    text += buffer;
  }
  return text;
}

// " n_tokens=4", and " NAME=FIRST" unless FIRST is 0.
std::string TokensText(uint32_t n_tokens, const char* first_name, uint32_t first) {
  return " n_tokens=" + std::to_string(n_tokens) +
         (first == 0 ? "" : " " + std::string(first_name) + "=" + std::to_string(first));
}

std::string BitsText(uint32_t bits) { return ", " + std::to_string(bits) + "-bit codebook"; }

// ---- tq-encode --------------------------------------------------------------------------------

class TqEncodeCommand final : public KernelCommand {
 public:
  std::string name() const override { return "tq-encode"; }
  std::string description() const override {
    return "hadamard_quantize_kv_seq / _hb_seq: encode tokens into the TurboQuant KV cache (src "
           "f32 "
           "[n_tokens,num_kv_heads,head_dim] -> packed u8, norms f32)";
  }
  std::vector<std::string> BenchVariants() const override { return {"--bits 4", "--bits 8"}; }

  void AddOptions(CLI::App& command) override {
    const auto add = [&](const char* name, auto& value, const char* help) {
      return command.add_option(name, value, help)->capture_default_str();
    };
    options_[0] = add("--num_kv_heads", heads_, "KV heads");
    options_[1] =
        add("--head_dim", head_dim_, "Head dimension (a power of two; 256 or 512 above 4 bits)");
    options_[3] =
        add("--cache_capacity", capacity_, "Rows per head (0: write_pos_start + n_tokens)");
    add("--write_pos_start", write_pos_, "Row of the first token");
    options_[2] = add("--n_tokens", n_tokens_, "Tokens to encode");
    command.add_flag("--is_sliding", sliding_, "Sliding cache: token rows wrap at cache_capacity");
    add("--scale_factor_d512", sf_, "head_dim 512: the normalised values' scale");
    add("--bits", bits_, "Codebook bits: 4 (nibbles), 5, 6 or 8 (bytes)")
        ->check(CLI::IsMember({4, 5, 6, 8}));
  }

  RunResult Run(const RunOptions& options) override {
    RunResult result;
    uint32_t heads = heads_, head_dim = head_dim_, n_tokens = n_tokens_;
    const std::optional<TensorFile> file = OpenInput(*this, options, result);
    Job job;
    uint32_t capacity = 0;
    if (!file) {
      capacity = Capacity(capacity_, uint64_t{write_pos_} + n_tokens);
      job.inputs = Tensors{{"src", Shaped(DType::kF32, {n_tokens, heads, head_dim})}};
      job.draw = [seed = options.seed](Tensors& inputs) {
        Random random(seed);
        Tensor& src = inputs.at("src");
        float* data = src.as<float>();
        const float sqrt3 = 1.7320508f;
        for (uint64_t i = 0; i < src.count(); ++i) data[i] = sqrt3 * (2 * random.Uniform() - 1);
      };
    } else {
      FileShape dims(*file, options);
      job.inputs.emplace("src",
                         dims.Bind("src", DType::kF32, {"n_tokens", "num_kv_heads", "head_dim"}));
      n_tokens = dims.Take("n_tokens", options_[2], n_tokens_);
      heads = dims.Take("num_kv_heads", options_[0], heads_);
      head_dim = dims.Take("head_dim", options_[1], head_dim_);
      dims.Set("head_dim/2", head_dim / 2, "head_dim");
      dims.Set("norms_per_pos", NormsPerPos(head_dim), "head_dim");
      bool bound = false;
      if (dims.Has("packed")) {
        dims.BindShape("packed", {"num_kv_heads", "cache_capacity", RowSymbol(bits_)});
        bound = true;
      }
      if (dims.Has("norms")) {
        dims.BindShape("norms", {"num_kv_heads", "cache_capacity", "norms_per_pos"});
        bound = true;
      }
      capacity = bound ? dims.Take("cache_capacity", options_[3], capacity_)
                       : Capacity(capacity_, uint64_t{write_pos_} + n_tokens);
    }
    result.shape =
        ShapeText(heads, head_dim, capacity, TokensText(n_tokens, "write_pos_start", write_pos_),
                  uint64_t{write_pos_} + n_tokens, sf_) +
        (sliding_ ? " is_sliding" : "");
    result.roof = perf::Roof::kCopy;
    result.params = {{"bits", std::to_string(bits_)},
                     {"write_pos_start", std::to_string(write_pos_)},
                     {"is_sliding", sliding_ ? "true" : "false"},
                     {"scale_factor_d512", FloatText(sf_)}};

    job.outputs =
        Tensors{{"packed", Shaped(DType::kU8, {heads, capacity, RowBytes(bits_, head_dim)})},
                {"norms", Shaped(DType::kF32, {heads, capacity, NormsPerPos(head_dim)})}};
    if (bits_ == 4) {
      const HadamardQuantizeKvSeqParams p{.num_kv_heads = heads,
                                          .head_dim = head_dim,
                                          .cache_capacity = capacity,
                                          .write_pos_start = write_pos_,
                                          .n_tokens = n_tokens,
                                          .is_sliding = sliding_,
                                          .scale_factor_d512 = sf_};
      result.work = double(HadamardQuantizeKvSeqBytes(p));
      result.notes.emplace_back("kernel", "hadamard_quantize_kv_seq" + BitsText(bits_));
      job.record = [p](Queue& queue, const Views& v) {
        HadamardQuantizeKvSeq(queue, p, v.at("src"), v.at("packed"), v.at("norms"));
      };
    } else {
      const HadamardQuantizeKvHbSeqParams p{.num_kv_heads = heads,
                                            .head_dim = head_dim,
                                            .cache_capacity = capacity,
                                            .write_pos_start = write_pos_,
                                            .n_tokens = n_tokens,
                                            .is_sliding = sliding_,
                                            .scale_factor_d512 = sf_,
                                            .codebook_bits = bits_};
      result.work = double(HadamardQuantizeKvHbSeqBytes(p));
      result.notes.emplace_back("kernel", "hadamard_quantize_kv_hb_seq" + BitsText(bits_));
      job.record = [p](Queue& queue, const Views& v) {
        HadamardQuantizeKvHbSeq(queue, p, v.at("src"), v.at("packed"), v.at("norms"));
      };
    }
    Measure(options, file, job, result);
    return result;
  }

 private:
  uint32_t heads_ = 8, head_dim_ = 256, n_tokens_ = 32768, capacity_ = 0, write_pos_ = 0;
  uint32_t bits_ = 4;
  bool sliding_ = false;
  float sf_ = 1.0f;
  // num_kv_heads, head_dim, n_tokens, cache_capacity
  std::array<const CLI::Option*, 4> options_{};
};

// ---- tq-dequant -------------------------------------------------------------------------------

class TqDequantCommand final : public KernelCommand {
 public:
  std::string name() const override { return "tq-dequant"; }
  std::string description() const override {
    return "tq_dequantize_hb_kv_seq / _hb_kv / _kv / _kv_seq: decode rows of the TurboQuant KV "
           "cache (packed u8, norms f32 -> dst f32, rotated domain)";
  }
  std::vector<std::string> BenchVariants() const override {
    return {"--bits 8 --seq", "--bits 4 --seq"};
  }

  void AddOptions(CLI::App& command) override {
    const auto add = [&](const char* name, auto& value, const char* help) {
      return command.add_option(name, value, help)->capture_default_str();
    };
    options_[0] = add("--num_kv_heads", heads_, "KV heads");
    options_[1] = add("--head_dim", head_dim_, "Head dimension");
    options_[2] = add("--cache_capacity", capacity_,
                      "Rows per head (0: start_pos + n_tokens with --seq, else read_pos + 1)");
    read_pos_option_ = add("--read_pos", read_pos_, "--no-seq: the row");
    start_pos_option_ = add("--start_pos", start_pos_, "--seq: the first row");
    options_[3] = add("--n_tokens", n_tokens_,
                      "--seq: rows to decode (with --in and no dst: to the end of the cache)");
    add("--scale_factor_d512", sf_, "head_dim > 256: the decoder divides the norms by it");
    add("--bits", bits_, "Codebook bits: 4 (nibbles), 5, 6 or 8 (bytes)")
        ->check(CLI::IsMember({4, 5, 6, 8}));
    seq_option_ = command.add_flag(
        "--seq,!--no-seq", seq_,
        "Rows start_pos.. with tq_dequantize_hb_kv_seq or, at 4 bits, tq_dequantize_kv_seq "
        "(the default at 5, 6 and 8 bits), or (--no-seq, the default at 4 bits) row read_pos");
  }

  RunResult Run(const RunOptions& options) override {
    // At 4 bits the port's dequantiser decodes one position: --seq (tgk's) is asked for there.
    const bool seq = seq_option_->count() > 0 ? seq_ : bits_ != 4;
    const auto unused = seq ? std::vector{read_pos_option_}
                            : std::vector{start_pos_option_, options_[3]};  // n_tokens
    for (const CLI::Option* option : unused) {
      if (option->count() == 0) continue;
      ThrowInvalidArgument("tq-dequant: " + option->get_name() +
                           (seq ? " is the row of the one-position dequantisers (--no-seq)"
                                : " belongs to the sequence dequantiser (--seq)"));
    }
    RunResult result;
    uint32_t heads = heads_, head_dim = head_dim_, n_tokens = n_tokens_, capacity = 0;
    const std::optional<TensorFile> file = OpenInput(*this, options, result);
    Job job;
    if (!file) {
      capacity =
          Capacity(capacity_, seq ? uint64_t{start_pos_} + n_tokens : uint64_t{read_pos_} + 1);
      RandomCache(job, heads, head_dim, capacity, options.seed);
    } else {
      job.inputs = FileInputs(*file, options, seq, heads, head_dim, capacity, n_tokens);
    }
    result.shape =
        seq ? ShapeText(heads, head_dim, capacity, TokensText(n_tokens, "start_pos", start_pos_),
                        uint64_t{start_pos_} + n_tokens, sf_)
            : ShapeText(heads, head_dim, capacity, " read_pos=" + std::to_string(read_pos_),
                        uint64_t{read_pos_} + 1, sf_);
    result.roof = perf::Roof::kCopy;
    result.params = {{"bits", std::to_string(bits_)},
                     {"seq", seq ? "true" : "false"},
                     {seq ? "start_pos" : "read_pos", std::to_string(seq ? start_pos_ : read_pos_)},
                     {"scale_factor_d512", FloatText(sf_)}};

    // The entry point's params, dst shape, byte count and dispatch; the branches differ in
    // nothing else.
    const auto use = [&](const auto& p, std::vector<uint64_t> dst_shape, uint64_t bytes,
                         const char* kernel, auto entry) {
      job.outputs.emplace("dst", Shaped(DType::kF32, std::move(dst_shape)));
      result.work = double(bytes);
      result.notes.emplace_back("kernel", kernel + BitsText(bits_));
      job.record = [p, entry](Queue& queue, const Views& v) {
        entry(queue, p, v.at("packed"), v.at("norms"), v.at("dst"));
      };
    };
    if (seq && bits_ == 4) {
      const TqDequantizeKvSeqParams p{.num_kv_heads = heads,
                                      .head_dim = head_dim,
                                      .cache_capacity = capacity,
                                      .start_pos = start_pos_,
                                      .n_tokens = n_tokens,
                                      .scale_factor_d512 = sf_};
      use(p, {heads, n_tokens, head_dim}, TqDequantizeKvSeqBytes(p), "tq_dequantize_kv_seq",
          &TqDequantizeKvSeq);
    } else if (seq) {
      const TqDequantizeHbKvSeqParams p{.num_kv_heads = heads,
                                        .head_dim = head_dim,
                                        .cache_capacity = capacity,
                                        .start_pos = start_pos_,
                                        .n_tokens = n_tokens,
                                        .scale_factor_d512 = sf_,
                                        .codebook_bits = bits_};
      use(p, {heads, n_tokens, head_dim}, TqDequantizeHbKvSeqBytes(p), "tq_dequantize_hb_kv_seq",
          &TqDequantizeHbKvSeq);
    } else if (bits_ == 4) {
      const TqDequantizeKvParams p{.num_kv_heads = heads,
                                   .head_dim = head_dim,
                                   .cache_capacity = capacity,
                                   .read_pos = read_pos_,
                                   .scale_factor_d512 = sf_};
      use(p, {heads, head_dim}, TqDequantizeKvBytes(p), "tq_dequantize_kv", &TqDequantizeKv);
    } else {
      const TqDequantizeHbKvParams p{.num_kv_heads = heads,
                                     .head_dim = head_dim,
                                     .cache_capacity = capacity,
                                     .read_pos = read_pos_,
                                     .scale_factor_d512 = sf_,
                                     .codebook_bits = bits_};
      use(p, {heads, head_dim}, TqDequantizeHbKvBytes(p), "tq_dequantize_hb_kv", &TqDequantizeHbKv);
    }
    Measure(options, file, job, result);
    return result;
  }

 private:
  void RandomCache(Job& job, uint32_t heads, uint32_t head_dim, uint32_t capacity,
                   uint64_t seed) const {
    job.inputs =
        Tensors{{"packed", Shaped(DType::kU8, {heads, capacity, RowBytes(bits_, head_dim)})},
                {"norms", Shaped(DType::kF32, {heads, capacity, NormsPerPos(head_dim)})}};
    // Two 4-bit indices per byte, else one index in the low bits.
    const uint8_t mask = bits_ == 4 ? 0xFF : uint8_t((1u << bits_) - 1);
    const float typical = head_dim <= 256 ? std::sqrt(float(head_dim)) : 1.0f;
    job.draw = [mask, typical, seed](Tensors& inputs) {
      Random random(seed);
      Tensor& packed = inputs.at("packed");
      uint8_t* bytes = packed.as<uint8_t>();
      uint64_t bits = 0;
      for (uint64_t i = 0; i < packed.count(); ++i, bits >>= 8) {
        if (i % 8 == 0) bits = random.Bits();
        bytes[i] = uint8_t(bits) & mask;
      }
      Tensor& norms = inputs.at("norms");
      float* n = norms.as<float>();
      for (uint64_t i = 0; i < norms.count(); ++i) {
        n[i] = typical * (0.75f + 0.5f * random.Uniform());
      }
    };
  }

  // The file's packed and norms; the dims they (and a dst, which must be shaped like the
  // output) hold.
  Tensors FileInputs(const TensorFile& file, const RunOptions& options, bool seq, uint32_t& heads,
                     uint32_t& head_dim, uint32_t& capacity, uint32_t& n_tokens) const {
    FileShape dims(file, options);
    Tensors inputs{{"packed", dims.Bind("packed", DType::kU8,
                                        {"num_kv_heads", "cache_capacity", RowSymbol(bits_)})}};
    if (bits_ == 4) {
      dims.Set("head_dim", 2 * uint64_t{dims.Take("head_dim/2", nullptr, 0)},
               "tensor 'packed' (2 head_dim/2 at 4 bits)");
    }
    head_dim = dims.Take("head_dim", options_[1], head_dim_);
    dims.Set("norms_per_pos", NormsPerPos(head_dim), "head_dim");
    inputs.emplace("norms", dims.Bind("norms", DType::kF32,
                                      {"num_kv_heads", "cache_capacity", "norms_per_pos"}));
    heads = dims.Take("num_kv_heads", options_[0], heads_);
    capacity = dims.Take("cache_capacity", options_[2], capacity_);
    if (dims.Has("dst")) {
      if (seq) {
        dims.BindShape("dst", {"num_kv_heads", "n_tokens", "head_dim"});
        n_tokens = dims.Take("n_tokens", options_[3], n_tokens_);
      } else {
        dims.BindShape("dst", {"num_kv_heads", "head_dim"});
      }
    } else if (seq && options_[3]->count() == 0) {
      n_tokens = capacity > start_pos_ ? capacity - start_pos_ : 0;
    }
    return inputs;
  }

  uint32_t heads_ = 8, head_dim_ = 256, capacity_ = 0, n_tokens_ = 32768;
  uint32_t start_pos_ = 0, read_pos_ = 0, bits_ = 8;
  bool seq_ = true;
  float sf_ = 1.0f;
  // num_kv_heads, head_dim, cache_capacity, n_tokens
  std::array<const CLI::Option*, 4> options_{};
  const CLI::Option* start_pos_option_ = nullptr;
  const CLI::Option* read_pos_option_ = nullptr;
  const CLI::Option* seq_option_ = nullptr;
};

}  // namespace

std::unique_ptr<KernelCommand> MakeTqEncodeCommand() { return std::make_unique<TqEncodeCommand>(); }
std::unique_ptr<KernelCommand> MakeTqDequantCommand() {
  return std::make_unique<TqDequantCommand>();
}

}  // namespace tgk::tool
