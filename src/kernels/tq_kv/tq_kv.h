// The TurboQuant KV cache (docs/spec/tq_kv.md, tables in docs/spec/tq_codebooks.md): the encoders
// that write it (hadamard_quantize_kv and its fast, higher-bit and sequence variants), the three
// dequantisers of mlx-native 0.8.1 and the inverse rotation back to the original domain.
//
// Format. For KV head h and cache row p (D = head_dim, cap = cache_capacity,
// npp = max(1, D / 256) norms per position):
//   4-bit  packed u8 [nkv, cap, D/2]: element j in byte (h·cap + p)·D/2 + j/2, even j in the low
//          nibble, odd j in the high nibble.
//   5/6/8  packed u8 [nkv, cap, D]: one index per byte, (h·cap + p)·D + j.
//   norms  f32 [nkv, cap, npp] at (h·cap + p)·npp + block: D = 256 the L2 norm of the rotated
//          vector y = H(σ ⊙ x); D = 512 the RMS of each half of y; fallback D the L2 norm of
//          H(x) (no signs), at h·cap + p.
// Decoding gives ŷ_j = C_b[q_j]·sn with sn = n·r_D (D <= 256) or n_b / scale_factor_d512
// (D > 256), in the rotated domain; TqInverseRotate maps ŷ back (x̂ = σ ⊙ H(ŷ) for D = 256,
// 512, x̂ = H(ŷ) otherwise). r_D is the binary32 nearest 1/√D (TqRotationScale).
//
// Every result is bit-for-bit the spec's order of operations on every target and thread count
// (GPU fast-math sqrt/rsqrt/division are replaced by IEEE ones, the contraction-sensitive sum
// of squares is unfused, simd_sum is the canonical tree).
//
// Calling convention, as for every tgk kernel: an entry point checks every rule, then records
// its dispatch on `queue`; queue.commit_and_wait() runs it. A broken rule throws tgk::Error
// (kind kInvalidArgument) with the message below and nothing is recorded or written. Where
// the spec says so, a zero size returns without recording anything (and checks no buffer).
// Buffer sizes are exact (README, "Buffers and validation"; the port accepts larger ones): each
// entry point's <Entry>RequiredElements(params) gives the counts. A buffer smaller than that
// gets the spec's message; a larger one, after every other check of the list below,
// "{prefix}: {buffer} has {n} elements, needs exactly {m}". Then no output may share a byte
// with another buffer argument: "{prefix}: packed overlaps src (an output may not share memory
// with another buffer argument)" (encoders: packed, then norms, each against src, then packed
// against norms; dequantisers: dst against packed, then norms). scale_factor_d512 must be
// finite everywhere ("{prefix}: scale_factor_d512 must be finite, got nan"), also where the
// head_dim does not use it, as the spec gives NaN and Inf no meaning: the encoders check it
// after their scalar rules (before the buffers), the dequantisers where they check the
// D > 256 rule.
//
// Differences from the Metal port (mlx-native 0.8.1); none changes an output bit of a call
// the port accepts and fully writes:
//   - tgk checks what the port does not, after the port's own checks and with messages that
//     name argument, value and rule: the dtype of every buffer (f32 src/norms/dst, u8 packed);
//     a null pointer behind a non-empty view; the packed and norms sizes for the dequantisers,
//     the higher-bit encoder and the sequence encoder; read_pos < cap and start_pos + n_tokens
//     <= cap (64-bit sums); write_pos < cap for the higher-bit encoder of a global cache;
//     cap > 0 for a sliding cache (the row is write_pos mod cap); a finite non-zero
//     scale_factor_d512 for dequantisers with D > 256 (they divide by it); the tq_dequantize_kv
//     nibble layout needs an even D; element counts that overflow 64 bits.
//   - Offsets are formed in 64 bits (the GPU uses 32-bit arithmetic).
//   - The dequantisers write every element also for D > 1024 (lane t handles t, t + 1024, ...;
//     Metal's lanes stop after the first 1024 and leave the rest unwritten).
//   - The fallback encoder runs one lane per element: D = 2048 and 4096 pass the port's checks
//     but cannot be launched (Metal's limit is 1024 lanes as well); tgk rejects them.
//   - The sequence encoder checks the whole sequence before recording anything (the port
//     returns its write_pos error after encoding the earlier tokens) and records one dispatch
//     of (nkv, tokens) groups instead of one per token. When a sliding cache gets more tokens
//     than its capacity, only the last cap tokens are encoded: the earlier ones would land in
//     rows that later tokens overwrite (the port's sequential dispatches leave the same
//     result).
//   - tgk adds HadamardQuantizeKvHbSeq, the same sequence form for the 5/6/8-bit encoder (the
//     port has none; a caller loops over hadamard_quantize_kv_hb).
//   - The dequantisers' grid is (n_tokens, nkv) groups (Metal: (nkv, n_tokens)): the runtime
//     hands each thread runs of consecutive groups, which then are consecutive tokens of one
//     head, one read and one write stream per thread instead of nkv of each. At 8 heads × 32768
//     tokens × D = 256 this halves one thread's time per group (138 to 69 ns on the AMD EPYC
//     development machine, AVX3).
//   - tq_dequantize_hb_kv is recorded as the sequence kernel with n_tokens = 1 at
//     start_pos = read_pos, so the spec's bit-identity contract between the two holds by
//     construction.
//   - The fallback encoder at D = 1024 writes one norm per row at h·cap + p, as the port does;
//     the dequantisers expect npp = 4 norms there (spec 3.3: only D <= 256 is coherent).
//   - The RMS probe debug buffer of the fast encoder (binding 4) is not provided.
//   - The 32-lane kernels (fast and higher-bit encoders, rotation for D = 256, 512) exchange
//     values between lanes through an arena of D floats where Metal uses simd_shuffle_xor; the
//     fallback kernels use their 2·D floats in two halves (one FWHT stage reads one half and
//     writes the other). Neither changes a bit of the results.
#pragma once

#include <cstdint>

#include "tgk/queue.h"
#include "tgk/view.h"

namespace tgk {

// ---- buffer sizes ----------------------------------------------------------------------------

// The elements each buffer of an encoder holds, exactly (packed: u8 elements, i.e. bytes).
struct TqEncodeElements {
  uint64_t src;     // (src_tok_offset + n_tokens)·nkv·D, one token for the per-token encoders
  uint64_t packed;  // nkv·cap·D/2 (4-bit) or nkv·cap·D (5/6/8-bit)
  uint64_t norms;   // nkv·cap·max(1, D/256)
};
// The same for a dequantiser.
struct TqDequantizeElements {
  uint64_t packed;  // nkv·cap·D/2 (4-bit) or nkv·cap·D (5/6/8-bit)
  uint64_t norms;   // nkv·cap·max(1, D/256)
  uint64_t dst;     // nkv·n_tokens·D, n_tokens = 1 for the per-position dequantisers
};
struct TqInverseRotateElements {
  uint64_t rotated;  // rows·D
  uint64_t out;      // rows·D
};

// What a caller allocates and what the entry point of the same name checks. A count that
// overflows 64 bits throws tgk::Error (kInvalidArgument, "{prefix}: the size of {buffer}
// overflows 64 bits"); the params' other rules are the entry point's.

// ---- encoders ------------------------------------------------------------------------------

// dispatch_hadamard_quantize_kv: one token's heads, src f32 [nkv, D], into row
// p = is_sliding ? write_pos mod cap : write_pos of the 4-bit cache. D = 256 and 512 use the
// fast 32-lane encoders (sign flips, per-block RMS norms for 512), any other power of two
// D <= 1024 the fallback (D lanes, no sign flips, one L2 norm).
struct HadamardQuantizeKvParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t write_pos = 0;
  bool is_sliding = false;
  float scale_factor_d512 = 1.0f;  // D = 512 only: z = y / n_b · scale_factor_d512
};

// Returns without recording when num_kv_heads or head_dim is 0. Errors, in this order:
//   "hadamard_quantize_kv: head_dim must be a power of two, got {D}"
//   "hadamard_quantize_kv: head_dim {D} exceeds Metal 32 KB threadgroup limit (max 4096 for 2x
//    f32 shared memory)"
//   "hadamard_quantize_kv: head_dim must be even for nibble packing, got {D}"
//   tgk: "hadamard_quantize_kv: head_dim {D} needs {D} lanes per threadgroup, more than 1024
//    (the fallback encoder runs one lane per element)"
//   "hadamard_quantize_kv: global cache write_pos({}) >= cache_capacity({})"
//   tgk: "hadamard_quantize_kv: a sliding cache needs cache_capacity > 0 (the row is write_pos
//    mod cache_capacity)"
//   "hadamard_quantize_kv: src has {} elements but need {} (num_kv_heads={} * head_dim={})"
//   "hadamard_quantize_kv: packed buffer has {} bytes but need {} (num_kv_heads={} *
//    cache_capacity={} * head_dim/2={})"
//   "hadamard_quantize_kv: norms buffer has {} elements but need {} (num_kv_heads={} *
//    cache_capacity={} * norms_per_pos={})"
// with, before each size rule, tgk's "{prefix}: {buffer} must be {dtype} (got {dtype})" and
// "{prefix}: {buffer} has {n} elements but a null data pointer".
void HadamardQuantizeKv(Queue& queue, const HadamardQuantizeKvParams& params, ConstView src,
                        View packed, View norms);
TqEncodeElements HadamardQuantizeKvRequiredElements(const HadamardQuantizeKvParams& params);

// dispatch_hadamard_quantize_kv_seq: n_tokens tokens of src f32 [src_tok_offset + n_tokens,
// nkv, D], token src_tok_offset + i into position write_pos_start + i (computed in 64 bits).
// Codes of more than 16 MiB (n_tokens·nkv·D/2 bytes) are written past the caches where their
// rows are aligned to the vector (D = 256, 512; non-temporal stores: a reader finds them in
// memory, not in cache).
struct HadamardQuantizeKvSeqParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t write_pos_start = 0;
  uint32_t n_tokens = 0;
  uint32_t src_tok_offset = 0;
  bool is_sliding = false;
  float scale_factor_d512 = 1.0f;
};

// Returns without recording when n_tokens, num_kv_heads or head_dim is 0. Errors, in order:
//   "hadamard_quantize_kv_seq: src has {} elements but need {} (src_tok_offset={} +
//    n_tokens={} * num_kv_heads={} * head_dim={})"
//   "hadamard_quantize_kv_seq: head_dim must be a power of two, got {D}"
//   "hadamard_quantize_kv_seq: head_dim {D} exceeds Metal 32 KB threadgroup limit"
//   "hadamard_quantize_kv_seq: head_dim must be even for nibble packing, got {D}"
//   tgk: the 1024-lane rule, as above with this prefix
//   "hadamard_quantize_kv_seq: global cache write_pos({}) >= cache_capacity({}) at seq idx {i}"
//    (the first token that breaks it)
//   tgk: the sliding-capacity, packed and norms rules, as above with this prefix.
void HadamardQuantizeKvSeq(Queue& queue, const HadamardQuantizeKvSeqParams& params, ConstView src,
                           View packed, View norms);
TqEncodeElements HadamardQuantizeKvSeqRequiredElements(const HadamardQuantizeKvSeqParams& params);

// dispatch_hadamard_quantize_kv_hb: the 5/6/8-bit encoder, D = 256 or 512, one byte per index.
struct HadamardQuantizeKvHbParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t write_pos = 0;
  bool is_sliding = false;
  float scale_factor_d512 = 1.0f;
  uint32_t codebook_bits = 8;  // 5, 6 or 8
};

// Returns without recording when num_kv_heads or head_dim is 0. Errors, in order:
//   "dispatch_hadamard_quantize_kv_hb: codebook_bits must be 5, 6, or 8, got {b}"
//   "hadamard_quantize_kv_hb: head_dim {D} not supported (need 256 or 512)"
//   tgk: the write_pos, sliding-capacity, src, packed (nkv·cap·D bytes; "head_dim={}" in the
//    parenthesis) and norms rules of HadamardQuantizeKv with prefix "hadamard_quantize_kv_hb".
void HadamardQuantizeKvHb(Queue& queue, const HadamardQuantizeKvHbParams& params, ConstView src,
                          View packed, View norms);
TqEncodeElements HadamardQuantizeKvHbRequiredElements(const HadamardQuantizeKvHbParams& params);

// tgk's sequence form of the 5/6/8-bit encoder (mlx-native has none: its callers dispatch
// hadamard_quantize_kv_hb once per token): n_tokens tokens of src f32 [src_tok_offset +
// n_tokens, nkv, D], token src_tok_offset + i into position write_pos_start + i (computed in
// 64 bits), bit for bit n_tokens HadamardQuantizeKvHb calls in order, recorded as one dispatch.
// A sliding cache given more than cap tokens encodes only the last cap, as the 4-bit sequence
// encoder does. Codes of more than 16 MiB (n_tokens·nkv·D bytes) are written past the caches
// where their rows are aligned to the vector, as there.
struct HadamardQuantizeKvHbSeqParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t write_pos_start = 0;
  uint32_t n_tokens = 0;
  uint32_t src_tok_offset = 0;
  bool is_sliding = false;
  float scale_factor_d512 = 1.0f;
  uint32_t codebook_bits = 8;  // 5, 6 or 8
};

// Returns without recording when n_tokens, num_kv_heads or head_dim is 0. Errors (tgk's, in the
// order of HadamardQuantizeKvSeq's), prefix "hadamard_quantize_kv_hb_seq":
//   "hadamard_quantize_kv_hb_seq: src has {} elements but need {} (src_tok_offset={} +
//    n_tokens={} * num_kv_heads={} * head_dim={})"
//   "hadamard_quantize_kv_hb_seq: codebook_bits must be 5, 6, or 8, got {b}"
//   "hadamard_quantize_kv_hb_seq: head_dim {D} not supported (need 256 or 512)"
//   "hadamard_quantize_kv_hb_seq: global cache write_pos({}) >= cache_capacity({}) at seq idx
//    {i}" (the first token that breaks it)
//   the sliding-capacity, scale_factor_d512, packed (nkv·cap·D bytes; "head_dim={}" in the
//   parenthesis) and norms rules, as above with this prefix.
void HadamardQuantizeKvHbSeq(Queue& queue, const HadamardQuantizeKvHbSeqParams& params,
                             ConstView src, View packed, View norms);
TqEncodeElements HadamardQuantizeKvHbSeqRequiredElements(
    const HadamardQuantizeKvHbSeqParams& params);

// ---- dequantisers ---------------------------------------------------------------------------

// tq_dequantize_kv: the 4-bit row read_pos (used as given, not wrapped) of every head into
// dst f32 [nkv, D]. npp is derived from D.
struct TqDequantizeKvParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t read_pos = 0;
  float scale_factor_d512 = 1.0f;  // D > 256: sn_b = n_b / scale_factor_d512
};

// Returns without recording when num_kv_heads or head_dim is 0. Errors, in order:
//   "tq_dequantize_kv: head_dim must be a power of two, got {D}"
//   "tq_dequantize_kv: dst has {} elements, need {}"
//   tgk: "tq_dequantize_kv: head_dim must be even for nibble packing, got 1"
//   tgk: "tq_dequantize_kv: read_pos({}) >= cache_capacity({})"
//   tgk: "tq_dequantize_kv: packed buffer has {} bytes but need {} (num_kv_heads={} *
//    cache_capacity={} * head_dim/2={})", the norms rule as for the encoder, and
//    "tq_dequantize_kv: scale_factor_d512 must be finite and non-zero for head_dim {D} > 256
//    (the decoder divides the norms by it), got {sf}".
void TqDequantizeKv(Queue& queue, const TqDequantizeKvParams& params, ConstView packed,
                    ConstView norms, View dst);
TqDequantizeElements TqDequantizeKvRequiredElements(const TqDequantizeKvParams& params);

// tq_dequantize_kv_seq (tgk's: Metal decodes one 4-bit position per dispatch): rows start_pos ..
// start_pos + n_tokens − 1 of every head of the 4-bit cache into dst f32 [nkv, n_tokens, D]
// (head-major); slice [h, τ, :] equals TqDequantizeKv at read_pos = start_pos + τ bit for bit.
// A dst of more than 32 MiB is written past the caches where its rows are 64-byte aligned
// (non-temporal stores: a reader finds it in memory, not in cache).
struct TqDequantizeKvSeqParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t start_pos = 0;
  uint32_t n_tokens = 0;
  float scale_factor_d512 = 1.0f;
};

// Returns without recording when num_kv_heads, head_dim or n_tokens is 0. Errors, in order:
//   "tq_dequantize_kv_seq: head_dim must be a power of two, got {D}"
//   "tq_dequantize_kv_seq: dst has {} elements, need {} (num_kv_heads={} × n_tokens={} ×
//    head_dim={})"
//   "tq_dequantize_kv_seq: head_dim must be even for nibble packing, got 1"
//   "tq_dequantize_kv_seq: start_pos({}) + n_tokens({}) > cache_capacity({})"
//   then the packed (nkv·cap·D/2 bytes), norms and scale_factor_d512 rules of TqDequantizeKv
//   with this prefix.
void TqDequantizeKvSeq(Queue& queue, const TqDequantizeKvSeqParams& params, ConstView packed,
                       ConstView norms, View dst);
TqDequantizeElements TqDequantizeKvSeqRequiredElements(const TqDequantizeKvSeqParams& params);

// tq_dequantize_hb_kv: as TqDequantizeKv for the 5/6/8-bit format (any D >= 1, as the port).
struct TqDequantizeHbKvParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t read_pos = 0;
  float scale_factor_d512 = 1.0f;
  uint32_t codebook_bits = 8;
};

// Returns without recording when num_kv_heads or head_dim is 0. Errors, in order:
//   "dispatch_tq_dequantize_hb_kv: codebook_bits must be 5, 6, or 8, got {b}"
//   tgk: "dispatch_tq_dequantize_hb_kv: dst has {} elements, need {}", then the read_pos,
//    packed (nkv·cap·D bytes), norms and scale_factor_d512 rules with this prefix.
void TqDequantizeHbKv(Queue& queue, const TqDequantizeHbKvParams& params, ConstView packed,
                      ConstView norms, View dst);
TqDequantizeElements TqDequantizeHbKvRequiredElements(const TqDequantizeHbKvParams& params);

// tq_dequantize_hb_kv_seq: rows start_pos .. start_pos + n_tokens − 1 of every head into dst
// f32 [nkv, n_tokens, D] (head-major); slice [h, τ, :] equals TqDequantizeHbKv at
// read_pos = start_pos + τ bit for bit. A dst of more than 32 MiB is written past the caches as
// TqDequantizeKvSeq's.
struct TqDequantizeHbKvSeqParams {
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t cache_capacity = 0;
  uint32_t start_pos = 0;
  uint32_t n_tokens = 0;
  float scale_factor_d512 = 1.0f;
  uint32_t codebook_bits = 8;
};

// Returns without recording when num_kv_heads, head_dim or n_tokens is 0. Errors, in order:
//   "dispatch_tq_dequantize_hb_kv_seq: head_dim must be power of two, got {D}"
//   "dispatch_tq_dequantize_hb_kv_seq: codebook_bits must be 5, 6, or 8, got {b}"
//   "dispatch_tq_dequantize_hb_kv_seq: dst has {} elements, need {} (num_kv_heads={} ×
//    n_tokens={} × head_dim={})"
//   "dispatch_tq_dequantize_hb_kv_seq: start_pos({}) + n_tokens({}) > cache_capacity({})"
//   tgk: the packed, norms and scale_factor_d512 rules with this prefix.
void TqDequantizeHbKvSeq(Queue& queue, const TqDequantizeHbKvSeqParams& params, ConstView packed,
                         ConstView norms, View dst);
TqDequantizeElements TqDequantizeHbKvSeqRequiredElements(const TqDequantizeHbKvSeqParams& params);

// ---- the inverse rotation -------------------------------------------------------------------

// rows vectors of head_dim floats from the rotated domain back to the original one:
// x̂ = σ ⊙ H(ŷ) for D = 256 and 512 (the fast encoders' signs), x̂ = H(ŷ) for any other power
// of two D <= 1024 (the fallback encoder has no signs). H applies r_D after all butterfly
// stages. `out` may be `rotated` itself (same data and size: each row is read whole before it
// is written, so in place gives the same bits) but must not overlap it otherwise. This is the
// one in-place use tgk allows.
struct TqInverseRotateParams {
  uint32_t rows = 0;
  uint32_t head_dim = 0;
};

// Returns without recording when rows or head_dim is 0. Errors (tgk's), in order:
//   "tq_inverse_rotate: head_dim must be a power of two, got {D}"
//   "tq_inverse_rotate: head_dim {D} needs {D} lanes per threadgroup, more than 1024 (the
//    rotation runs one lane per element)"
//   the dtype, null-pointer and size rules ("tq_inverse_rotate: rotated has {} elements but
//   need {} (rows={} * head_dim={})", the same for out), then
//   "tq_inverse_rotate: out overlaps rotated without being the same buffer".
void TqInverseRotate(Queue& queue, const TqInverseRotateParams& params, ConstView rotated,
                     View out);
TqInverseRotateElements TqInverseRotateRequiredElements(const TqInverseRotateParams& params);

// ---- helpers ----------------------------------------------------------------------------------

// r_D: the binary32 value nearest 1/√head_dim (0.0625 for 256, 0x3D3504F3 for 512).
float TqRotationScale(uint32_t head_dim);

// Bytes each entry point reads plus bytes it writes, for GB/s figures (0 where it records
// nothing).
uint64_t HadamardQuantizeKvBytes(const HadamardQuantizeKvParams& params);
uint64_t HadamardQuantizeKvSeqBytes(const HadamardQuantizeKvSeqParams& params);
uint64_t HadamardQuantizeKvHbBytes(const HadamardQuantizeKvHbParams& params);
uint64_t HadamardQuantizeKvHbSeqBytes(const HadamardQuantizeKvHbSeqParams& params);
uint64_t TqDequantizeKvBytes(const TqDequantizeKvParams& params);
uint64_t TqDequantizeKvSeqBytes(const TqDequantizeKvSeqParams& params);
uint64_t TqDequantizeHbKvBytes(const TqDequantizeHbKvParams& params);
uint64_t TqDequantizeHbKvSeqBytes(const TqDequantizeHbKvSeqParams& params);
uint64_t TqInverseRotateBytes(const TqInverseRotateParams& params);

}  // namespace tgk
