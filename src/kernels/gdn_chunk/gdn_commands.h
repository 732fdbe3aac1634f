// What the tool commands of the chunked gated delta net (`tgk run gdn-chunk`, `gdn-solve`,
// `gdn-wu`, `gdn-state`, `gdn-output`) share: the options and text of their shape, and their
// random inputs in the layer's regime, gdn-chunk's (the spec's section 11): unit q and k rows,
// g ~ −0.1·U[0, 1) (natural log-decay), β ~ U[0.1, 1), v ~ N(0, 0.25), h0 ~ N(0, 0.01); a
// stage's intermediate inputs are what the stages before it make of those.
#pragma once

#include <CLI/CLI.hpp>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "kernel_command.h"
#include "tgk/convert.h"

namespace tgk::tool {

inline constexpr uint32_t kGdnChunk = 64;  // the chunk size of every stage

// NT, the chunks of T rows (the last may be partial).
inline uint64_t GdnChunks(uint32_t T) { return (uint64_t{T} + kGdnChunk - 1) / kGdnChunk; }

// The options of a shape {B, T, Hg, H, K, V} (GdnChunkShape, GdnWuShape, ...), named after the
// spec's symbols, in that order.
using GdnShapeOptions = std::array<const CLI::Option*, 6>;
template <class Shape>
GdnShapeOptions AddGdnShapeOptions(CLI::App& command, Shape& s, const char* k_help,
                                   const char* v_help) {
  const auto add = [&](const char* name, uint32_t& value, const char* help) {
    return command.add_option(name, value, help)->capture_default_str();
  };
  return {add("--B", s.B, "Batch size"),  add("--T", s.T, "Time steps"),
          add("--Hg", s.Hg, "Key heads"), add("--H", s.H, "Value heads (a multiple of Hg)"),
          add("--K", s.K, k_help),        add("--V", s.V, v_help)};
}

// "B=1 T=4096 Hg=16 H=32 K=128 V=128".
template <class Shape>
std::string GdnShapeText(const Shape& s) {
  return "B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " Hg=" + std::to_string(s.Hg) +
         " H=" + std::to_string(s.H) + " K=" + std::to_string(s.K) + " V=" + std::to_string(s.V);
}

// The shape an input file's tensors have bound; an option given must agree (FileShape::Take).
template <class Shape>
void TakeGdnShape(const FileShape& dims, const GdnShapeOptions& options, const Shape& defaults,
                  Shape& s) {
  s.B = dims.Take("B", options[0], defaults.B);
  s.T = dims.Take("T", options[1], defaults.T);
  s.Hg = dims.Take("Hg", options[2], defaults.Hg);
  s.H = dims.Take("H", options[3], defaults.H);
  s.K = dims.Take("K", options[4], defaults.K);
  s.V = dims.Take("V", options[5], defaults.V);
}

// Every row (the last dim) of bf16 `t`: N(0, 1) values scaled to unit L2 norm.
inline void DrawUnitRows(Random& random, Tensor& t) {
  const uint64_t n = t.shape.back();
  bf16* data = t.as<bf16>();
  std::vector<float> row(n);
  for (uint64_t r = 0; r < t.count() / n; ++r) {
    double norm = 0.0;
    for (float& x : row) {
      x = random.Normal();
      norm += double(x) * x;
    }
    for (uint64_t c = 0; c < n; ++c) data[r * n + c] = BF16FromF32(float(row[c] / std::sqrt(norm)));
  }
}

// f32 [B, T, H]: stage 2's G, the chunk-local cumulative sum (from row 0 of each chunk of 64)
// of gates g ~ −0.1·U[0, 1).
inline void DrawGateCumsum(Random& random, Tensor& g_cumsum) {
  const uint64_t T = g_cumsum.shape[1], H = g_cumsum.shape[2];
  float* data = g_cumsum.as<float>();
  for (uint64_t i = 0; i < g_cumsum.count(); ++i) data[i] = -0.1f * random.Uniform();
  for (uint64_t i = 0; i < g_cumsum.count(); ++i) {
    if ((i / H) % T % kGdnChunk != 0) data[i] += data[i - H];
  }
}

// `n` values β ~ U[0.1, 1).
inline void DrawBeta(Random& random, float* beta, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) beta[i] = 0.1f + 0.9f * random.Uniform();
}

// f32 [B, T, H, 64]: the strictly lower chunk blocks of kkt (stage 3) for unit key rows of
// `key_dim` elements, A[i][j] = β_i·(k_i·k_j)·exp(G_i − G_j) for j < i, +0 elsewhere, with the
// dot product of two independent unit rows drawn as N(0, 1/key_dim); G is `g_cumsum`
// [B, T, H], β `beta` [B·T·H]. With `inverse`, I − A instead, the inverse of I + A to first
// order (stage 4's A_inv: 1 on the diagonal, +0 above it).
inline void DrawChunkBlocks(Random& random, const Tensor& g_cumsum, const float* beta,
                            uint32_t key_dim, bool inverse, Tensor& A) {
  const uint64_t T = A.shape[1], H = A.shape[2];
  const float* G = g_cumsum.view().as<float>();
  float* data = A.as<float>();
  const float sigma = float(1.0 / std::sqrt(double(key_dim)));
  for (uint64_t row = 0; row < A.count() / kGdnChunk; ++row) {  // row = (b·T + t)·H + h
    const uint64_t i = (row / H) % T % kGdnChunk;
    for (uint64_t j = 0; j < kGdnChunk; ++j) {
      float a = j == i && inverse ? 1.0f : 0.0f;
      if (j < i) {
        const uint64_t col = row - (i - j) * H;  // (b·T + t0 + j)·H + h
        a = beta[row] * (random.Normal() * sigma) * std::exp(G[row] - G[col]);
        if (inverse) a = -a;
      }
      data[row * kGdnChunk + j] = a;
    }
  }
}

}  // namespace tgk::tool
