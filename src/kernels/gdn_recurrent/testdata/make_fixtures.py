#!/usr/bin/env python3
"""Writes the recurrent gated delta net fixtures that gdn_recurrent_test.cc reads.

The spec's numpy model (shared/spec/models/gdn_model.py, outside this repository) computes
each case's outputs in its canonical f32 mode (spec sections 5 and 6, correctly rounded exp)
and in f64. Run from anywhere:

    python3 make_fixtures.py --model /path/to/gdn_model.py [--out DIR]

Files: cases.txt (one line per case: name kernel Sn T Hk Hv Dk Dv) and NAME.bin per case, the
little-endian arrays q, k, v, g, beta, h0 (f32), then y and state of the f32 mode (f32), then y
and state of the f64 mode (f64), each row-major in the spec's layouts.
"""
import argparse
import importlib.util
import os

import numpy as np

CASES = [  # name, kernel, Sn, T, Hk, Hv, Dk, Dv
    ("serial_odd", "f32", 2, 5, 2, 4, 48, 10),
    ("serial_tiny", "f32", 1, 7, 1, 3, 5, 3),
    ("serial_wide", "f32", 1, 3, 1, 1, 160, 24),
    ("decode_64x40", "decode", 1, 4, 1, 2, 64, 40),
    ("decode_32x17", "decode", 2, 2, 3, 3, 32, 17),
    ("decode_128", "decode", 1, 3, 2, 2, 128, 16),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="path of gdn_model.py")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location("gdn_model", args.model)
    model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model)

    rng = np.random.default_rng(20261206)
    lines = []
    for name, kernel, Sn, T, Hk, Hv, Dk, Dv in CASES:
        q = rng.standard_normal((Sn, T, Hk, Dk))
        q /= np.linalg.norm(q, axis=-1, keepdims=True)
        k = rng.standard_normal((Sn, T, Hk, Dk))
        k /= np.linalg.norm(k, axis=-1, keepdims=True)
        q = (q * Dk ** -0.5).astype(np.float32)
        k = k.astype(np.float32)
        v = rng.standard_normal((Sn, T, Hv, Dv)).astype(np.float32)
        g = (rng.random((Sn, T, Hv)) * 0.45 + 0.05).astype(np.float32)
        beta = rng.random((Sn, T, Hv)).astype(np.float32)
        h0 = (rng.standard_normal((Sn, Hv, Dv, Dk)) * 0.5).astype(np.float32)
        y32, s32 = model.recurrent_forward(q, k, v, g, beta, h0, kernel, "f32")
        y64, s64 = model.recurrent_forward(q, k, v, g, beta, h0, kernel, "f64")
        with open(os.path.join(args.out, name + ".bin"), "wb") as f:
            for a in (q, k, v, g, beta, h0, y32, s32):
                f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
            for a in (y64, s64):
                f.write(np.ascontiguousarray(a, dtype="<f8").tobytes())
        lines.append(f"{name} {kernel} {Sn} {T} {Hk} {Hv} {Dk} {Dv}")
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
