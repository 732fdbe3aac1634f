// This machine's ceilings, measured in the same process as the kernel they judge: the f32 FMA
// peak of the best Highway target, and STREAM-like read and copy bandwidth. Every benchmark
// and `tgk bench` reports its kernels as a fraction of these.
//
// The machine's speed drifts (on a shared virtual machine memory bandwidth moves by tens of
// percent within seconds), so a kernel is judged against a ceiling measured next to it: one
// probe run just before each timed kernel run (the compute roof: just before the warm-up,
// see PairedPerRun), the fraction being the median of the per-run ratios (CeilingProbe,
// Median).
#pragma once

#include <memory>
#include <vector>

namespace tgk::perf {

// The ceiling that bounds a kernel, which also gives the unit of its work: flops for kFma,
// bytes moved for kRead (mostly reads) and kCopy (reads and writes alike).
enum class Roof {
  kFma,     // 2 flops per lane per fused multiply-add, all threads together
  kMulAdd,  // 2 flops per lane per multiply and add rounded apart (for kernels that must not fuse)
  kRead,    // sum of a 512 MiB f32 array (bytes read per second)
  kCopy,    // copy between two 256 MiB arrays (bytes read + bytes written per second)
};

// Times single runs of the ceilings with `threads` threads. Each thread touches the same
// static share of the arrays in every run and touched it first, so its pages are local to it.
// Not for concurrent use.
class CeilingProbe {
 public:
  explicit CeilingProbe(int threads);
  ~CeilingProbe();
  CeilingProbe(const CeilingProbe&) = delete;
  CeilingProbe& operator=(const CeilingProbe&) = delete;

  int threads() const { return threads_; }
  // Times one run of `roof` and returns its rate: GFLOP/s for kFma, GB/s otherwise.
  double Run(Roof roof);

 private:
  struct Arrays;
  int threads_;
  std::unique_ptr<Arrays> arrays_;
};

// Whether a kernel's timed runs are each paired with a probe run just before them. The memory
// roofs are: bandwidth drifts by tens of percent within seconds on a shared machine. The
// compute roofs are not: a core that has just run the probe's AVX-512 FMA loop can run slower
// for a while afterwards (on the lent Xeon kkt took 2.5-3.2 ms at 8 threads right after the
// probe, 2.1 ms without it), which would judge the kernel against a handicap. Their probes run
// together, before the kernel's warm-up, and the kernel's runs are judged against the best of
// them (UnpairedCeiling).
inline bool PairedPerRun(Roof roof) { return roof == Roof::kRead || roof == Roof::kCopy; }

// The yardstick of a compute roof's probe runs: their best. A probe runs at the core's peak or
// below it (a busy hyperthread sibling or another tenant of the host), never above, so the best
// of several is the peak. Their median, on a 2-vCPU Ice Lake VM whose neighbours came and went,
// read 125-301 GFLOP/s (FMA) across processes and judged kernels against whatever dip it caught.
double UnpairedCeiling(const std::vector<double>& probes);

// The process's probe for `threads` threads, created on first use, so that the 768 MiB of
// arrays are allocated and first-touched once however many kernels are measured.
CeilingProbe& SharedCeilingProbe(int threads);

// The median of `values` (the mean of the middle two for an even count); 0 when empty.
double Median(std::vector<double> values);

struct Ceilings {  // in the roofs' units per second
  int threads;
  double fma_gflops;
  double mul_add_gflops;
  double read_gbs;
  double copy_gbs;
};

// Each roof's best of several probe runs, measured once per thread count and cached for the
// process: the machine's capability, not a yardstick for a kernel (that is a paired probe run).
const Ceilings& MeasuredCeilings(int threads);

}  // namespace tgk::perf
