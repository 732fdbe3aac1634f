// What the tool commands of the gated delta net share: the options and text of their shape
// (every gdn-* command and kkt), and the random inputs of the chunked path's (`tgk run
// gdn-chunk`, `gdn-solve`, `gdn-wu`, `gdn-state`, `gdn-output`) in the layer's regime,
// gdn-chunk's (the spec's section 11): unit q and k rows, g ~ −0.1·U[0, 1) (natural
// log-decay), β ~ U[0.1, 1), v ~ N(0, 0.25), h0 ~ N(0, 0.01); a stage's intermediate inputs
// are what the stages before it make of those.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernel_command.h"
#include "tgk/convert.h"

namespace tgk::tool {

inline constexpr uint32_t kGdnChunk = 64;  // the chunk size of every stage

// NT, the chunks of T rows (the last may be partial).
inline uint64_t GdnChunks(uint32_t T) { return (uint64_t{T} + kGdnChunk - 1) / kGdnChunk; }

// A shape's dims as options named after the spec's symbols (--B, --T, ...): the options, the
// values an input file gives the dims, and their text ("B=1 T=4096 H=32"), each in the order
// of `dims`.
template <class Shape>
class ShapeOptions {
 public:
  struct Dim {
    const char* symbol;
    uint32_t Shape::*value;
    const char* help;
  };
  explicit ShapeOptions(std::vector<Dim> dims) : dims_(std::move(dims)) {}

  // Binds each dim of `s` to its option, showing its default.
  void Add(CLI::App& command, Shape& s) {
    for (const Dim& d : dims_) {
      options_.push_back(command.add_option(std::string("--") + d.symbol, s.*d.value, d.help)
                             ->capture_default_str());
    }
  }
  // The dims an input file's tensors have bound; an option given must agree (FileShape::Take).
  void Take(const FileShape& file, const Shape& defaults, Shape& s) const {
    for (size_t i = 0; i < dims_.size(); ++i) {
      s.*dims_[i].value = file.Take(dims_[i].symbol, options_[i], defaults.*dims_[i].value);
    }
  }
  std::string Text(const Shape& s) const {
    std::string text;
    for (const Dim& d : dims_) {
      text += (text.empty() ? "" : " ") + std::string(d.symbol) + "=" + std::to_string(s.*d.value);
    }
    return text;
  }

 private:
  std::vector<Dim> dims_;
  std::vector<const CLI::Option*> options_;  // once Add has run
};

// The dims {B, T, Hg, H, K, V} of a chunk stage's shape (GdnChunkShape, GdnWuShape, ...).
template <class Shape>
ShapeOptions<Shape> GdnShapeOptions(const char* k_help, const char* v_help) {
  return ShapeOptions<Shape>({{"B", &Shape::B, "Batch size"},
                              {"T", &Shape::T, "Time steps"},
                              {"Hg", &Shape::Hg, "Key heads"},
                              {"H", &Shape::H, "Value heads (a multiple of Hg)"},
                              {"K", &Shape::K, k_help},
                              {"V", &Shape::V, v_help}});
}

// The dims {B, T, H} of the gate's shape (GdnCumsumShape, GdnSolveShape).
template <class Shape>
ShapeOptions<Shape> GdnGateOptions() {
  return ShapeOptions<Shape>({{"B", &Shape::B, "Batch size"},
                              {"T", &Shape::T, "Time steps"},
                              {"H", &Shape::H, "Value heads"}});
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
