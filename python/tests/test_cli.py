"""The Python package and the tgk tool agree bit for bit on the same inputs: `tgk run kkt
--in FILE --out FILE` on a safetensors file written here, and tgk.kkt on the same arrays."""

import os
import subprocess

import numpy as np
import pytest

import tgk
from conftest import bits, kkt_inputs, read_safetensors, write_safetensors

TOOL = os.environ.get("TGK_TOOL")


@pytest.fixture
def tool():
    if not TOOL:
        pytest.skip("TGK_TOOL is not set: point it at the tgk tool binary (e.g. "
                    "build/gcc/tools/tgk/tgk; .ci/python.sh does) to compare with the CLI")
    if not os.access(TOOL, os.X_OK):
        pytest.fail(f"TGK_TOOL={TOOL} is not an executable")
    return TOOL


@pytest.mark.parametrize("target", [None, "scalar"])
def test_kkt_matches_the_cli_bit_for_bit(tool, tmp_path, target):
    k, beta, g = kkt_inputs(np.random.default_rng(21), B=2, T=100, Hg=2, H=4, K=128)
    inputs, result = tmp_path / "in.safetensors", tmp_path / "out.safetensors"
    write_safetensors(inputs, {"k": k, "beta": beta, "g": g})
    command = [tool, "run", "kkt", "--in", str(inputs), "--out", str(result), "--threads", "2"]
    if target:
        command += ["--target", target]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    tensors = read_safetensors(result)
    assert tensors["A"].shape == (2, 100, 4, 64)
    assert bits(tensors["A"]) == bits(tgk.kkt(k, beta, g, target=target))
    assert bits(tensors["k"]) == bits(k)
