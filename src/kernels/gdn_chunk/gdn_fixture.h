// Reads the fixtures of testdata/make_fixtures.py: inputs and the spec model's stage outputs.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tgk/dtype.h"

namespace tgk::test {

struct GdnFixture {
  uint32_t B = 0, T = 0, Hg = 0, H = 0, K = 0, V = 0;
  float scale = 0.0f;
  std::vector<bf16> q, k, v;
  std::vector<float> g, beta, h0, g_cumsum, A, A_inv;
  std::vector<bf16> w, u, h, v_new;
  std::vector<float> final_state;
  std::vector<bf16> o, o_f64;
  std::vector<double> final_state_f64;
};

class FixtureReader {
 public:
  explicit FixtureReader(const std::string& path) : file_(path, std::ios::binary) {}
  bool ok() const { return bool(file_); }
  template <class T>
  std::vector<T> Read(size_t count) {
    std::vector<T> data(count);
    file_.read(reinterpret_cast<char*>(data.data()), std::streamsize(count * sizeof(T)));
    return data;
  }

 private:
  std::ifstream file_;
};

// The fixture at `path`; B == 0 when it could not be read.
inline GdnFixture ReadGdnFixture(const std::string& path) {
  GdnFixture f;
  FixtureReader in(path);
  if (!in.ok()) return f;
  const auto dims = in.Read<uint32_t>(6);
  f.scale = in.Read<float>(1)[0];
  const size_t key = size_t{dims[0]} * dims[1] * dims[2] * dims[4];
  const size_t rows = size_t{dims[0]} * dims[1] * dims[3];
  const size_t state = size_t{dims[0]} * dims[3] * dims[5] * dims[4];
  const size_t chunks = (dims[1] + 63) / 64;
  const uint32_t K = dims[4], V = dims[5];
  f.q = in.Read<bf16>(key);
  f.k = in.Read<bf16>(key);
  f.v = in.Read<bf16>(rows * V);
  f.g = in.Read<float>(rows);
  f.beta = in.Read<float>(rows);
  f.h0 = in.Read<float>(state);
  f.g_cumsum = in.Read<float>(rows);
  f.A = in.Read<float>(rows * 64);
  f.A_inv = in.Read<float>(rows * 64);
  f.w = in.Read<bf16>(rows * K);
  f.u = in.Read<bf16>(rows * V);
  f.h = in.Read<bf16>(chunks * state);
  f.v_new = in.Read<bf16>(rows * V);
  f.final_state = in.Read<float>(state);
  f.o = in.Read<bf16>(rows * V);
  f.o_f64 = in.Read<bf16>(rows * V);
  f.final_state_f64 = in.Read<double>(state);
  if (!in.ok()) return f;
  f.B = dims[0], f.T = dims[1], f.Hg = dims[2], f.H = dims[3], f.K = K, f.V = V;
  return f;
}

}  // namespace tgk::test
