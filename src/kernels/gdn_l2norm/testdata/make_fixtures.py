#!/usr/bin/env python3
"""Writes the L2-norm fixtures that gdn_l2norm_test.cc reads.

The spec's numpy model (shared/spec/models/gdn_model.py, outside this repository) normalises
each case's bf16 rows in its canonical f32 mode (stage 1; its rsqrt is 1/sqrt in float64,
rounded to f32). Run from anywhere:

    python3 make_fixtures.py --model /path/to/gdn_model.py [--out DIR]

Files: cases.txt (one line per case: name rows dim) and NAME.bin per case, the little-endian
bf16 bit patterns (uint16) of the input, then of the model's output, each [rows, dim].
"""
import argparse
import importlib.util
import os

import numpy as np

CASES = [("k128", 40, 128), ("k48", 33, 48), ("k300", 9, 300), ("k5", 17, 5)]


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
    for name, rows, dim in CASES:
        x = model.bf16r(rng.standard_normal((rows, dim)) * 0.1)
        y = model.l2norm(x, "f32")
        with open(os.path.join(args.out, name + ".bin"), "wb") as f:
            f.write(model.bf16_bits(x).astype("<u2").tobytes())
            f.write(model.bf16_bits(y).astype("<u2").tobytes())
        lines.append(f"{name} {rows} {dim}")
    with open(os.path.join(args.out, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
