// The chunked Gated DeltaNet: tgk's references of stages 2–7 against the spec's numpy model
// (fixtures of testdata/make_fixtures.py: each stage fed the model's own inputs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/gdn_chunk/gdn_chunk_reference.h"
#include "kernels/gdn_chunk/gdn_fixture.h"
#include "kernels/gdn_output/gdn_output_reference.h"
#include "kernels/gdn_solve/gdn_solve_reference.h"
#include "kernels/gdn_state/gdn_state_reference.h"
#include "kernels/gdn_wu/gdn_wu_reference.h"
#include "tgk/convert.h"

namespace tgk {
namespace {

const char* const kFixtures[] = {"gdn_chunk_case1.bin", "gdn_chunk_case2.bin",
                                 "gdn_chunk_case3.bin", "gdn_chunk_case4.bin",
                                 "gdn_chunk_case5.bin"};

test::GdnFixture Load(const char* name) {
  const auto f = test::ReadGdnFixture(std::string(TGK_GDN_TESTDATA) + "/" + name);
  EXPECT_GT(f.B, 0u) << name;
  return f;
}

std::string Describe(const test::GdnFixture& f) {
  return "B=" + std::to_string(f.B) + " T=" + std::to_string(f.T) + " Hg=" + std::to_string(f.Hg) +
         " H=" + std::to_string(f.H) + " K=" + std::to_string(f.K) + " V=" + std::to_string(f.V);
}

float Value(float x) { return x; }
float Value(bf16 x) { return F32FromBF16(x); }

template <class T>
bool SameBits(const std::vector<T>& x, const std::vector<T>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(T)) == 0;
}

struct Agreement {
  double max_abs_diff = 0.0, max_abs_ref = 0.0;
  size_t differ = 0, count = 0;
};

template <class T>
Agreement Compare(const std::vector<T>& got, const std::vector<T>& want) {
  Agreement a;
  a.count = want.size();
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const double d = std::abs(double(Value(got[i])) - double(Value(want[i])));
    if (!(d <= a.max_abs_diff)) a.max_abs_diff = d;  // NaN propagates
    a.max_abs_ref = std::max(a.max_abs_ref, std::abs(double(Value(want[i]))));
    a.differ += std::memcmp(&got[i], &want[i], sizeof(T)) != 0;
  }
  return a;
}

double UlpBf16(double x) { return std::ldexp(1.0, int(std::floor(std::log2(x))) - 7); }

// The f32-mode agreement of a stage whose only difference from the model is tgk's exp (within
// 0.94 f32 ulp; the model's is correctly rounded): a bf16 output moves by at most one rounding
// step of its largest magnitude, in a few elements.
template <class T>
void ExpectExpLevelAgreement(const char* what, const std::vector<T>& got,
                             const std::vector<T>& want) {
  const Agreement a = Compare(got, want);
  SCOPED_TRACE(what);
  EXPECT_LE(a.max_abs_diff, UlpBf16(a.max_abs_ref)) << a.differ << " of " << a.count << " differ";
  EXPECT_LE(double(a.differ), 0.01 * double(a.count));
}

TEST(GdnReferenceTest, Stage2CumsumIsTheModelsBitwise) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    const GdnReferenceShape s{f.B, f.T, f.Hg, f.H, f.K, f.V};
    EXPECT_TRUE(SameBits(GdnCumsumReference(s, f.g.data()), f.g_cumsum));
  }
}

TEST(GdnReferenceTest, Stage3KktAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    const GdnReferenceShape s{f.B, f.T, f.Hg, f.H, f.K, f.V};
    const Agreement a =
        Compare(GdnKktReference(s, f.k.data(), f.beta.data(), f.g_cumsum.data()), f.A);
    EXPECT_LE(a.max_abs_diff, 2e-7 * std::max(1.0, a.max_abs_ref));
  }
}

// No exp in stage 4: the same binary32 operations in the same order give the model's bits.
TEST(GdnReferenceTest, Stage4SolveIsTheModelsBitwise) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<float> a_inv(f.A_inv.size());
    GdnSolveReference({f.B, f.T, f.H}, f.A.data(), a_inv.data());
    EXPECT_TRUE(SameBits(a_inv, f.A_inv));
  }
}

// u has no exp: the model's bits; w's rows carry exp(G).
TEST(GdnReferenceTest, Stage5WuAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<bf16> w(f.w.size()), u(f.u.size());
    GdnWuReference({f.B, f.T, f.Hg, f.H, f.K, f.V}, f.k.data(), f.v.data(), f.beta.data(),
                   f.g_cumsum.data(), f.A_inv.data(), w.data(), u.data());
    EXPECT_TRUE(SameBits(u, f.u));
    ExpectExpLevelAgreement("w", w, f.w);
  }
}

TEST(GdnReferenceTest, Stage6StateAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<bf16> h(f.h.size()), v_new(f.v_new.size());
    std::vector<float> final_state(f.final_state.size());
    GdnStateReference({f.B, f.T, f.Hg, f.H, f.K, f.V}, f.k.data(), f.w.data(), f.u.data(),
                      f.g_cumsum.data(), f.h0.data(), h.data(), v_new.data(), final_state.data());
    ExpectExpLevelAgreement("h", h, f.h);
    ExpectExpLevelAgreement("v_new", v_new, f.v_new);
    const Agreement a = Compare(final_state, f.final_state);
    EXPECT_LE(a.max_abs_diff, 1e-5 * a.max_abs_ref);
  }
}

TEST(GdnReferenceTest, Stage7OutputAgreesWithTheModel) {
  for (const char* name : kFixtures) {
    const auto f = Load(name);
    SCOPED_TRACE(Describe(f));
    std::vector<bf16> o(f.o.size());
    GdnOutputReference({f.B, f.T, f.Hg, f.H, f.K, f.V}, f.q.data(), f.k.data(), f.v_new.data(),
                       f.h.data(), f.g_cumsum.data(), f.scale, o.data());
    ExpectExpLevelAgreement("o", o, f.o);
  }
}

}  // namespace
}  // namespace tgk
