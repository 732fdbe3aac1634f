"""Writes the fixtures gdn_chunk_test.cc reads: random inputs of the chunked Gated DeltaNet
forward, every stage's output from the spec's numpy model in its canonical f32 mode, and o and
the final state from its f64 mode (mlx-native semantics). Without l2norm q and k are unit rows;
the l2norm cases (use_qk_l2norm) give rows of norm about 2, and their g_cumsum .. o are the
stages after stage 1.

Usage: python3 make_fixtures.py PATH/TO/gdn_model.py [OUT_DIR]
The model (shared/spec/models/gdn_model.py) is not part of tgk; the fixtures are committed.

File layout (little endian): 6 × u32 [B, T, Hg, H, K, V], f32 scale, then the arrays in the
order of ARRAYS, each as its dtype (bf16 as its 16 bits).
"""
import importlib.util
import os
import sys

import numpy as np

# (seed, B, T, Hg, H, K, V, l2norm): partial chunks, K and V off 128, GQA, the mlx-native shape.
CASES = [
    (1, 1, 128, 1, 1, 128, 128, False),
    (2, 2, 100, 1, 1, 64, 64, False),
    (3, 1, 130, 1, 2, 48, 40, False),
    (4, 1, 30, 1, 1, 20, 72, False),
    (5, 1, 70, 1, 1, 192, 96, False),
    (6, 1, 150, 2, 4, 128, 64, True),
]

ARRAYS = [("q", "bf16"), ("k", "bf16"), ("v", "bf16"), ("g", "f32"), ("beta", "f32"),
          ("h0", "f32"), ("g_cumsum", "f32"), ("A", "f32"), ("A_inv", "f32"), ("w", "bf16"),
          ("u", "bf16"), ("h", "bf16"), ("v_new", "bf16"), ("final_state", "f32"), ("o", "bf16"),
          ("o_f64", "bf16"), ("final_state_f64", "f64")]


def load_model(path):
    spec = importlib.util.spec_from_file_location("gdn_model", path)
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)
    return model


def make_case(m, seed, B, T, Hg, H, K, V, l2norm):
    rng = np.random.default_rng(seed)
    norm = 2.0 if l2norm else 1.0
    unit = lambda x: norm * x / np.linalg.norm(x, axis=-1, keepdims=True)
    q = m.bf16r(unit(rng.standard_normal((B, T, Hg, K))))
    k = m.bf16r(unit(rng.standard_normal((B, T, Hg, K))))
    v = m.bf16r(rng.standard_normal((B, T, H, V)) * 0.5)
    g = m.f32(-rng.random((B, T, H)) * 0.1)
    beta = m.f32(rng.random((B, T, H)) * 0.9 + 0.1)
    h0 = m.f32(rng.standard_normal((B, H, V, K)) * 0.1)
    scale = np.float32(K ** -0.5)
    o, S, st = m.chunk_forward(q, k, v, g, beta, float(scale), h0, l2norm, "f32", "mlx",
                               return_stages=True)
    o64, S64 = m.chunk_forward(q, k, v, g, beta, float(scale), h0, l2norm, "f64", "mlx")
    arrays = dict(q=q, k=k, v=v, g=g, beta=beta, h0=h0, g_cumsum=st["g_cumsum"], A=st["A"],
                  A_inv=st["A_inv"], w=st["w"], u=st["u"], h=st["h"], v_new=st["v_new"],
                  final_state=S, o=o, o_f64=o64, final_state_f64=S64)
    return scale, arrays


def write(path, dims, scale, arrays):
    with open(path, "wb") as f:
        f.write(np.asarray(dims, "<u4").tobytes())
        f.write(np.asarray([scale], "<f4").tobytes())
        for name, dtype in ARRAYS:
            a = np.asarray(arrays[name])
            if dtype == "bf16":
                f.write(np.ascontiguousarray(sanity_bf16(a)).tobytes())
            elif dtype == "f32":
                f.write(np.ascontiguousarray(a, "<f4").tobytes())
            else:
                f.write(np.ascontiguousarray(a, "<f8").tobytes())


def sanity_bf16(a):
    bits = np.asarray(a, np.float32).view(np.uint32)
    assert np.all(bits & 0xFFFF == 0), "a bf16 array holds a value that is not bf16"
    return (bits >> 16).astype("<u2")


def main():
    m = load_model(sys.argv[1])
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))
    for seed, B, T, Hg, H, K, V, l2norm in CASES:
        scale, arrays = make_case(m, seed, B, T, Hg, H, K, V, l2norm)
        name = f"gdn_chunk_{'l2norm_' if l2norm else ''}case{seed}.bin"
        write(os.path.join(out, name), (B, T, Hg, H, K, V), scale, arrays)
        print(name, (B, T, Hg, H, K, V))


if __name__ == "__main__":
    main()
