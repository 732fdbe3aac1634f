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


def test_the_cli_and_tgk_compare_decide_alike(tool, tmp_path):
    help_text = subprocess.run([tool, "run", "kkt", "--help"], capture_output=True, text=True,
                               timeout=60).stdout
    if "--ref" not in help_text:
        pytest.skip("this tgk tool has no --ref (issue 8 item 2)")
    k, beta, g = kkt_inputs(np.random.default_rng(22))
    inputs, reference = tmp_path / "in.safetensors", tmp_path / "ref.safetensors"
    write_safetensors(inputs, {"k": k, "beta": beta, "g": g})
    A = tgk.kkt(k, beta, g)
    ref = A.copy()
    ref[0, 70, 2, 5] += np.float32(1e-3)
    ref[0, 3, 1, 0] = np.nextafter(ref[0, 3, 1, 0], np.float32(1))
    write_safetensors(reference, {"A": ref})
    decisions = []
    for tolerance in ({}, {"atol": 2e-3}, {"atol": 5e-4}, {"rtol": 0.5}, {"max_ulp": 1}):
        options = [f"--{name.replace('_', '-')}={value}" for name, value in tolerance.items()]
        run = subprocess.run([tool, "run", "kkt", "--in", str(inputs), "--ref", str(reference),
                              *options], capture_output=True, text=True, timeout=120)
        passed = tgk.compare(A, ref, **tolerance).passed
        assert run.returncode == (0 if passed else 1), (tolerance, run.stdout + run.stderr)
        decisions.append(passed)
    assert True in decisions and False in decisions


def test_kkt_reads_numpy_files_as_it_reads_safetensors(tool, tmp_path):
    k, beta, g = kkt_inputs(np.random.default_rng(23), B=1, T=100, Hg=2, H=4, K=64)
    files = {"safetensors": tmp_path / "in.safetensors", "npz": tmp_path / "in.npz",
             "bits": tmp_path / "bits.npz", "fortran": tmp_path / "fortran.npz"}
    write_safetensors(files["safetensors"], {"k": k, "beta": beta, "g": g})
    np.savez(files["npz"], k=k, beta=beta, g=g)
    np.savez(files["bits"], k=k.view(np.uint16), beta=beta, g=g)
    np.savez(files["fortran"], k=np.asfortranarray(k), beta=np.asfortranarray(beta),
             g=np.asfortranarray(g))
    results = {}
    for name, path in files.items():
        out = tmp_path / f"{name}.out.safetensors"
        run = subprocess.run([tool, "run", "kkt", "--in", str(path), "--out", str(out),
                              "--threads", "2", "--repeat", "1"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, (name, run.stdout + run.stderr)
        results[name] = read_safetensors(out)["A"]
    for name in files:
        assert bits(results[name]) == bits(results["safetensors"]), name
    assert bits(results["npz"]) == bits(tgk.kkt(k, beta, g))

    # np.save's file as the reference: bitwise equal, then one ULP away.
    reference = tmp_path / "A_gpu.npy"
    command = [tool, "run", "kkt", "--in", str(files["npz"]), "--ref", str(reference),
               "--map", "A=A_gpu", "--repeat", "1"]
    np.save(reference, results["npz"])
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "tensor 'A_gpu': bitwise equal" in run.stdout
    off = results["npz"].copy()
    off[0, 10, 1, 3] = np.nextafter(off[0, 10, 1, 3], np.float32(1))
    np.save(reference, off)
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "max ulp 1 at A[0, 10, 1, 3]" in run.stdout

    compressed = tmp_path / "compressed.npz"
    np.savez_compressed(compressed, k=k, beta=beta, g=g)
    run = subprocess.run([tool, "run", "kkt", "--in", str(compressed)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "write the file with np.savez, not np.savez_compressed" in run.stderr
