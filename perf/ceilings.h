// This machine's ceilings, measured in the same process as the kernel they judge: the f32 FMA
// peak of the best Highway target, and STREAM-like read and copy bandwidth. Every benchmark
// and `tgk bench` reports its kernels as a fraction of these.
#pragma once

namespace tgk::perf {

struct Ceilings {
  int threads;
  double fma_gflops;  // 2 flops per lane per fused multiply-add, all threads together
  double read_gbs;    // sum of a 512 MiB f32 array (bytes read per second)
  double copy_gbs;    // copy between two 256 MiB arrays (bytes read + bytes written per second)
};

// Measured once per thread count (best of several runs) and cached for the process.
const Ceilings& MeasuredCeilings(int threads);

}  // namespace tgk::perf
