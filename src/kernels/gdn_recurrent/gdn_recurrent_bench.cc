// The recurrent gated delta net at the decode shape of the speed goal: one token for each of
// Sn = 64 sequences, Hk = 16, Hv = 32, Dk = Dv = 128, so 128 MiB of f32 state that does not stay
// in cache between calls. Work = the state read and written once (256 MiB a call), against
// STREAM copy measured beside each call; threads 1..nproc; both kernels, best target and the
// scalar oracle.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench_support.h"
#include "testing/aligned.h"
#include "testing/random.h"
#include "tgk/kernels/gdn_recurrent.h"

namespace {

struct Problem {
  tgk::GdnRecurrentShape shape{64, 1, 16, 32, 128, 128};
  tgk::test::AlignedVector<float> q, k, v, g, beta, state_in, y, state_out;

  Problem() {
    tgk::test::Random random(1);
    const tgk::GdnRecurrentShape& s = shape;
    const size_t qk = size_t{s.Sn} * s.T * s.Hk * s.Dk, vo = size_t{s.Sn} * s.T * s.Hv * s.Dv;
    const size_t gates = size_t{s.Sn} * s.T * s.Hv, states = size_t{s.Sn} * s.Hv * s.Dv * s.Dk;
    q = tgk::test::Aligned(random.Vector<float>(qk, tgk::test::Normal(0.0f, 0.0884f)));
    k = tgk::test::Aligned(random.Vector<float>(qk, tgk::test::Normal(0.0f, 0.0884f)));
    v = tgk::test::Aligned(random.Vector<float>(vo, tgk::test::Normal()));
    g = tgk::test::Aligned(random.Vector<float>(gates, tgk::test::Uniform(0.05f, 0.5f)));
    beta = tgk::test::Aligned(random.Vector<float>(gates, tgk::test::Uniform(0.0f, 1.0f)));
    state_in = tgk::test::Aligned(random.Vector<float>(states, tgk::test::Normal(0.0f, 0.5f)));
    y.resize(vo);
    state_out.resize(states);
  }
};

void Run(benchmark::State& state, tgk::Target target, tgk::GdnRecurrentKernel kernel) {
  static Problem p;
  tgk::Queue queue(tgk::QueueOptions{.threads = int(state.range(0)), .target = target});
  const auto c = [](const tgk::test::AlignedVector<float>& x) {
    return tgk::ConstView::Of<float>(x.data(), x.size());
  };
  tgk::perf::TimeAgainstCeiling(state, queue, tgk::perf::Roof::kCopy,
                                tgk::GdnRecurrentStateBytes(p.shape), [&](tgk::Queue& q) {
                                  tgk::GatedDeltaRuleRecurrent(
                                      q, p.shape, c(p.q), c(p.k), c(p.v), c(p.g), c(p.beta), 1.0f,
                                      c(p.state_in), tgk::View::Of<float>(p.y.data(), p.y.size()),
                                      tgk::View::Of<float>(p.state_out.data(), p.state_out.size()),
                                      kernel);
                                });
}

void BM_GdnRecurrentDecodeBest(benchmark::State& state) {
  Run(state, tgk::BestTarget(), tgk::GdnRecurrentKernel::kDecode);
}
BENCHMARK(BM_GdnRecurrentDecodeBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnRecurrentSerialBest(benchmark::State& state) {
  Run(state, tgk::BestTarget(), tgk::GdnRecurrentKernel::kSerial);
}
BENCHMARK(BM_GdnRecurrentSerialBest)->Apply(tgk::perf::ThreadArgs);

void BM_GdnRecurrentScalarOracle(benchmark::State& state) {
  Run(state, tgk::Target::Scalar(), tgk::GdnRecurrentKernel::kSerial);
}
BENCHMARK(BM_GdnRecurrentScalarOracle)->Apply(tgk::perf::ThreadArgs)->Iterations(1);

}  // namespace
