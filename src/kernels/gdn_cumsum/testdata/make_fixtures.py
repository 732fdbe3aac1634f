#!/usr/bin/env python3
"""Writes the chunk-local cumsum fixtures that gdn_cumsum_test.cc reads.

The spec's numpy model (shared/spec/models/gdn_model.py, outside this repository) computes
each case's G in its canonical f32 mode and in f64. Run from anywhere:

    python3 make_fixtures.py --model /path/to/gdn_model.py [--out DIR]

Files: cases.txt (one line per case: name B T H) and NAME.bin per case, the little-endian
arrays g (f32), G of the f32 mode (f32) and G of the f64 mode (f64), each [B, T, H].
"""
import argparse
import importlib.util
import os

import numpy as np

CASES = [  # name, B, T, H; g drawn as FLA's logsigmoid gates (strong decay) or small steps
    ("full_chunks", 1, 128, 4),
    ("partial_chunk", 2, 200, 3),
    ("short", 1, 17, 33),
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
    for i, (name, B, T, H) in enumerate(CASES):
        if i % 2 == 0:
            g = -np.log1p(np.exp(-rng.random((B, T, H))))
        else:
            g = rng.random((B, T, H)) * 0.045 - 0.05
        g = g.astype(np.float32)
        g32 = model.chunk_local_cumsum(g, "f32")
        g64 = model.chunk_local_cumsum(g, "f64")
        with open(os.path.join(args.out, name + ".bin"), "wb") as f:
            f.write(np.ascontiguousarray(g, dtype="<f4").tobytes())
            f.write(np.ascontiguousarray(g32, dtype="<f4").tobytes())
            f.write(np.ascontiguousarray(g64, dtype="<f8").tobytes())
        lines.append(f"{name} {B} {T} {H}")
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
