"""tgk.compare: the library's comparison (include/tgk/compare.h) on numpy arrays."""

import ml_dtypes
import numpy as np
import pytest

import tgk
from conftest import kkt_inputs


def test_identical_arrays_pass_bitwise():
    k, beta, g = kkt_inputs(np.random.default_rng(0))
    A = tgk.kkt(k, beta, g)
    c = tgk.compare(A, tgk.kkt(k, beta, g, target="scalar"))
    assert c.passed and c.count == A.size and c.differing == 0
    assert c.max_abs == 0 and c.max_ulp == 0
    assert str(c).startswith("PASS: 0 of 25600 elements differ")


def test_statistics_and_tolerances():
    ref = np.array([[1.0, 2.0], [4.0, 0.0]], np.float32)
    a = ref.copy()
    a[0, 1] = np.nextafter(np.float32(2.0), np.float32(3.0))  # 1 ulp, abs 2.4e-7
    a[1, 0] = 4.5  # abs 0.5, rel 0.125
    c = tgk.compare(a, ref)
    assert not c.passed and c.differing == 2
    assert c.max_abs == 0.5 and c.max_abs_index == 2
    assert c.max_rel == 0.125 and c.max_rel_index == 2
    assert c.max_ulp == 2**20 and c.max_ulp_index == 2
    assert tgk.compare(a, ref, atol=0.5).passed
    assert tgk.compare(a, ref, rtol=0.125).passed
    assert not tgk.compare(a, ref, max_ulp=1).passed
    assert tgk.compare(a, ref, max_ulp=2**20).passed


def test_a_nan_never_hides_a_finite_error():
    ref = np.array([1.0, 2.0, 3.0], np.float32)
    a = np.array([np.nan, 3.0, np.inf], np.float32)
    c = tgk.compare(a, ref, atol=10.0)
    assert not c.passed
    assert c.nan_mismatches == 1 and c.inf_mismatches == 1
    assert c.max_abs == 1.0 and c.max_abs_index == 1


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16])
def test_sixteen_bit_floats_and_their_uint16_bits(dtype):
    ref = np.array([1.0, -2.0, 0.5], dtype)
    a = ref.copy()
    a[2] = np.array(0.75, dtype)
    for left, right in ((a, ref), (a.view(np.uint16), ref), (a, ref.view(np.uint16))):
        c = tgk.compare(left, right)
        assert c.differing == 1 and c.max_abs == 0.25 and c.max_abs_index == 2
    # The ULP distance is counted at the dtype: 0.5 to 0.75 is 64 bf16 ulps, 512 f16 ulps.
    assert tgk.compare(a, ref).max_ulp == (64 if dtype == ml_dtypes.bfloat16 else 512)


def test_errors():
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(tgk.Error, match=r"tgk.compare: a has shape \(2, 3\) but ref has shape "
                                        r"\(3, 2\)"):
        tgk.compare(a, np.zeros((3, 2), np.float32))
    with pytest.raises(tgk.Error, match="tgk.compare: a and ref are both uint16"):
        tgk.compare(a.view(np.uint16), a.view(np.uint16))
    with pytest.raises(tgk.Error, match="Invalid argument: "):
        tgk.compare(a, a.astype(ml_dtypes.bfloat16))
    with pytest.raises(tgk.Error, match="Invalid argument: "):
        tgk.compare(a, a, atol=-1.0)
