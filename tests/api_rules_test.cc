// The README's "Buffers and validation" rules, checked on every host entry point from one
// table: exact buffer sizes (and the <Entry>RequiredElements helpers that state them), null
// pointers, aliasing between outputs and every other buffer, non-finite float parameters. A
// rejected call throws InvalidArgument with the documented message and leaves every output
// byte as it was.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "testing/expect_error.h"
#include "tgk/convert.h"
#include "tgk/detail/validate.h"
#include "tgk/dtype.h"
#include "tgk/error.h"
#include "tgk/kernels/kkt.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/view.h"
#ifdef TGK_HAS_sdpa
#include "tgk/kernels/sdpa.h"
#endif
#ifdef TGK_HAS_flash_attn_vec
#include "tgk/kernels/flash_attn_vec.h"
#endif
#ifdef TGK_HAS_tq_kv
#include "tgk/kernels/tq_kv.h"
#endif

namespace tgk {
namespace {

// Views over uint16_t and other non-dtypes do not compile (tests/compile_fail checks the
// message); the trait that decides it:
static_assert(kIsDType<float> && kIsDType<f16> && kIsDType<bf16> && kIsDType<uint8_t> &&
              kIsDType<uint32_t> && kIsDType<int32_t>);
static_assert(!kIsDType<uint16_t> && !kIsDType<double> && !kIsDType<int64_t> &&
              !kIsDType<const float>);
static_assert(DTypeOf<f16>() == DType::kF16 && DTypeOf<bf16>() == DType::kBF16);

constexpr uint8_t kPoison = 0xA5;

struct Arg {
  std::string name;
  DType dtype;
  uint64_t count;  // the shape's exact element count, written out by hand
  bool output;
  std::string too_large;  // the message for a view of count + 1 elements
};

struct Api {
  std::string label;
  std::string prefix;  // of every message
  std::vector<Arg> args;
  std::function<void(Queue&, const std::vector<View>&, float)> call;  // views in args order
  std::vector<uint64_t> required;  // what the entry point's size helper returns, args order
  std::string float_name;          // the float parameter, if any; call's float sets it
  float float_ok = 1.0f;
  std::string float_message;  // before the value's text ("nan", "inf", "-inf")
  bool in_place_allowed = false;
};

std::string Alias(const Api& api, const std::string& first, const std::string& second) {
  return api.prefix + first + " overlaps " + second +
         " (an output may not share memory with another buffer argument)";
}

// Memory for one call: a separate block per argument, 64-byte aligned, inputs zero (valid
// for every kernel), outputs poisoned.
class Buffers {
 public:
  explicit Buffers(const Api& api) : api_(api) {
    for (const Arg& a : api.args) {
      blocks_.emplace_back(Floats(a.count * SizeOf(a.dtype) + 64), 0.0f);
      if (a.output) std::memset(blocks_.back().data(), kPoison, blocks_.back().size() * 4);
    }
  }

  static size_t Floats(uint64_t bytes) { return (bytes + 3) / 4 + 16; }

  View Exact(size_t i) const { return View(Data(i), api_.args[i].count, api_.args[i].dtype); }
  std::vector<View> Views() const {
    std::vector<View> views;
    for (size_t i = 0; i < api_.args.size(); ++i) views.push_back(Exact(i));
    return views;
  }
  void* Data(size_t i) const { return const_cast<float*>(blocks_[i].data()); }

  // Every output block's bytes.
  std::vector<uint8_t> Outputs() const {
    std::vector<uint8_t> all;
    for (size_t i = 0; i < api_.args.size(); ++i) {
      if (!api_.args[i].output) continue;
      const auto* p = reinterpret_cast<const uint8_t*>(blocks_[i].data());
      all.insert(all.end(), p, p + blocks_[i].size() * 4);
    }
    return all;
  }

 private:
  const Api& api_;
  std::vector<std::vector<float>> blocks_;
};

// Expects `views` to be rejected with `message`, recording nothing: every output block keeps
// its bytes through the queue's commit. `extra` is memory outside the blocks that some views
// point into; it must keep its bytes too.
void ExpectRejected(const Api& api, const Buffers& buffers, const std::vector<View>& views,
                    float value, const std::string& message,
                    const std::vector<float>* extra = nullptr) {
  SCOPED_TRACE(api.label + ": " + message);
  const std::vector<uint8_t> before = buffers.Outputs();
  const std::vector<float> extra_before = extra ? *extra : std::vector<float>();
  Queue queue(QueueOptions{.threads = 2});
  test::ExpectInvalidArgument([&] { api.call(queue, views, value); }, message);
  queue.commit_and_wait();
  EXPECT_EQ(buffers.Outputs(), before);
  if (extra) {
    EXPECT_EQ(std::memcmp(extra->data(), extra_before.data(), extra->size() * 4), 0);
  }
}

ConstView In(const View& v) { return v; }

std::vector<Api> Apis() {
  std::vector<Api> apis;
  {
    const KktShape s{.B = 1, .T = 70, .Hg = 1, .H = 2, .K = 64};
    const KktElements e = KktRequiredElements(s);
    const std::string P = "gated_delta_net_kkt: ";
    apis.push_back(
        Api{.label = "GatedDeltaNetKkt",
            .prefix = P,
            .args = {{"k", DType::kBF16, 4480, false, P + "k must be bf16[4480] (got 4481 bf16)"},
                     {"beta", DType::kF32, 140, false, P + "beta must be f32[140] (got 141 f32)"},
                     {"g", DType::kF32, 140, false, P + "g must be f32[140] (got 141 f32)"},
                     {"A", DType::kF32, 8960, true, P + "A must be f32[8960] (got 8961 f32)"}},
            .call = [s](Queue& q, const std::vector<View>& v,
                        float) { GatedDeltaNetKkt(q, s, In(v[0]), In(v[1]), In(v[2]), v[3]); },
            .required = {e.k, e.beta, e.g, e.A}});
  }
#ifdef TGK_HAS_sdpa
  for (const DType dtype : {DType::kF32, DType::kBF16}) {
    const SdpaParams p{.batch = 1,
                       .n_heads = 2,
                       .n_kv_heads = 1,
                       .head_dim = 8,
                       .seq_len = 2,
                       .kv_seq_len = 3,
                       .scale = 0.5f,
                       .kv_capacity = 4};
    const SdpaElements e = SdpaRequiredElements(p);
    const std::string q_dims = " (batch * n_heads * seq_len * head_dim = 1 * 2 * 2 * 8)";
    const std::string kv_dims = " (batch * n_kv_heads * kv_capacity * head_dim = 1 * 1 * 4 * 8)";
    apis.push_back(Api{
        .label = dtype == DType::kF32 ? "Sdpa f32" : "Sdpa bf16",
        .prefix = "",
        .args = {{"Q", dtype, 32, false, "Q has 33 elements, needs exactly 32" + q_dims},
                 {"K", dtype, 32, false, "K has 33 elements, needs exactly 32" + kv_dims},
                 {"V", dtype, 32, false, "V has 33 elements, needs exactly 32" + kv_dims},
                 {"output", dtype, 32, true, "output has 33 elements, needs exactly 32" + q_dims}},
        .call =
            [p](Queue& q, const std::vector<View>& v, float scale) {
              SdpaParams with = p;
              with.scale = scale;
              Sdpa(q, with, In(v[0]), In(v[1]), In(v[2]), v[3]);
            },
        .required = {e.Q, e.K, e.V, e.out},
        .float_name = "scale",
        .float_ok = 0.5f,
        .float_message = "scale must be finite, got "});
  }
#endif
#ifdef TGK_HAS_flash_attn_vec
  for (const bool nwg32 : {false, true}) {
    const FlashAttnVecParams p{.num_heads = 2,
                               .num_kv_heads = 1,
                               .head_dim = 128,
                               .kv_seq_len = 5,
                               .kv_capacity = 6,
                               .scale = 0.088f};
    const FlashAttnVecElements e = FlashAttnVecRequiredElements(p);
    const std::string P =
        nwg32 ? "flash_attn_vec_peer_port_f16_nwg32: " : "flash_attn_vec_peer_port_f16: ";
    const std::string q_dims = " (num_heads * head_dim = 2 * 128)";
    const std::string kv_dims = " (num_kv_heads * kv_capacity * head_dim = 1 * 6 * 128)";
    Api api{.label = nwg32 ? "FlashAttnVecF16Nwg32" : "FlashAttnVecF16",
            .prefix = P,
            .args = {{"q", DType::kF32, 256, false,
                      P + "q has 257 elements, needs exactly 256" + q_dims},
                     {"k_f16", DType::kF16, 768, false,
                      P + "k_f16 has 769 elements, needs exactly 768" + kv_dims},
                     {"v_f16", DType::kF16, 768, false,
                      P + "v_f16 has 769 elements, needs exactly 768" + kv_dims}},
            .required = {e.q, e.k, e.v},
            .float_name = "scale",
            .float_ok = 0.088f,
            .float_message = P + "scale must be finite, got "};
    if (nwg32) {
      api.args.push_back({"tmp", DType::kF32, 8320, true,
                          P + "tmp has 8321 elements, needs exactly 8320 (num_heads * 32 * "
                              "(head_dim + 2) = 2 * 32 * 130)"});
      api.required.push_back(e.tmp);
    }
    api.args.push_back({"output", DType::kF32, 256, true,
                        P + "output has 257 elements, needs exactly 256" + q_dims});
    api.required.push_back(e.out);
    api.call = [p, nwg32](Queue& q, const std::vector<View>& v, float scale) {
      FlashAttnVecParams with = p;
      with.scale = scale;
      if (nwg32) {
        FlashAttnVecF16Nwg32(q, with, In(v[0]), In(v[1]), In(v[2]), v[3], v[4]);
      } else {
        FlashAttnVecF16(q, with, In(v[0]), In(v[1]), In(v[2]), v[3]);
      }
    };
    apis.push_back(std::move(api));
  }
#endif
#ifdef TGK_HAS_tq_kv
  const auto exactly = [](const std::string& prefix, const std::string& name, uint64_t n) {
    return prefix + name + " has " + std::to_string(n + 1) + " elements, needs exactly " +
           std::to_string(n);
  };
  const auto encoder = [&](std::string label, std::string prefix, TqEncodeElements e,
                           std::vector<uint64_t> counts, auto record) {
    const std::string P = prefix + ": ";
    return Api{.label = std::move(label),
               .prefix = P,
               .args = {{"src", DType::kF32, counts[0], false, exactly(P, "src", counts[0])},
                        {"packed", DType::kU8, counts[1], true, exactly(P, "packed", counts[1])},
                        {"norms", DType::kF32, counts[2], true, exactly(P, "norms", counts[2])}},
               .call = [record](Queue& q, const std::vector<View>& v,
                                float sf) { record(q, In(v[0]), v[1], v[2], sf); },
               .required = {e.src, e.packed, e.norms},
               .float_name = "scale_factor_d512",
               .float_message = P + "scale_factor_d512 must be finite, got "};
  };
  {
    const HadamardQuantizeKvParams p{
        .num_kv_heads = 2, .head_dim = 256, .cache_capacity = 3, .write_pos = 1};
    apis.push_back(encoder("HadamardQuantizeKv", "hadamard_quantize_kv",
                           HadamardQuantizeKvRequiredElements(p), {512, 768, 6},
                           [p](Queue& q, ConstView src, View packed, View norms, float sf) {
                             HadamardQuantizeKvParams with = p;
                             with.scale_factor_d512 = sf;
                             HadamardQuantizeKv(q, with, src, packed, norms);
                           }));
  }
  {
    const HadamardQuantizeKvSeqParams p{.num_kv_heads = 2,
                                        .head_dim = 256,
                                        .cache_capacity = 4,
                                        .write_pos_start = 1,
                                        .n_tokens = 2,
                                        .src_tok_offset = 1};
    apis.push_back(encoder("HadamardQuantizeKvSeq", "hadamard_quantize_kv_seq",
                           HadamardQuantizeKvSeqRequiredElements(p), {1536, 1024, 8},
                           [p](Queue& q, ConstView src, View packed, View norms, float sf) {
                             HadamardQuantizeKvSeqParams with = p;
                             with.scale_factor_d512 = sf;
                             HadamardQuantizeKvSeq(q, with, src, packed, norms);
                           }));
  }
  {
    const HadamardQuantizeKvHbParams p{
        .num_kv_heads = 2, .head_dim = 512, .cache_capacity = 3, .codebook_bits = 6};
    apis.push_back(encoder("HadamardQuantizeKvHb", "hadamard_quantize_kv_hb",
                           HadamardQuantizeKvHbRequiredElements(p), {1024, 3072, 12},
                           [p](Queue& q, ConstView src, View packed, View norms, float sf) {
                             HadamardQuantizeKvHbParams with = p;
                             with.scale_factor_d512 = sf;
                             HadamardQuantizeKvHb(q, with, src, packed, norms);
                           }));
  }
  {
    const HadamardQuantizeKvHbSeqParams p{.num_kv_heads = 2,
                                          .head_dim = 256,
                                          .cache_capacity = 3,
                                          .write_pos_start = 2,
                                          .n_tokens = 4,
                                          .src_tok_offset = 2,
                                          .is_sliding = true,
                                          .codebook_bits = 8};
    apis.push_back(encoder("HadamardQuantizeKvHbSeq", "hadamard_quantize_kv_hb_seq",
                           HadamardQuantizeKvHbSeqRequiredElements(p), {3072, 1536, 6},
                           [p](Queue& q, ConstView src, View packed, View norms, float sf) {
                             HadamardQuantizeKvHbSeqParams with = p;
                             with.scale_factor_d512 = sf;
                             HadamardQuantizeKvHbSeq(q, with, src, packed, norms);
                           }));
  }
  const auto decoder = [&](std::string label, std::string prefix, TqDequantizeElements e,
                           std::vector<uint64_t> counts, std::string float_message, auto record) {
    const std::string P = prefix + ": ";
    return Api{.label = std::move(label),
               .prefix = P,
               .args = {{"packed", DType::kU8, counts[0], false, exactly(P, "packed", counts[0])},
                        {"norms", DType::kF32, counts[1], false, exactly(P, "norms", counts[1])},
                        {"dst", DType::kF32, counts[2], true, exactly(P, "dst", counts[2])}},
               .call = [record](Queue& q, const std::vector<View>& v,
                                float sf) { record(q, In(v[0]), In(v[1]), v[2], sf); },
               .required = {e.packed, e.norms, e.dst},
               .float_name = "scale_factor_d512",
               .float_message = P + float_message};
  };
  {
    const TqDequantizeKvParams p{
        .num_kv_heads = 2, .head_dim = 256, .cache_capacity = 3, .read_pos = 2};
    apis.push_back(decoder("TqDequantizeKv", "tq_dequantize_kv", TqDequantizeKvRequiredElements(p),
                           {768, 6, 512}, "scale_factor_d512 must be finite, got ",
                           [p](Queue& q, ConstView packed, ConstView norms, View dst, float sf) {
                             TqDequantizeKvParams with = p;
                             with.scale_factor_d512 = sf;
                             TqDequantizeKv(q, with, packed, norms, dst);
                           }));
  }
  {
    const TqDequantizeHbKvParams p{
        .num_kv_heads = 1, .head_dim = 512, .cache_capacity = 2, .read_pos = 1, .codebook_bits = 5};
    apis.push_back(decoder("TqDequantizeHbKv", "dispatch_tq_dequantize_hb_kv",
                           TqDequantizeHbKvRequiredElements(p), {1024, 4, 512},
                           "scale_factor_d512 must be finite and non-zero for head_dim 512 > 256 "
                           "(the decoder divides the norms by it), got ",
                           [p](Queue& q, ConstView packed, ConstView norms, View dst, float sf) {
                             TqDequantizeHbKvParams with = p;
                             with.scale_factor_d512 = sf;
                             TqDequantizeHbKv(q, with, packed, norms, dst);
                           }));
  }
  {
    const TqDequantizeHbKvSeqParams p{.num_kv_heads = 2,
                                      .head_dim = 128,
                                      .cache_capacity = 5,
                                      .start_pos = 1,
                                      .n_tokens = 3,
                                      .codebook_bits = 8};
    apis.push_back(decoder("TqDequantizeHbKvSeq", "dispatch_tq_dequantize_hb_kv_seq",
                           TqDequantizeHbKvSeqRequiredElements(p), {1280, 10, 768},
                           "scale_factor_d512 must be finite, got ",
                           [p](Queue& q, ConstView packed, ConstView norms, View dst, float sf) {
                             TqDequantizeHbKvSeqParams with = p;
                             with.scale_factor_d512 = sf;
                             TqDequantizeHbKvSeq(q, with, packed, norms, dst);
                           }));
  }
  {
    const TqInverseRotateParams p{.rows = 3, .head_dim = 64};
    const TqInverseRotateElements e = TqInverseRotateRequiredElements(p);
    const std::string P = "tq_inverse_rotate: ";
    apis.push_back(Api{.label = "TqInverseRotate",
                       .prefix = P,
                       .args = {{"rotated", DType::kF32, 192, false, exactly(P, "rotated", 192)},
                                {"out", DType::kF32, 192, true, exactly(P, "out", 192)}},
                       .call = [p](Queue& q, const std::vector<View>& v,
                                   float) { TqInverseRotate(q, p, In(v[0]), v[1]); },
                       .required = {e.rotated, e.out},
                       .in_place_allowed = true});
  }
#endif
  return apis;
}

TEST(ApiRules, SizeHelpersGiveTheShapesElementCounts) {
  for (const Api& api : Apis()) {
    SCOPED_TRACE(api.label);
    ASSERT_EQ(api.required.size(), api.args.size());
    for (size_t i = 0; i < api.args.size(); ++i) {
      EXPECT_EQ(api.required[i], api.args[i].count) << api.args[i].name;
    }
  }
}

TEST(ApiRules, ExactSizesAreAccepted) {
  for (const Api& api : Apis()) {
    SCOPED_TRACE(api.label);
    const Buffers buffers(api);
    Queue queue(QueueOptions{.threads = 2});
    EXPECT_NO_THROW(api.call(queue, buffers.Views(), api.float_ok));
    queue.commit_and_wait();
  }
}

// One element more than the shape needs is rejected: the buffer-size rule is exact.
TEST(ApiRules, LargerBuffersAreRejected) {
  for (const Api& api : Apis()) {
    for (size_t i = 0; i < api.args.size(); ++i) {
      const Buffers buffers(api);
      std::vector<View> views = buffers.Views();
      views[i] = View(buffers.Data(i), api.args[i].count + 1, api.args[i].dtype);
      ExpectRejected(api, buffers, views, api.float_ok, api.args[i].too_large);
    }
  }
}

TEST(ApiRules, NullDataIsRejected) {
  for (const Api& api : Apis()) {
    for (size_t i = 0; i < api.args.size(); ++i) {
      const Buffers buffers(api);
      std::vector<View> views = buffers.Views();
      views[i] = View(nullptr, api.args[i].count, api.args[i].dtype);
      ExpectRejected(api, buffers, views, api.float_ok,
                     api.prefix + api.args[i].name + " has " + std::to_string(api.args[i].count) +
                         " elements but a null data pointer");
    }
  }
}

// Each output is placed over the last bytes of each other buffer argument (an input or
// another output), in a pool that holds both: rejected, naming the two. Placed right after
// it, they share no byte (half-open ranges) and the call runs.
TEST(ApiRules, OutputsMayNotOverlapOtherBuffers) {
  for (const Api& api : Apis()) {
    for (size_t o = 0; o < api.args.size(); ++o) {
      if (!api.args[o].output) continue;
      for (size_t a = 0; a < api.args.size(); ++a) {
        if (a == o) continue;
        const Arg& out = api.args[o];
        const Arg& other = api.args[a];
        const uint64_t other_bytes = other.count * SizeOf(other.dtype);
        std::vector<float> pool(Buffers::Floats(other_bytes + out.count * SizeOf(out.dtype)), 0.0f);
        auto* base = reinterpret_cast<uint8_t*>(pool.data());
        const Buffers buffers(api);
        std::vector<View> views = buffers.Views();
        views[a] = View(base, other.count, other.dtype);
        // The last 4-byte-aligned position inside `other` (every dtype's alignment).
        const uint64_t inside = (other_bytes - 1) / 4 * 4;
        views[o] = View(base + inside, out.count, out.dtype);
        std::string message;
        if (api.in_place_allowed) {
          message =
              api.prefix + out.name + " overlaps " + other.name + " without being the same buffer";
        } else {
          message = other.output && a < o ? Alias(api, other.name, out.name)
                                          : Alias(api, out.name, other.name);
        }
        if (!other.output) std::memset(base, kPoison, pool.size() * 4);
        ExpectRejected(api, buffers, views, api.float_ok, message, &pool);

        const uint64_t after = (other_bytes + 3) / 4 * 4;
        std::vector<float> adjacent(Buffers::Floats(after + out.count * SizeOf(out.dtype)), 0.0f);
        auto* adjacent_base = reinterpret_cast<uint8_t*>(adjacent.data());
        views[a] = View(adjacent_base, other.count, other.dtype);
        views[o] = View(adjacent_base + after, out.count, out.dtype);
        SCOPED_TRACE(api.label + ": " + out.name + " right after " + other.name);
        Queue queue(QueueOptions{.threads = 2});
        EXPECT_NO_THROW(api.call(queue, views, api.float_ok));
        queue.commit_and_wait();
        if (!other.output) {
          for (uint64_t b = 0; b < other_bytes; ++b) ASSERT_EQ(adjacent_base[b], 0) << b;
        }
      }
    }
  }
}

TEST(ApiRules, NonFiniteFloatParametersAreRejected) {
  for (const Api& api : Apis()) {
    if (api.float_name.empty()) continue;
    const Buffers buffers(api);
    constexpr float kInf = std::numeric_limits<float>::infinity();
    ExpectRejected(api, buffers, buffers.Views(), std::numeric_limits<float>::quiet_NaN(),
                   api.float_message + "nan");
    ExpectRejected(api, buffers, buffers.Views(), kInf, api.float_message + "inf");
    ExpectRejected(api, buffers, buffers.Views(), -kInf, api.float_message + "-inf");
  }
}

// The rule's helpers on the cases the table cannot reach: empty views overlap nothing, and
// ranges are half-open.
TEST(ApiRules, OverlapIsOnHalfOpenByteRanges) {
  float x[8] = {};
  const auto view = [&](size_t first, size_t count) {
    return ConstView::Of<float>(x + first, count);
  };
  EXPECT_TRUE(detail::Overlap(view(0, 4), view(3, 4)));
  EXPECT_TRUE(detail::Overlap(view(3, 4), view(0, 4)));
  EXPECT_TRUE(detail::Overlap(view(0, 8), view(2, 1)));
  EXPECT_FALSE(detail::Overlap(view(0, 4), view(4, 4)));
  EXPECT_FALSE(detail::Overlap(view(4, 4), view(0, 4)));
  EXPECT_FALSE(detail::Overlap(view(0, 0), view(0, 8)));
  EXPECT_FALSE(detail::Overlap(view(2, 0), view(0, 8)));
  EXPECT_FALSE(detail::Overlap(ConstView(), view(0, 8)));
  // A byte view over the last byte of a float overlaps it.
  EXPECT_TRUE(detail::Overlap(view(0, 1),
                              ConstView::Of<uint8_t>(reinterpret_cast<const uint8_t*>(x) + 3, 1)));
}

TEST(ApiRules, SizeHelpersRejectOverflow) {
  constexpr uint32_t kMax = 0xFFFFFFFFu;
  test::ExpectInvalidArgument(
      [] { KktRequiredElements(KktShape{.B = kMax, .T = kMax, .Hg = kMax, .H = 1, .K = 512}); },
      "gated_delta_net_kkt: element count of k overflows 64 bits");
#ifdef TGK_HAS_sdpa
  test::ExpectInvalidArgument(
      [] {
        SdpaRequiredElements(SdpaParams{
            .batch = 1, .n_heads = 1, .n_kv_heads = kMax, .head_dim = 512, .kv_seq_len = kMax});
      },
      "K buffer size overflows 64 bits");
#endif
#ifdef TGK_HAS_flash_attn_vec
  test::ExpectInvalidArgument(
      [] {
        FlashAttnVecRequiredElements(FlashAttnVecParams{
            .num_heads = 1, .num_kv_heads = kMax, .head_dim = 512, .kv_capacity = kMax});
      },
      "flash_attn_vec_peer_port_f16: k_f16 size num_kv_heads * kv_capacity * head_dim "
      "(4294967295 * 4294967295 * 512) overflows 64 bits");
#endif
#ifdef TGK_HAS_tq_kv
  test::ExpectInvalidArgument(
      [] {
        TqDequantizeKvRequiredElements(TqDequantizeKvParams{
            .num_kv_heads = kMax, .head_dim = 1u << 31, .cache_capacity = kMax});
      },
      "tq_dequantize_kv: the size of packed overflows 64 bits");
  test::ExpectInvalidArgument(
      [] {
        HadamardQuantizeKvSeqRequiredElements(HadamardQuantizeKvSeqParams{
            .num_kv_heads = kMax, .head_dim = 1u << 31, .n_tokens = kMax, .src_tok_offset = kMax});
      },
      "hadamard_quantize_kv_seq: the size of src overflows 64 bits");
  test::ExpectInvalidArgument(
      [] {
        HadamardQuantizeKvHbSeqRequiredElements(HadamardQuantizeKvHbSeqParams{
            .num_kv_heads = kMax, .head_dim = 512, .cache_capacity = kMax, .n_tokens = 1});
      },
      "hadamard_quantize_kv_hb_seq: the size of packed overflows 64 bits");
#endif
}

#ifdef TGK_HAS_flash_attn_vec
// mask_type has three values (spec 2.1); the port treats any other as 0, tgk rejects it.
TEST(ApiRules, FlashAttnVecRejectsUnknownMaskTypes) {
  for (const Api& api : Apis()) {
    if (api.label.rfind("FlashAttnVec", 0) != 0) continue;
    const bool nwg32 = api.label == "FlashAttnVecF16Nwg32";
    for (const uint32_t mask_type : {3u, 7u, 0xFFFFFFFFu}) {
      const Buffers buffers(api);
      const std::vector<View> v = buffers.Views();
      const FlashAttnVecParams p{.num_heads = 2,
                                 .num_kv_heads = 1,
                                 .head_dim = 128,
                                 .kv_seq_len = 5,
                                 .kv_capacity = 6,
                                 .scale = 0.088f,
                                 .mask_type = mask_type};
      const std::vector<uint8_t> before = buffers.Outputs();
      Queue queue;
      test::ExpectInvalidArgument(
          [&] {
            if (nwg32) {
              FlashAttnVecF16Nwg32(queue, p, In(v[0]), In(v[1]), In(v[2]), v[3], v[4]);
            } else {
              FlashAttnVecF16(queue, p, In(v[0]), In(v[1]), In(v[2]), v[3]);
            }
          },
          api.prefix + "mask_type must be 0 (none), 1 (causal) or 2 (sliding window), got " +
              std::to_string(mask_type));
      queue.commit_and_wait();
      EXPECT_EQ(buffers.Outputs(), before);
    }
  }
}

// sliding_window and ring_start take every value (spec 2.1 gives each one a meaning, mlx-native
// validates neither); mask_type 1 is 0 for one query. Each documented equivalence holds bit for
// bit, and a real window changes the result (so the comparisons can fail).
TEST(ApiRules, FlashAttnVecKeepsTheSpecsMeaningOfEveryWindowAndRingStart) {
  const FlashAttnVecParams base{.num_heads = 2,
                                .num_kv_heads = 1,
                                .head_dim = 128,
                                .kv_seq_len = 40,
                                .kv_capacity = 64,  // a power of two: ring_start is taken mod 2^32
                                .scale = 0.088f,
                                .ring_start = 5};
  std::vector<float> q(256);
  std::vector<f16> kv(64 * 128);
  for (size_t i = 0; i < q.size(); ++i) q[i] = float(int(i * 29 % 41) - 20) / 8.0f;
  for (size_t i = 0; i < kv.size(); ++i) kv[i] = F16FromF32(float(int(i * 53 % 67) - 33) / 16.0f);
  const auto run = [&](const FlashAttnVecParams& p) {
    std::vector<float> out(256);
    Queue queue(QueueOptions{.threads = 2});
    FlashAttnVecF16(queue, p, ConstView::Of<float>(q.data(), q.size()),
                    ConstView::Of<f16>(kv.data(), kv.size()),
                    ConstView::Of<f16>(kv.data(), kv.size()),
                    View::Of<float>(out.data(), out.size()));
    queue.commit_and_wait();
    return out;
  };
  const auto with = [&](uint32_t mask_type, uint32_t window, uint32_t ring_start) {
    FlashAttnVecParams p = base;
    p.mask_type = mask_type;
    p.sliding_window = window;
    p.ring_start = ring_start;
    return run(p);
  };
  const auto same_bits = [](const std::vector<float>& a, const std::vector<float>& b) {
    return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  const std::vector<float> none = with(0, 0, 5);
  EXPECT_TRUE(same_bits(with(1, 0, 5), none));       // causal: one query sees everything
  EXPECT_TRUE(same_bits(with(2, 0, 5), none));       // a zero window is no window
  EXPECT_TRUE(same_bits(with(2, 40, 5), none));      // a window of every position
  EXPECT_TRUE(same_bits(with(2, 1000, 5), none));    // ... or more
  EXPECT_TRUE(same_bits(with(0, 7, 5), none));       // the window only counts for mask 2
  EXPECT_TRUE(same_bits(with(0, 0, 5 + 64), none));  // ring_start ≡ ring_start + capacity
  EXPECT_TRUE(same_bits(with(0, 0, 5 + 64 * 1000), none));
  EXPECT_FALSE(same_bits(with(2, 30, 5), none));  // a real window changes the output
  EXPECT_FALSE(same_bits(with(0, 0, 6), none));   // and so does another ring start
}
#endif

#ifdef TGK_HAS_tq_kv
// The one in-place use tgk allows: TqInverseRotate with out == rotated gives the bits of the
// out-of-place call, on the oracle and every target.
TEST(ApiRules, TqInverseRotateInPlaceIsBitwiseOutOfPlace) {
  for (const uint32_t d : {64u, 256u, 512u}) {
    const TqInverseRotateParams p{.rows = 5, .head_dim = d};
    std::vector<float> in(size_t{p.rows} * d);
    for (size_t i = 0; i < in.size(); ++i) in[i] = float(int(i * 37 % 101) - 50) / 7.0f;
    std::vector<float> want(in.size());
    {
      Queue oracle(QueueOptions{.threads = 1, .target = Target::Scalar()});
      TqInverseRotate(oracle, p, ConstView::Of<float>(in.data(), in.size()),
                      View::Of<float>(want.data(), want.size()));
      oracle.commit_and_wait();
    }
    std::vector<Target> targets = AvailableTargets();
    targets.push_back(Target::Scalar());
    for (const Target target : targets) {
      std::vector<float> inout = in;
      Queue queue(QueueOptions{.threads = 3, .target = target});
      TqInverseRotate(queue, p, ConstView::Of<float>(inout.data(), inout.size()),
                      View::Of<float>(inout.data(), inout.size()));
      queue.commit_and_wait();
      EXPECT_EQ(std::memcmp(inout.data(), want.data(), want.size() * 4), 0)
          << "D=" << d << " target " << target.name();
    }
  }
}
#endif

}  // namespace
}  // namespace tgk
