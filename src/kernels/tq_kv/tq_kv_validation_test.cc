// tq_kv: every validation rule of every entry point, in order, with its message; a rejected
// call records nothing and leaves every output byte as it was. And the byte counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "kernels/tq_kv/tq_codebooks.h"
#include "kernels/tq_kv/tq_kv.h"
#include "kernels/tq_kv/tq_kv_test_support.h"
#include "tgk/convert.h"
#include "tgk/error.h"
#include "tgk/queue.h"
#include "tgk/target.h"
#include "tgk/view.h"

namespace tgk {
namespace {

using namespace tq_test;

TEST(TqKvValidation, HadamardQuantizeKv) {
  std::vector<float> src(512), big_src(8192);
  CacheBuffers cache = MakeCache(2, 4, 256, 4);
  const auto outputs = cache.outputs();
  const HadamardQuantizeKvParams ok{
      .num_kv_heads = 2, .head_dim = 256, .cache_capacity = 4, .write_pos = 1};
  const auto with = [&](auto change) {
    HadamardQuantizeKvParams p = ok;
    change(p);
    return p;
  };
  const auto run = [&](HadamardQuantizeKvParams p, ConstView s, View packed, View norms) {
    return [=](Queue& q) { HadamardQuantizeKv(q, p, s, packed, norms); };
  };
  const View packed = Out(cache.packed), norms = Out(cache.norms);
  const std::string P = "hadamard_quantize_kv: ";
  ExpectInvalid(P + "head_dim must be a power of two, got 6", outputs,
                run(with([](auto& p) { p.head_dim = 6; }), In(big_src), packed, norms));
  ExpectInvalid(P + "head_dim 8192 exceeds Metal 32 KB threadgroup limit (max 4096 for 2x f32 "
                    "shared memory)",
                outputs, run(with([](auto& p) { p.head_dim = 8192; }), In(big_src), packed, norms));
  ExpectInvalid(P + "head_dim must be even for nibble packing, got 1", outputs,
                run(with([](auto& p) { p.head_dim = 1; }), In(big_src), packed, norms));
  ExpectInvalid(P + "head_dim 2048 needs 2048 lanes per threadgroup, more than 1024 (the "
                    "fallback encoder runs one lane per element)",
                outputs, run(with([](auto& p) { p.head_dim = 2048; }), In(big_src), packed, norms));
  ExpectInvalid(P + "global cache write_pos(4) >= cache_capacity(4)", outputs,
                run(with([](auto& p) { p.write_pos = 4; }), In(src), packed, norms));
  ExpectInvalid(P + "a sliding cache needs cache_capacity > 0 (the row is write_pos mod "
                    "cache_capacity)",
                outputs,
                run(with([](auto& p) {
                      p.cache_capacity = 0;
                      p.is_sliding = true;
                    }),
                    In(src), packed, norms));
  ExpectInvalid(P + "src must be f32 (got bf16)", outputs,
                run(ok, ConstView(src.data(), 512, DType::kBF16), packed, norms));
  ExpectInvalid(P + "src has 512 elements but a null data pointer", outputs,
                run(ok, ConstView(nullptr, 512, DType::kF32), packed, norms));
  ExpectInvalid(P + "src has 511 elements but need 512 (num_kv_heads=2 * head_dim=256)", outputs,
                run(ok, ConstView::Of<float>(src.data(), 511), packed, norms));
  ExpectInvalid(P + "packed must be u8 (got f32)", outputs,
                run(ok, In(src), View(cache.packed.data(), 256, DType::kF32), norms));
  ExpectInvalid(P + "packed buffer has 1023 bytes but need 1024 (num_kv_heads=2 * "
                    "cache_capacity=4 * head_dim/2=128)",
                outputs, run(ok, In(src), View::Of<uint8_t>(cache.packed.data(), 1023), norms));
  ExpectInvalid(P + "norms must be f32 (got u32)", outputs,
                run(ok, In(src), packed, View(cache.norms.data(), 8, DType::kU32)));
  ExpectInvalid(P + "norms buffer has 7 elements but need 8 (num_kv_heads=2 * cache_capacity=4 * "
                    "norms_per_pos=1)",
                outputs, run(ok, In(src), packed, View::Of<float>(cache.norms.data(), 7)));
  std::vector<float> src512(1024);
  std::vector<uint8_t> packed512(2048);
  ExpectInvalid(P + "norms buffer has 8 elements but need 16 (num_kv_heads=2 * cache_capacity=4 "
                    "* norms_per_pos=2)",
                outputs,
                run(with([](auto& p) { p.head_dim = 512; }), In(src512), Out(packed512), norms));
  // Zero sizes: nothing recorded, whatever the buffers.
  ExpectNoOp(outputs, run(with([](auto& p) { p.num_kv_heads = 0; }), ConstView(), View(), View()));
  ExpectNoOp(outputs, run(with([](auto& p) { p.head_dim = 0; }), ConstView(), View(), View()));
}

TEST(TqKvValidation, HadamardQuantizeKvSeq) {
  std::vector<float> src(1536), big_src(8192);
  CacheBuffers cache = MakeCache(2, 4, 256, 4);
  const auto outputs = cache.outputs();
  const HadamardQuantizeKvSeqParams ok{.num_kv_heads = 2,
                                       .head_dim = 256,
                                       .cache_capacity = 4,
                                       .write_pos_start = 1,
                                       .n_tokens = 2,
                                       .src_tok_offset = 1};
  const auto with = [&](auto change) {
    HadamardQuantizeKvSeqParams p = ok;
    change(p);
    return p;
  };
  const auto run = [&](HadamardQuantizeKvSeqParams p, ConstView s) {
    return [=, &cache](Queue& q) {
      HadamardQuantizeKvSeq(q, p, s, Out(cache.packed), Out(cache.norms));
    };
  };
  const std::string P = "hadamard_quantize_kv_seq: ";
  ExpectInvalid(P + "src has 1535 elements but need 1536 (src_tok_offset=1 + n_tokens=2 * "
                    "num_kv_heads=2 * head_dim=256)",
                outputs, run(ok, ConstView::Of<float>(src.data(), 1535)));
  ExpectInvalid(P + "src must be f32 (got f16)", outputs,
                run(ok, ConstView(src.data(), 1536, DType::kF16)));
  const auto one_token = [&](uint32_t d) {
    return with([d](auto& p) {
      p.head_dim = d;
      p.num_kv_heads = 1;
      p.n_tokens = 1;
      p.src_tok_offset = 0;
    });
  };
  ExpectInvalid(P + "head_dim must be a power of two, got 12", outputs,
                run(one_token(12), In(big_src)));
  ExpectInvalid(P + "head_dim 8192 exceeds Metal 32 KB threadgroup limit", outputs,
                run(one_token(8192), In(big_src)));
  ExpectInvalid(P + "head_dim must be even for nibble packing, got 1", outputs,
                run(one_token(1), In(big_src)));
  ExpectInvalid(P + "head_dim 4096 needs 4096 lanes per threadgroup, more than 1024 (the "
                    "fallback encoder runs one lane per element)",
                outputs, run(one_token(4096), In(big_src)));
  ExpectInvalid(P + "global cache write_pos(4) >= cache_capacity(4) at seq idx 1", outputs,
                run(with([](auto& p) { p.write_pos_start = 3; }), In(src)));
  ExpectInvalid(P + "global cache write_pos(6) >= cache_capacity(4) at seq idx 0", outputs,
                run(with([](auto& p) { p.write_pos_start = 6; }), In(src)));
  ExpectInvalid(P + "packed buffer has 1000 bytes but need 1024 (num_kv_heads=2 * "
                    "cache_capacity=4 * head_dim/2=128)",
                outputs, [&](Queue& q) {
                  HadamardQuantizeKvSeq(q, ok, In(src),
                                        View::Of<uint8_t>(cache.packed.data(), 1000),
                                        Out(cache.norms));
                });
  ExpectInvalid(P + "a sliding cache needs cache_capacity > 0 (the row is write_pos mod "
                    "cache_capacity)",
                outputs,
                run(with([](auto& p) {
                      p.is_sliding = true;
                      p.cache_capacity = 0;
                    }),
                    In(src)));
  ExpectInvalid(P + "norms buffer has 7 elements but need 8 (num_kv_heads=2 * cache_capacity=4 * "
                    "norms_per_pos=1)",
                outputs, [&](Queue& q) {
                  HadamardQuantizeKvSeq(q, ok, In(src), Out(cache.packed),
                                        View::Of<float>(cache.norms.data(), 7));
                });
  ExpectNoOp(outputs, run(with([](auto& p) { p.n_tokens = 0; }), ConstView()));
  ExpectNoOp(outputs, run(with([](auto& p) { p.num_kv_heads = 0; }), ConstView()));
}

TEST(TqKvValidation, HadamardQuantizeKvHb) {
  std::vector<float> src(512);
  CacheBuffers cache = MakeCache(2, 4, 256, 8);
  const auto outputs = cache.outputs();
  const HadamardQuantizeKvHbParams ok{
      .num_kv_heads = 2, .head_dim = 256, .cache_capacity = 4, .write_pos = 1, .codebook_bits = 6};
  const auto with = [&](auto change) {
    HadamardQuantizeKvHbParams p = ok;
    change(p);
    return p;
  };
  const auto run = [&](HadamardQuantizeKvHbParams p, View packed) {
    return [=, &src, &cache](Queue& q) {
      HadamardQuantizeKvHb(q, p, In(src), packed, Out(cache.norms));
    };
  };
  const View packed = Out(cache.packed);
  ExpectInvalid("dispatch_hadamard_quantize_kv_hb: codebook_bits must be 5, 6, or 8, got 4",
                outputs, run(with([](auto& p) { p.codebook_bits = 4; }), packed));
  ExpectInvalid("hadamard_quantize_kv_hb: head_dim 128 not supported (need 256 or 512)", outputs,
                run(with([](auto& p) { p.head_dim = 128; }), packed));
  ExpectInvalid("hadamard_quantize_kv_hb: global cache write_pos(9) >= cache_capacity(4)", outputs,
                run(with([](auto& p) { p.write_pos = 9; }), packed));
  ExpectInvalid(
      "hadamard_quantize_kv_hb: packed buffer has 2047 bytes but need 2048 "
      "(num_kv_heads=2 * cache_capacity=4 * head_dim=256)",
      outputs, run(ok, View::Of<uint8_t>(cache.packed.data(), 2047)));
  ExpectInvalid(
      "hadamard_quantize_kv_hb: a sliding cache needs cache_capacity > 0 (the row is write_pos "
      "mod cache_capacity)",
      outputs,
      run(with([](auto& p) {
            p.is_sliding = true;
            p.cache_capacity = 0;
          }),
          packed));
  ExpectInvalid(
      "hadamard_quantize_kv_hb: src has 511 elements but need 512 (num_kv_heads=2 * "
      "head_dim=256)",
      outputs, [&](Queue& q) {
        HadamardQuantizeKvHb(q, ok, ConstView::Of<float>(src.data(), 511), packed,
                             Out(cache.norms));
      });
  ExpectInvalid(
      "hadamard_quantize_kv_hb: norms buffer has 7 elements but need 8 (num_kv_heads=2 "
      "* cache_capacity=4 * norms_per_pos=1)",
      outputs, [&](Queue& q) {
        HadamardQuantizeKvHb(q, ok, In(src), packed, View::Of<float>(cache.norms.data(), 7));
      });
  ExpectNoOp(outputs, run(with([](auto& p) {
                            p.num_kv_heads = 0;
                            p.codebook_bits = 3;
                          }),
                          View()));
}

// Each rule broken together with a later one: the message is the earlier rule's (the order of
// HadamardQuantizeKvSeq, with the higher-bit encoder's codebook_bits and head_dim rules).
TEST(TqKvValidation, HadamardQuantizeKvHbSeq) {
  std::vector<float> src(1536);
  CacheBuffers cache = MakeCache(2, 4, 256, 8);
  const auto outputs = cache.outputs();
  const HadamardQuantizeKvHbSeqParams ok{.num_kv_heads = 2,
                                         .head_dim = 256,
                                         .cache_capacity = 4,
                                         .write_pos_start = 1,
                                         .n_tokens = 2,
                                         .src_tok_offset = 1,
                                         .codebook_bits = 5};
  const auto with = [&](auto change) {
    HadamardQuantizeKvHbSeqParams p = ok;
    change(p);
    return p;
  };
  const auto run = [&](HadamardQuantizeKvHbSeqParams p, ConstView s, View packed, View norms) {
    return [=](Queue& q) { HadamardQuantizeKvHbSeq(q, p, s, packed, norms); };
  };
  const View packed = Out(cache.packed), norms = Out(cache.norms);
  const auto bad_bits = with([](auto& p) { p.codebook_bits = 4; });
  const std::string P = "hadamard_quantize_kv_hb_seq: ";
  ExpectInvalid(P + "src has 1535 elements but need 1536 (src_tok_offset=1 + n_tokens=2 * "
                    "num_kv_heads=2 * head_dim=256)",
                outputs, run(bad_bits, ConstView::Of<float>(src.data(), 1535), packed, norms));
  ExpectInvalid(P + "src must be f32 (got bf16)", outputs,
                run(bad_bits, ConstView(src.data(), 1536, DType::kBF16), packed, norms));
  ExpectInvalid(P + "src has 1536 elements but a null data pointer", outputs,
                run(bad_bits, ConstView(nullptr, 1536, DType::kF32), packed, norms));
  for (const uint32_t bits : {0u, 4u, 7u, 16u}) {
    ExpectInvalid(P + "codebook_bits must be 5, 6, or 8, got " + std::to_string(bits), outputs,
                  run(with([bits](auto& p) {
                        p.codebook_bits = bits;
                        p.head_dim = 128;
                      }),
                      In(src), packed, norms));
  }
  for (const uint32_t d : {128u, 1024u}) {
    ExpectInvalid(P + "head_dim " + std::to_string(d) + " not supported (need 256 or 512)", outputs,
                  run(with([d](auto& p) {
                        p.head_dim = d;
                        p.num_kv_heads = 1;
                        p.n_tokens = 1;
                        p.src_tok_offset = 0;
                        p.write_pos_start = 9;
                      }),
                      ConstView::Of<float>(src.data(), d), packed, norms));
  }
  ExpectInvalid(P + "global cache write_pos(4) >= cache_capacity(4) at seq idx 1", outputs,
                run(with([](auto& p) {
                      p.write_pos_start = 3;
                      p.scale_factor_d512 = std::numeric_limits<float>::quiet_NaN();
                    }),
                    In(src), packed, norms));
  ExpectInvalid(P + "global cache write_pos(6) >= cache_capacity(4) at seq idx 0", outputs,
                run(with([](auto& p) { p.write_pos_start = 6; }), In(src), packed, norms));
  ExpectInvalid(
      P + "global cache write_pos(4294967295) >= cache_capacity(4) at seq idx 0", outputs,
      run(with([](auto& p) { p.write_pos_start = 0xFFFFFFFFu; }), In(src), packed, norms));
  ExpectInvalid(P + "a sliding cache needs cache_capacity > 0 (the row is write_pos mod "
                    "cache_capacity)",
                outputs,
                run(with([](auto& p) {
                      p.is_sliding = true;
                      p.cache_capacity = 0;
                      p.scale_factor_d512 = std::numeric_limits<float>::infinity();
                    }),
                    In(src), packed, norms));
  ExpectInvalid(
      P + "scale_factor_d512 must be finite, got nan", outputs,
      run(with([](auto& p) { p.scale_factor_d512 = std::numeric_limits<float>::quiet_NaN(); }),
          In(src), View::Of<uint8_t>(cache.packed.data(), 10), norms));
  ExpectInvalid(P + "packed must be u8 (got f32)", outputs,
                run(ok, In(src), View(cache.packed.data(), 512, DType::kF32), norms));
  ExpectInvalid(P + "packed buffer has 2047 bytes but need 2048 (num_kv_heads=2 * "
                    "cache_capacity=4 * head_dim=256)",
                outputs,
                run(ok, In(src), View::Of<uint8_t>(cache.packed.data(), 2047),
                    View::Of<float>(cache.norms.data(), 7)));
  ExpectInvalid(P + "norms must be f32 (got u32)", outputs,
                run(ok, In(src), packed, View(cache.norms.data(), 8, DType::kU32)));
  ExpectInvalid(P + "norms buffer has 7 elements but need 8 (num_kv_heads=2 * cache_capacity=4 * "
                    "norms_per_pos=1)",
                outputs, run(ok, In(src), packed, View::Of<float>(cache.norms.data(), 7)));
  std::vector<float> src512(2048);
  std::vector<uint8_t> packed512(4096);
  ExpectInvalid(P + "norms buffer has 8 elements but need 16 (num_kv_heads=2 * cache_capacity=4 "
                    "* norms_per_pos=2)",
                outputs,
                run(with([](auto& p) {
                      p.head_dim = 512;
                      p.src_tok_offset = 0;
                    }),
                    In(src512), Out(packed512), norms));
  // Then the exact sizes and the overlaps, in the README's order.
  std::vector<float> big_src(1537), big_norms(9);
  ExpectInvalid(P + "src has 1537 elements, needs exactly 1536", outputs,
                run(ok, In(big_src), packed, Out(big_norms)));
  ExpectInvalid(P + "norms has 9 elements, needs exactly 8", outputs,
                run(ok, In(src), packed, Out(big_norms)));
  ExpectInvalid(P + "norms overlaps src (an output may not share memory with another buffer "
                    "argument)",
                outputs, run(ok, In(src), packed, View::Of<float>(src.data() + 1528, 8)));
  // Zero sizes: nothing recorded, whatever the buffers and the other parameters.
  for (const auto zero :
       {with([](auto& p) { p.n_tokens = 0; }), with([](auto& p) { p.num_kv_heads = 0; }),
        with([](auto& p) { p.head_dim = 0; })}) {
    HadamardQuantizeKvHbSeqParams p = zero;
    p.codebook_bits = 3;
    p.write_pos_start = 100;
    ExpectNoOp(outputs, run(p, ConstView(), View(), View()));
  }
}

TEST(TqKvValidation, Dequantizers) {
  CacheBuffers nibbles = MakeCache(2, 4, 512, 4), bytes = MakeCache(2, 4, 256, 8);
  std::vector<float> dst(2048);
  const std::vector<Output> outputs{Bytes(dst)};
  {
    const TqDequantizeKvParams ok{.num_kv_heads = 2, .head_dim = 512, .cache_capacity = 4};
    const auto run = [&](TqDequantizeKvParams p, ConstView packed, View out) {
      return [=, &nibbles](Queue& q) { TqDequantizeKv(q, p, packed, In(nibbles.norms), out); };
    };
    const ConstView packed = In(nibbles.packed);
    auto p = ok;
    const std::string P = "tq_dequantize_kv: ";
    p.head_dim = 24;
    ExpectInvalid(P + "head_dim must be a power of two, got 24", outputs, run(p, packed, Out(dst)));
    ExpectInvalid(P + "dst has 1023 elements, need 1024", outputs,
                  run(ok, packed, View::Of<float>(dst.data(), 1023)));
    p = ok;
    p.head_dim = 1;
    ExpectInvalid(P + "head_dim must be even for nibble packing, got 1", outputs,
                  run(p, packed, Out(dst)));
    p = ok;
    p.read_pos = 4;
    ExpectInvalid(P + "read_pos(4) >= cache_capacity(4)", outputs, run(p, packed, Out(dst)));
    ExpectInvalid(P + "packed buffer has 2047 bytes but need 2048 (num_kv_heads=2 * "
                      "cache_capacity=4 * head_dim/2=256)",
                  outputs, run(ok, ConstView::Of<uint8_t>(nibbles.packed.data(), 2047), Out(dst)));
    p = ok;
    p.scale_factor_d512 = 0.0f;
    ExpectInvalid(P + "scale_factor_d512 must be finite and non-zero for head_dim 512 > 256 (the "
                      "decoder divides the norms by it), got 0",
                  outputs, run(p, packed, Out(dst)));
    p.scale_factor_d512 = std::numeric_limits<float>::infinity();
    ExpectInvalid(P + "scale_factor_d512 must be finite and non-zero for head_dim 512 > 256 (the "
                      "decoder divides the norms by it), got inf",
                  outputs, run(p, packed, Out(dst)));
    p = ok;
    p.num_kv_heads = 0;
    ExpectNoOp(outputs, run(p, ConstView(), View()));
  }
  {
    // nkv = 2, D = 512, rows 1 .. 1 + n_tokens − 1 of a 4-row cache: dst holds n_tokens = 1.
    const TqDequantizeKvSeqParams ok{
        .num_kv_heads = 2, .head_dim = 512, .cache_capacity = 4, .start_pos = 1, .n_tokens = 1};
    const auto run = [&](TqDequantizeKvSeqParams p, ConstView packed, View out) {
      return [=, &nibbles](Queue& q) { TqDequantizeKvSeq(q, p, packed, In(nibbles.norms), out); };
    };
    const ConstView packed = In(nibbles.packed);
    auto p = ok;
    const std::string P = "tq_dequantize_kv_seq: ";
    p.head_dim = 24;
    ExpectInvalid(P + "head_dim must be a power of two, got 24", outputs, run(p, packed, Out(dst)));
    ExpectInvalid(P + "dst has 1023 elements, need 1024 (num_kv_heads=2 × n_tokens=1 × "
                      "head_dim=512)",
                  outputs, run(ok, packed, View::Of<float>(dst.data(), 1023)));
    p = ok;
    p.head_dim = 1;
    ExpectInvalid(P + "head_dim must be even for nibble packing, got 1", outputs,
                  run(p, packed, Out(dst)));
    p = ok;
    p.start_pos = 4;
    ExpectInvalid(P + "start_pos(4) + n_tokens(1) > cache_capacity(4)", outputs,
                  run(p, packed, Out(dst)));
    p = ok;
    p.start_pos = 0xFFFFFFFFu;
    ExpectInvalid(P + "start_pos(4294967295) + n_tokens(1) > cache_capacity(4)", outputs,
                  run(p, packed, Out(dst)));
    p = ok;
    p.num_kv_heads = 0xFFFFFFFFu;
    p.n_tokens = 0xFFFFFFFFu;
    p.head_dim = 1u << 31;
    ExpectInvalid(P + "the size of dst overflows 64 bits", outputs, run(p, packed, Out(dst)));
    ExpectInvalid(P + "packed buffer has 2047 bytes but need 2048 (num_kv_heads=2 * "
                      "cache_capacity=4 * head_dim/2=256)",
                  outputs, run(ok, ConstView::Of<uint8_t>(nibbles.packed.data(), 2047), Out(dst)));
    ExpectInvalid(P + "norms has 8 elements but a null data pointer", outputs, [&](Queue& q) {
      TqDequantizeKvSeq(q, ok, packed, ConstView(nullptr, 8, DType::kF32), Out(dst));
    });
    p = ok;
    p.scale_factor_d512 = -std::numeric_limits<float>::infinity();
    ExpectInvalid(P + "scale_factor_d512 must be finite and non-zero for head_dim 512 > 256 (the "
                      "decoder divides the norms by it), got -inf",
                  outputs, run(p, packed, Out(dst)));
    p = ok;
    p.n_tokens = 0;
    ExpectNoOp(outputs, run(p, ConstView(), View()));
  }
  {
    const TqDequantizeHbKvParams ok{
        .num_kv_heads = 2, .head_dim = 256, .cache_capacity = 4, .codebook_bits = 5};
    const auto run = [&](TqDequantizeHbKvParams p, ConstView norms, View out) {
      return [=, &bytes](Queue& q) { TqDequantizeHbKv(q, p, In(bytes.packed), norms, out); };
    };
    const std::string P = "dispatch_tq_dequantize_hb_kv: ";
    auto p = ok;
    p.codebook_bits = 7;
    ExpectInvalid(P + "codebook_bits must be 5, 6, or 8, got 7", outputs,
                  run(p, In(bytes.norms), Out(dst)));
    ExpectInvalid(P + "dst has 511 elements, need 512", outputs,
                  run(ok, In(bytes.norms), View::Of<float>(dst.data(), 511)));
    ExpectInvalid(P + "dst must be f32 (got i32)", outputs,
                  run(ok, In(bytes.norms), View(dst.data(), 512, DType::kI32)));
    ExpectInvalid(P + "norms buffer has 7 elements but need 8 (num_kv_heads=2 * cache_capacity=4 "
                      "* norms_per_pos=1)",
                  outputs, run(ok, ConstView::Of<float>(bytes.norms.data(), 7), Out(dst)));
    p = ok;
    p.read_pos = 7;
    ExpectInvalid(P + "read_pos(7) >= cache_capacity(4)", outputs,
                  run(p, In(bytes.norms), Out(dst)));
    ExpectInvalid(P + "packed buffer has 2047 bytes but need 2048 (num_kv_heads=2 * "
                      "cache_capacity=4 * head_dim=256)",
                  outputs, [&](Queue& q) {
                    TqDequantizeHbKv(q, ok, ConstView::Of<uint8_t>(bytes.packed.data(), 2047),
                                     In(bytes.norms), Out(dst));
                  });
    ExpectInvalid(P + "packed must be u8 (got bf16)", outputs, [&](Queue& q) {
      TqDequantizeHbKv(q, ok, ConstView(bytes.packed.data(), 1024, DType::kBF16), In(bytes.norms),
                       Out(dst));
    });
    // D = 512 divides the norms by scale_factor_d512.
    const CacheBuffers wide = MakeCache(1, 1, 512, 8);
    p = ok;
    p.num_kv_heads = 1;
    p.cache_capacity = 1;
    p.head_dim = 512;
    p.scale_factor_d512 = std::numeric_limits<float>::quiet_NaN();
    ExpectInvalid(P + "scale_factor_d512 must be finite and non-zero for head_dim 512 > 256 (the "
                      "decoder divides the norms by it), got nan",
                  outputs, [&](Queue& q) {
                    TqDequantizeHbKv(q, p, In(wide.packed), In(wide.norms), Out(dst));
                  });
    p = ok;
    p.head_dim = 0;
    ExpectNoOp(outputs, run(p, ConstView(), View()));
  }
  {
    const TqDequantizeHbKvSeqParams ok{.num_kv_heads = 2,
                                       .head_dim = 256,
                                       .cache_capacity = 4,
                                       .start_pos = 1,
                                       .n_tokens = 2,
                                       .codebook_bits = 8};
    const auto run = [&](TqDequantizeHbKvSeqParams p, View out) {
      return [=, &bytes](Queue& q) {
        TqDequantizeHbKvSeq(q, p, In(bytes.packed), In(bytes.norms), out);
      };
    };
    const std::string P = "dispatch_tq_dequantize_hb_kv_seq: ";
    auto p = ok;
    p.head_dim = 24;
    ExpectInvalid(P + "head_dim must be power of two, got 24", outputs, run(p, Out(dst)));
    p = ok;
    p.codebook_bits = 4;
    ExpectInvalid(P + "codebook_bits must be 5, 6, or 8, got 4", outputs, run(p, Out(dst)));
    ExpectInvalid(P + "dst has 1023 elements, need 1024 (num_kv_heads=2 × n_tokens=2 × "
                      "head_dim=256)",
                  outputs, run(ok, View::Of<float>(dst.data(), 1023)));
    p = ok;
    p.start_pos = 3;
    ExpectInvalid(P + "start_pos(3) + n_tokens(2) > cache_capacity(4)", outputs, run(p, Out(dst)));
    p = ok;
    p.start_pos = 0xFFFFFFFFu;
    ExpectInvalid(P + "start_pos(4294967295) + n_tokens(2) > cache_capacity(4)", outputs,
                  run(p, Out(dst)));
    p = ok;
    p.num_kv_heads = 0xFFFFFFFFu;
    p.n_tokens = 0xFFFFFFFFu;
    p.head_dim = 1u << 31;
    ExpectInvalid(P + "the size of dst overflows 64 bits", outputs, run(p, Out(dst)));
    ExpectInvalid(P + "packed buffer has 2000 bytes but need 2048 (num_kv_heads=2 * "
                      "cache_capacity=4 * head_dim=256)",
                  outputs, [&](Queue& q) {
                    TqDequantizeHbKvSeq(q, ok, ConstView::Of<uint8_t>(bytes.packed.data(), 2000),
                                        In(bytes.norms), Out(dst));
                  });
    ExpectInvalid(P + "norms has 8 elements but a null data pointer", outputs, [&](Queue& q) {
      TqDequantizeHbKvSeq(q, ok, In(bytes.packed), ConstView(nullptr, 8, DType::kF32), Out(dst));
    });
    const CacheBuffers wide = MakeCache(1, 2, 512, 8);
    p = ok;
    p.num_kv_heads = 1;
    p.cache_capacity = 2;
    p.start_pos = 0;
    p.head_dim = 512;
    p.scale_factor_d512 = 0.0f;
    ExpectInvalid(P + "scale_factor_d512 must be finite and non-zero for head_dim 512 > 256 (the "
                      "decoder divides the norms by it), got 0",
                  outputs, [&](Queue& q) {
                    TqDequantizeHbKvSeq(q, p, In(wide.packed), In(wide.norms), Out(dst));
                  });
    p = ok;
    p.n_tokens = 0;
    ExpectNoOp(outputs, run(p, View()));
  }
}

TEST(TqKvValidation, InverseRotate) {
  std::vector<float> in(1024), out(1024);
  const std::vector<Output> outputs{Bytes(out)};
  const auto run = [&](uint32_t rows, uint32_t d, ConstView a, View b) {
    return [=](Queue& q) { TqInverseRotate(q, {.rows = rows, .head_dim = d}, a, b); };
  };
  const std::string P = "tq_inverse_rotate: ";
  ExpectInvalid(P + "head_dim must be a power of two, got 24", outputs,
                run(2, 24, In(in), Out(out)));
  ExpectInvalid(P + "head_dim 2048 needs 2048 lanes per threadgroup, more than 1024 (the rotation "
                    "runs one lane per element)",
                outputs, run(1, 2048, In(in), Out(out)));
  ExpectInvalid(P + "rotated has 511 elements but need 512 (rows=2 * head_dim=256)", outputs,
                run(2, 256, ConstView::Of<float>(in.data(), 511), Out(out)));
  ExpectInvalid(P + "out has 511 elements but need 512 (rows=2 * head_dim=256)", outputs,
                run(2, 256, In(in), View::Of<float>(out.data(), 511)));
  ExpectInvalid(
      P + "out overlaps rotated without being the same buffer", outputs,
      run(2, 256, ConstView::Of<float>(out.data(), 512), View::Of<float>(out.data() + 1, 512)));
  ExpectInvalid(P + "rotated must be f32 (got f16)", outputs,
                run(2, 256, ConstView(in.data(), 512, DType::kF16), Out(out)));
  ExpectInvalid(P + "out has 512 elements but a null data pointer", outputs,
                run(2, 256, In(in), View(nullptr, 512, DType::kF32)));
  ExpectNoOp(outputs, run(0, 256, ConstView(), View()));
}

TEST(TqKvBytes, CountsEveryBuffer) {
  EXPECT_EQ(TqDequantizeHbKvSeqBytes({.num_kv_heads = 8,
                                      .head_dim = 256,
                                      .cache_capacity = 32768,
                                      .n_tokens = 32768,
                                      .codebook_bits = 8}),
            uint64_t{8} * 32768 * (256 + 4 + 1024));
  EXPECT_EQ(TqDequantizeKvBytes({.num_kv_heads = 2, .head_dim = 512}), 2u * (256 + 8 + 2048));
  EXPECT_EQ(TqDequantizeKvSeqBytes({.num_kv_heads = 2, .head_dim = 512, .n_tokens = 3}),
            2u * 3 * (256 + 8 + 2048));
  EXPECT_EQ(HadamardQuantizeKvBytes({.num_kv_heads = 2, .head_dim = 128}), 2u * (512 + 64 + 4));
  EXPECT_EQ(HadamardQuantizeKvSeqBytes({.num_kv_heads = 1,
                                        .head_dim = 256,
                                        .cache_capacity = 4,
                                        .n_tokens = 9,
                                        .is_sliding = true}),
            4u * (1024 + 128 + 4));
  EXPECT_EQ(TqInverseRotateBytes({.rows = 3, .head_dim = 256}), 3u * 256 * 8);
  EXPECT_EQ(TqDequantizeHbKvBytes({.num_kv_heads = 0, .head_dim = 256}), 0u);
  EXPECT_EQ(HadamardQuantizeKvHbBytes({.num_kv_heads = 2, .head_dim = 0}), 0u);
  EXPECT_EQ(HadamardQuantizeKvHbSeqBytes({.num_kv_heads = 2,
                                          .head_dim = 512,
                                          .cache_capacity = 4,
                                          .n_tokens = 9,
                                          .src_tok_offset = 5,
                                          .is_sliding = true}),
            2u * 4 * (2048 + 512 + 8));
  EXPECT_EQ(HadamardQuantizeKvHbSeqBytes(
                {.num_kv_heads = 3, .head_dim = 256, .cache_capacity = 9, .n_tokens = 5}),
            3u * 5 * (1024 + 256 + 4));
}

}  // namespace
}  // namespace tgk
