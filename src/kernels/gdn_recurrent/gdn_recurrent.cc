// gated_delta_net_f32 and gated_delta_net_decode_f32: per-target instantiation of the functor
// and the validating host entry points.

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gdn_recurrent/gdn_recurrent.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/gdn_recurrent/gdn_recurrent-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tgk {
namespace HWY_NAMESPACE {
TGK_DEFINE_KERNEL_RUNNERS(GdnRecurrentKernel, GdnRecurrentArgs)
TGK_DEFINE_KERNEL_RUNNERS(GdnRecurrentDecodeKernel, GdnRecurrentArgs)
}  // namespace HWY_NAMESPACE
}  // namespace tgk
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <string_view>

#include "kernels/gdn_chunk/gdn_common.h"
#include "kernels/gdn_recurrent/gdn_recurrent.h"

namespace tgk {

TGK_EXPORT_KERNEL(GdnRecurrentKernel, "gated_delta_net_f32")
TGK_EXPORT_KERNEL(GdnRecurrentDecodeKernel, "gated_delta_net_decode_f32")

namespace {

// The tensor names of one entry point, in the spec's order of checks.
struct Names {
  const char* prefix;
  const char* state_in;
  const char* output;
  const char* state_out;
};

constexpr Names kKernelNames{"gated_delta_net", "state_in", "output", "state_out"};
constexpr Names kDecodeNames{"gated_delta_net_decode", "state_in", "output", "state_out"};
constexpr Names kLayerNames{"gated_delta_rule_recurrent", "h0", "o", "final_state"};

// Messages are built only when a check fails: a valid call allocates nothing.
void Validate(const Names& names, GdnRecurrentKernel kernel, const GdnRecurrentShape& s,
              const float* scale, const ConstView* cu_seqlens, ConstView q, ConstView k,
              ConstView v, ConstView g, ConstView beta, ConstView state_in, ConstView output,
              ConstView state_out) {
  using detail::Cat;
  const std::string_view p = names.prefix;
  if (s.Dk == 0 || s.Dv == 0 || s.Hk == 0 || s.Hv == 0) {
    ThrowInvalidArgument(Cat(p, ": dims must all be > 0"));
  }
  if (s.T == 0 || s.Sn == 0) ThrowInvalidArgument(Cat(p, ": n_tokens and n_seqs must be > 0"));
  if (s.Hv % s.Hk != 0) {
    ThrowInvalidArgument(
        Cat(p, ": n_v_heads (", s.Hv, ") must be a multiple of n_k_heads (", s.Hk, ")"));
  }
  if (kernel == GdnRecurrentKernel::kDecode && s.Dk % kGdnSimdWidth != 0) {
    ThrowInvalidArgument(Cat(p, ": D_k (", s.Dk, ") must be a multiple of 32 (simdgroup width)"));
  }
  if (s.Dk > kGdnMaxDk) {
    ThrowInvalidArgument(Cat(p, ": d_k (", s.Dk, ") must be <= ", kGdnMaxDk,
                             " (tgk lifts the Metal kernel's MAX_STATE_D = 128; a group's state "
                             "columns live in one threadgroup arena)"));
  }
  if (scale != nullptr) gdn::CheckScale(p, *scale);
  if (cu_seqlens != nullptr) {
    const ConstView& cu = *cu_seqlens;
    gdn::CheckBuffer(p, "cu_seqlens", cu, uint64_t{s.Sn} + 1, DType::kI32);
    const int32_t* offsets = cu.as<int32_t>();
    if (offsets[0] != 0) {
      ThrowInvalidArgument(Cat(p, ": cu_seqlens[0] must be 0 (got ", offsets[0], ")"));
    }
    for (uint32_t n = 0; n < s.Sn; ++n) {
      if (offsets[n + 1] <= offsets[n]) {
        ThrowInvalidArgument(Cat(p, ": cu_seqlens must increase strictly (cu_seqlens[", n, "] = ",
                                 offsets[n], ", cu_seqlens[", n + 1, "] = ", offsets[n + 1], ")"));
      }
    }
    if (int64_t{offsets[s.Sn]} != int64_t{s.T}) {
      ThrowInvalidArgument(
          Cat(p, ": cu_seqlens[", s.Sn, "] (", offsets[s.Sn], ") != n_tokens (", s.T, ")"));
    }
  }
  // Tokens of all sequences together: Sn·T, or T packed sequences with cu_seqlens.
  const uint64_t seqs = cu_seqlens != nullptr ? 1 : s.Sn;
  const auto check = [&](std::string_view name, ConstView view, uint64_t n) {
    gdn::CheckBuffer(p, name, view, n, DType::kF32);
  };
  const uint64_t qk = gdn::Count(p, {s.Dk, s.Hk, s.T, seqs}, "q");
  const uint64_t vo = gdn::Count(p, {s.Dv, s.Hv, s.T, seqs}, "v");
  const uint64_t gb = gdn::Count(p, {s.Hv, s.T, seqs}, "g");
  const uint64_t st = gdn::Count(p, {s.Dk, s.Dv, s.Hv, s.Sn}, names.state_in);
  check("q", q, qk);
  check("k", k, qk);
  check("v", v, vo);
  check(names.output, output, vo);
  check("g", g, gb);
  check("beta", beta, gb);
  check(names.state_in, state_in, st);
  check(names.state_out, state_out, st);
}

void Record(Queue& queue, GdnRecurrentKernel kernel, const GdnRecurrentShape& s, float scale,
            const int32_t* cu_seqlens, ConstView q, ConstView k, ConstView v, ConstView g,
            ConstView beta, ConstView state_in, View output, View state_out) {
  const uint32_t rows = std::min(s.Dv, kGdnRowsPerGroup);
  const GdnRecurrentArgs args{q.as<float>(),
                              k.as<float>(),
                              v.as<float>(),
                              g.as<float>(),
                              beta.as<float>(),
                              state_in.as<float>(),
                              output.as<float>(),
                              state_out.as<float>(),
                              cu_seqlens,
                              scale,
                              s.Sn,
                              s.T,
                              s.Hk,
                              s.Hv,
                              s.Dk,
                              s.Dv,
                              rows};
  const ArenaSizes arenas{size_t{s.Dk} * rows * sizeof(float),
                          (size_t{kGdnMaxPackWidth} * rows + kGdnMaxPackWidth) * sizeof(float)};
  const Dim3 grid{(s.Dv + rows - 1) / rows, s.Hv, s.Sn};
  queue.dispatch(kernel == GdnRecurrentKernel::kDecode ? GdnRecurrentDecodeKernelEntry()
                                                       : GdnRecurrentKernelEntry(),
                 grid, rows, arenas, args);
}

}  // namespace

void GatedDeltaNet(Queue& queue, const GdnRecurrentShape& shape, ConstView q, ConstView k,
                   ConstView v, ConstView g, ConstView beta, ConstView state_in, View output,
                   View state_out) {
  Validate(kKernelNames, GdnRecurrentKernel::kSerial, shape, nullptr, nullptr, q, k, v, g, beta,
           state_in, output, state_out);
  Record(queue, GdnRecurrentKernel::kSerial, shape, 1.0f, nullptr, q, k, v, g, beta, state_in,
         output, state_out);
}

void GatedDeltaNetDecode(Queue& queue, const GdnRecurrentShape& shape, ConstView q, ConstView k,
                         ConstView v, ConstView g, ConstView beta, ConstView state_in, View output,
                         View state_out) {
  Validate(kDecodeNames, GdnRecurrentKernel::kDecode, shape, nullptr, nullptr, q, k, v, g, beta,
           state_in, output, state_out);
  Record(queue, GdnRecurrentKernel::kDecode, shape, 1.0f, nullptr, q, k, v, g, beta, state_in,
         output, state_out);
}

void GatedDeltaRuleRecurrent(Queue& queue, const GdnRecurrentShape& shape, ConstView q, ConstView k,
                             ConstView v, ConstView g, ConstView beta, float scale, ConstView h0,
                             View o, View final_state, GdnRecurrentKernel kernel) {
  Validate(kLayerNames, kernel, shape, &scale, nullptr, q, k, v, g, beta, h0, o, final_state);
  Record(queue, kernel, shape, scale, nullptr, q, k, v, g, beta, h0, o, final_state);
}

void GatedDeltaRuleRecurrentVarlen(Queue& queue, const GdnRecurrentShape& shape,
                                   ConstView cu_seqlens, ConstView q, ConstView k, ConstView v,
                                   ConstView g, ConstView beta, float scale, ConstView h0, View o,
                                   View final_state, GdnRecurrentKernel kernel) {
  Validate(kLayerNames, kernel, shape, &scale, &cu_seqlens, q, k, v, g, beta, h0, o, final_state);
  Record(queue, kernel, shape, scale, cu_seqlens.as<int32_t>(), q, k, v, g, beta, h0, o,
         final_state);
}

double GdnRecurrentStateBytes(const GdnRecurrentShape& s) {
  return 8.0 * s.Dk * s.Dv * s.Hv * s.Sn;
}

double GdnRecurrentFlops(const GdnRecurrentShape& s) {
  return 7.0 * s.Dk * s.Dv * s.Hv * s.Sn * s.T;
}

}  // namespace tgk
#endif  // HWY_ONCE
