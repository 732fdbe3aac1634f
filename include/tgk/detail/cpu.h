// CPU features that Highway 1.0.3's targets do not name but tgk's per-target operations use
// where the CPU has them, with a fallback that gives the same bits where it has not.
#pragma once

namespace tgk::detail {

// AVX512_BF16 (Cooper Lake, Sapphire Rapids and later Xeons, Zen 4; not Ice Lake, which runs
// the same AVX3_DL target): the CPU's own f32 → bf16 conversion (convert-inl.h). Read once at
// load time; a kernel that runs before then (from another static initialiser) sees false and
// takes the fallback, which gives the same bits.
#if defined(__x86_64__) || defined(__i386__)
inline const bool kCpuHasAvx512Bf16 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") != 0;
}();
#else
inline constexpr bool kCpuHasAvx512Bf16 = false;
#endif

}  // namespace tgk::detail
