// Facts about the CPU, and a constant, that tgk's per-target operations read at run time
// (src/runtime/cpu.cc). Highway 1.0.3's targets do not name these features; an operation that
// uses one where the CPU has it falls back, with the same bits, where it has not.
#pragma once

namespace tgk::detail {

// AVX512_BF16 (Cooper Lake, Sapphire Rapids and later Xeons, Zen 4; not Ice Lake, which runs
// the same AVX3_DL target): the CPU's own f32 → bf16 conversion (convert-inl.h). Set when the
// library loads; a kernel that runs before then (from another static initialiser) reads false
// and takes the fallback.
extern const bool kCpuHasAvx512Bf16;

// 1.0f, defined in the library so that the compiler cannot fold a multiplication by it: x·1
// quiets a signalling NaN (convert-inl.h), which a compiler that sees the one removes.
extern const float kOpaqueOne;

}  // namespace tgk::detail
