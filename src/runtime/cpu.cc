#include "tgk/detail/cpu.h"

namespace tgk::detail {

#if defined(__x86_64__) || defined(__i386__)
const bool kCpuHasAvx512Bf16 = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") != 0;
}();
#else
const bool kCpuHasAvx512Bf16 = false;
#endif

const float kOpaqueOne = 1.0f;

}  // namespace tgk::detail
