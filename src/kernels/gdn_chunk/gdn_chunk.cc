// The chunked Gated DeltaNet forward: the validating entry point that records stages 1–7.
#include "tgk/kernels/gdn_chunk.h"

#include <span>
#include <string_view>

#include "kernels/gdn_chunk/gdn_common.h"
#include "tgk/kernels/gdn_cumsum.h"
#include "tgk/kernels/gdn_l2norm.h"
#include "tgk/kernels/gdn_output.h"
#include "tgk/kernels/gdn_solve.h"
#include "tgk/kernels/gdn_state.h"
#include "tgk/kernels/gdn_wu.h"
#include "tgk/kernels/kkt.h"

namespace tgk {
namespace {

using detail::Cat;

constexpr uint32_t kMaxK = 512;  // the kkt stage's limit
// The prefix of the orchestrator's messages, the spec's.
constexpr std::string_view kPrefix = "chunk_gated_delta_rule_fwd";

size_t Align(size_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace

GdnChunkScratchLayout GdnChunkScratch(const GdnChunkShape& s, bool use_qk_l2norm) {
  const size_t rows = size_t{s.B} * s.T * s.H;
  GdnChunkScratchLayout l{};
  size_t at = 0;
  const auto take = [&](size_t bytes) {
    const size_t offset = at;
    at += Align(bytes);
    return offset;
  };
  l.g_cumsum = take(rows * sizeof(float));
  l.A = take(rows * gdn::kChunk * sizeof(float));
  l.A_inv = take(rows * gdn::kChunk * sizeof(float));
  l.w = take(rows * s.K * sizeof(bf16));
  l.u = take(rows * s.V * sizeof(bf16));
  l.h = take(size_t{s.B} * gdn::Chunks(s.T) * s.H * s.V * s.K * sizeof(bf16));
  l.v_new = take(rows * s.V * sizeof(bf16));
  const size_t keys = use_qk_l2norm ? size_t{s.B} * s.T * s.Hg * s.K : 0;
  l.q_n = take(keys * sizeof(bf16));
  l.k_n = take(keys * sizeof(bf16));
  l.bytes = at;
  return l;
}

namespace {

// One run of the stages over rows of the same length: a batch, or one sequence of a
// variable-length batch.
struct Segment {
  GdnChunkShape s;
  ConstView q, k, v, g, beta, h0;
  View o, final_state;
};

// Elements [at, at + count) of a view.
ConstView Slice(ConstView view, size_t at, size_t count) {
  return ConstView(static_cast<const uint8_t*>(view.data()) + at * SizeOf(view.dtype()), count,
                   view.dtype());
}
View Slice(View view, size_t at, size_t count) {
  return View(static_cast<uint8_t*>(view.data()) + at * SizeOf(view.dtype()), count, view.dtype());
}

// The checks of the spec's section 3 that involve the shape and the scale only.
void CheckShape(const GdnChunkShape& s, float scale) {
  gdn::CheckDims(kPrefix, {s.B, s.T, s.Hg, s.H, s.K, s.V, s.BT});
  if (s.H % s.Hg != 0) {
    ThrowInvalidArgument(Cat(kPrefix, ": H (", s.H, ") must be a multiple of Hg (", s.Hg, ")"));
  }
  if (s.K % 64 != 0 || s.K > kMaxK) {
    ThrowInvalidArgument(Cat(kPrefix, ": K (", s.K,
                             ") must be a multiple of 64 and at most 512 (the kkt stage's limit; "
                             "tgk lifts the Metal pipeline's K = 128)"));
  }
  if (s.V > gdn::kMaxDim) {
    ThrowInvalidArgument(
        Cat(kPrefix, ": V (", s.V, ") exceeds chunk-pipeline cap (MAX_V = ", gdn::kMaxDim, ")"));
  }
  gdn::CheckChunkSize(kPrefix, " (iter 4)", s.BT);
  gdn::CheckScale(kPrefix, scale);
}

// Counts and dtypes of the buffers, in the spec's order; `states` state tensors [states, H, V, K].
void CheckBuffers(const GdnChunkShape& s, uint64_t states, ConstView q, ConstView k, ConstView v,
                  ConstView g, ConstView beta, ConstView initial_state, ConstView o,
                  ConstView final_state) {
  const uint64_t keys = gdn::Count(kPrefix, {s.B, s.T, s.Hg, s.K}, "q");
  const uint64_t rows = gdn::Count(kPrefix, {s.B, s.T, s.H}, "g_log_decay");
  const uint64_t values = gdn::Count(kPrefix, {rows, s.V}, "v");
  const uint64_t state = gdn::Count(kPrefix, {states, s.H, s.V, s.K}, "h0");
  const struct {
    const char* name;
    ConstView view;
    uint64_t count;
    DType dtype;
  } buffers[] = {{"q", q, keys, DType::kBF16},
                 {"k", k, keys, DType::kBF16},
                 {"v", v, values, DType::kBF16},
                 {"o", o, values, DType::kBF16},
                 {"g_log_decay", g, rows, DType::kF32},
                 {"beta", beta, rows, DType::kF32},
                 {"h0", initial_state, state, DType::kF32},
                 {"final_state", final_state, state, DType::kF32}};
  for (const auto& b : buffers) gdn::CheckBuffer(kPrefix, b.name, b.view, b.count, b.dtype);
}

void CheckScratch(View scratch, size_t bytes) {
  if (scratch.dtype() != DType::kU8 || scratch.count() < bytes) {
    ThrowInvalidArgument(Cat(kPrefix, ": scratch must be u8[>= ", bytes, "] (got ", scratch.count(),
                             " ", Name(scratch.dtype()), ")"));
  }
  gdn::CheckNotNull(kPrefix, "scratch", scratch);
}

template <class T>
auto Typed(uint8_t* base, size_t offset, size_t count) {
  return View::Of<T>(reinterpret_cast<T*>(base + offset), count);
}

// Records the stages for segments 0 .. n−1 (segment(i) gives each; their scratch areas follow
// each other from `scratch`): every segment's stage, then a memory barrier, stage after stage;
// the segments' dispatches of one stage may run together. Stage 1 (q and k into q_n and k_n)
// shares stage 2's step: the cumsum reads neither.
template <class SegmentAt>
void RecordStages(Queue& queue, size_t n, const SegmentAt& segment, uint8_t* scratch, float scale,
                  bool use_qk_l2norm) {
  for (int stage = 2; stage <= 7; ++stage) {
    uint8_t* at = scratch;
    for (size_t i = 0; i < n; ++i) {
      const Segment x = segment(i);
      const GdnChunkShape& s = x.s;
      const GdnChunkScratchLayout l = GdnChunkScratch(s, use_qk_l2norm);
      uint8_t* const base = at;
      at += l.bytes;
      const size_t rows = size_t{s.B} * s.T * s.H;
      const size_t state = size_t{s.B} * s.H * s.V * s.K;
      const View g_cumsum = Typed<float>(base, l.g_cumsum, rows);
      const View a = Typed<float>(base, l.A, rows * gdn::kChunk);
      const View a_inv = Typed<float>(base, l.A_inv, rows * gdn::kChunk);
      const View w = Typed<bf16>(base, l.w, rows * s.K);
      const View u = Typed<bf16>(base, l.u, rows * s.V);
      const View h = Typed<bf16>(base, l.h, gdn::Chunks(s.T) * state);
      const View v_new = Typed<bf16>(base, l.v_new, rows * s.V);
      const size_t keys = size_t{s.B} * s.T * s.Hg * s.K;
      const View q_n = Typed<bf16>(base, l.q_n, keys), k_n = Typed<bf16>(base, l.k_n, keys);
      const ConstView q = use_qk_l2norm ? ConstView(q_n) : x.q;
      const ConstView k = use_qk_l2norm ? ConstView(k_n) : x.k;
      switch (stage) {
        case 2:
          if (use_qk_l2norm) {
            const GdnL2NormShape norm{size_t{s.B} * s.T * s.Hg, s.K};
            GatedDeltaNetL2Norm(queue, norm, x.q, q_n);
            GatedDeltaNetL2Norm(queue, norm, x.k, k_n);
          }
          GatedDeltaNetChunkCumsum(queue, GdnCumsumShape{s.B, s.T, s.H}, x.g, g_cumsum);
          break;
        case 3:
          GatedDeltaNetKkt(queue, KktShape{s.B, s.T, s.Hg, s.H, s.K}, k, x.beta, g_cumsum, a);
          break;
        case 4:
          GatedDeltaNetSolve(queue, GdnSolveShape{s.B, s.T, s.H}, a, a_inv);
          break;
        case 5:
          GatedDeltaNetRecomputeWu(queue, GdnWuShape{s.B, s.T, s.Hg, s.H, s.K, s.V}, k, x.v, x.beta,
                                   g_cumsum, a_inv, w, u);
          break;
        case 6:
          GatedDeltaNetChunkState(queue, GdnStateShape{s.B, s.T, s.Hg, s.H, s.K, s.V}, k, w, u,
                                  g_cumsum, x.h0, h, v_new, x.final_state);
          break;
        default:
          GatedDeltaNetChunkOutput(queue, GdnOutputShape{s.B, s.T, s.Hg, s.H, s.K, s.V}, q, k,
                                   v_new, h, g_cumsum, scale, x.o);
      }
    }
    if (stage < 7) queue.memory_barrier();
  }
}

}  // namespace

void GatedDeltaRuleChunkForward(Queue& queue, const GdnChunkShape& s, ConstView q, ConstView k,
                                ConstView v, ConstView g, ConstView beta, float scale,
                                ConstView initial_state, View o, View final_state, View scratch,
                                bool use_qk_l2norm) {
  CheckShape(s, scale);
  CheckBuffers(s, s.B, q, k, v, g, beta, initial_state, o, final_state);
  CheckScratch(scratch, GdnChunkScratch(s, use_qk_l2norm).bytes);
  const Segment whole{s, q, k, v, g, beta, initial_state, o, final_state};
  RecordStages(
      queue, 1, [&](size_t) { return whole; }, scratch.as<uint8_t>(), scale, use_qk_l2norm);
}

size_t GdnChunkVarlenScratchBytes(const GdnChunkShape& s, std::span<const uint64_t> cu_seqlens,
                                  bool use_qk_l2norm) {
  size_t bytes = 0;
  for (size_t i = 0; i + 1 < cu_seqlens.size(); ++i) {
    GdnChunkShape one = s;
    one.B = 1;
    one.T = uint32_t(cu_seqlens[i + 1] - cu_seqlens[i]);
    bytes += GdnChunkScratch(one, use_qk_l2norm).bytes;
  }
  return bytes;
}

void GatedDeltaRuleChunkForwardVarlen(Queue& queue, const GdnChunkShape& s,
                                      std::span<const uint64_t> cu_seqlens, ConstView q,
                                      ConstView k, ConstView v, ConstView g, ConstView beta,
                                      float scale, ConstView initial_state, View o,
                                      View final_state, View scratch, bool use_qk_l2norm) {
  CheckShape(s, scale);
  if (s.B != 1) {
    ThrowInvalidArgument(
        Cat(kPrefix, ": B (", s.B, ") must be 1 with cu_seqlens (the sequences lie along T)"));
  }
  if (cu_seqlens.size() < 2 || cu_seqlens.front() != 0 || cu_seqlens.back() != s.T) {
    ThrowInvalidArgument(Cat(kPrefix, ": cu_seqlens must run from 0 to T (", s.T,
                             ") in at least 2 offsets (got ", cu_seqlens.size(), " offsets)"));
  }
  for (size_t i = 0; i + 1 < cu_seqlens.size(); ++i) {
    if (cu_seqlens[i + 1] <= cu_seqlens[i]) {
      ThrowInvalidArgument(Cat(kPrefix, ": cu_seqlens must be strictly increasing (offset ", i + 1,
                               " is ", cu_seqlens[i + 1], " after ", cu_seqlens[i], ")"));
    }
  }
  const size_t sequences = cu_seqlens.size() - 1;
  CheckBuffers(s, sequences, q, k, v, g, beta, initial_state, o, final_state);
  CheckScratch(scratch, GdnChunkVarlenScratchBytes(s, cu_seqlens, use_qk_l2norm));
  const size_t state = size_t{s.H} * s.V * s.K;
  const size_t keys = size_t{s.Hg} * s.K, values = size_t{s.H} * s.V;
  const auto sequence = [&](size_t i) {
    const uint64_t bos = cu_seqlens[i], t = cu_seqlens[i + 1] - bos;
    GdnChunkShape one = s;
    one.T = uint32_t(t);
    return Segment{one,
                   Slice(q, bos * keys, t * keys),
                   Slice(k, bos * keys, t * keys),
                   Slice(v, bos * values, t * values),
                   Slice(g, bos * s.H, t * s.H),
                   Slice(beta, bos * s.H, t * s.H),
                   Slice(initial_state, i * state, state),
                   Slice(o, bos * values, t * values),
                   Slice(final_state, i * state, state)};
  };
  RecordStages(queue, sequences, sequence, scratch.as<uint8_t>(), scale, use_qk_l2norm);
}

double GdnChunkFlops(const GdnChunkShape& s) {
  return KktFlops(KktShape{s.B, s.T, s.Hg, s.H, s.K}) + GdnSolveFlops({s.B, s.T, s.H}) +
         GdnWuFlops({s.B, s.T, s.Hg, s.H, s.K, s.V}) +
         GdnStateFlops({s.B, s.T, s.Hg, s.H, s.K, s.V}) +
         GdnOutputFlops({s.B, s.T, s.Hg, s.H, s.K, s.V});
}

}  // namespace tgk
