"""The kernels through the Python package: fixture accuracy, references, bit identity across
targets, threads and input forms."""

import ctypes
import pathlib
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

import tgk
from conftest import (bits, flash_inputs, gdn_chunk_inputs, gdn_recurrent_inputs, kkt_inputs,
                      outputs, sdpa_inputs)

TESTDATA = pathlib.Path(__file__).resolve().parents[2] / "src" / "kernels" / "kkt" / "testdata"


def read_bin(name, dtype, shape):
    return np.fromfile(TESTDATA / name, dtype=dtype).reshape(shape)


def test_targets_lists_the_oracle_first_and_the_best():
    names = tgk.targets()
    assert names[0] == "scalar"
    assert tgk.best_target() in names[1:]


def test_kkt_matches_the_upstream_fixture():
    # B=1, T=128, Hg=2, H=4, K=128 (gated_delta_net_kkt_meta.json); k stored as bf16 bits.
    k = read_bin("gated_delta_net_kkt_input_k.bin", np.uint16, (1, 128, 2, 128))
    beta = read_bin("gated_delta_net_kkt_input_beta.bin", np.float32, (1, 128, 4))
    g = read_bin("gated_delta_net_kkt_input_g.bin", np.float32, (1, 128, 4))
    want = read_bin("gated_delta_net_kkt_A_ref.bin", np.float32, (1, 128, 4, 64))
    for target in tgk.targets():
        A = tgk.kkt(k, beta, g, target=target, threads=2)
        assert A.shape == (1, 128, 4, 64) and A.dtype == np.float32
        assert np.max(np.abs(A - want)) <= 1e-6, target
    # The same bits from ml_dtypes.bfloat16 as from uint16 bits.
    assert bits(tgk.kkt(k.view(ml_dtypes.bfloat16), beta, g)) == bits(tgk.kkt(k, beta, g))


def test_every_entry_point_gives_the_oracles_bits_on_every_target(call):
    want = [bits(a) for a in outputs(call(target="scalar", threads=1))]
    for target in tgk.targets()[1:]:
        for threads in (1, 2, 3):
            got = [bits(a) for a in outputs(call(target=target, threads=threads))]
            assert got == want, (target, threads)


def test_kkt_masks_the_upper_triangle_and_is_deterministic():
    k, beta, g = kkt_inputs(np.random.default_rng(1))
    A = tgk.kkt(k, beta, g)
    assert A.shape == (1, 100, 4, 64)
    for t in range(100):
        assert not np.any(A[0, t, :, t % 64 :]), t
    assert bits(A) == bits(tgk.kkt(k, beta, g))


def sdpa_reference(q, k, v, kv_seq_len, scale):
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    group = q.shape[1] // k.shape[1]
    k = np.repeat(k[:, :, :kv_seq_len], group, axis=1)
    v = np.repeat(v[:, :, :kv_seq_len], group, axis=1)
    s = np.einsum("bhqd,bhpd->bhqp", q, k) * scale
    seq_len = q.shape[2]
    visible = np.arange(kv_seq_len)[None, :] <= (kv_seq_len - seq_len + np.arange(seq_len))[:, None]
    s = np.where(visible, s, -np.inf)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    return np.einsum("bhqp,bhpd->bhqd", w / w.sum(axis=-1, keepdims=True), v)


@pytest.mark.parametrize("dtype", [np.float32, ml_dtypes.bfloat16])
def test_sdpa_matches_an_fp64_reference(dtype):
    q, k, v = sdpa_inputs(np.random.default_rng(2), dtype)
    out = tgk.sdpa(q, k, v, kv_seq_len=37, scale=0.125)
    assert out.shape == q.shape and out.dtype == q.dtype
    tol = 1e-5 if dtype == np.float32 else 1e-2
    np.testing.assert_allclose(out.astype(np.float64), sdpa_reference(q, k, v, 37, 0.125),
                               atol=tol, rtol=tol)


def test_sdpa_takes_bf16_as_uint16_bits_and_returns_bfloat16():
    q, k, v = sdpa_inputs(np.random.default_rng(3), ml_dtypes.bfloat16)
    out = tgk.sdpa(q.view(np.uint16), k.view(np.uint16), v.view(np.uint16))
    assert out.dtype == ml_dtypes.bfloat16
    assert bits(out) == bits(tgk.sdpa(q, k, v))
    # The default scale is 1/sqrt(head_dim).
    assert bits(out) == bits(tgk.sdpa(q, k, v, scale=float(np.float32(1 / np.sqrt(64)))))


def flash_reference(q, k, v, kv_seq_len, scale, visible):
    group = q.shape[0] // k.shape[0]
    q = q.astype(np.float16).astype(np.float64)
    k = np.repeat(k[:, :kv_seq_len].astype(np.float64), group, axis=0)
    v = np.repeat(v[:, :kv_seq_len].astype(np.float64), group, axis=0)
    s = np.einsum("hd,hpd->hp", q, k) * scale
    s = np.where(visible[None, :], s, -np.inf)
    w = np.exp(s - s.max(axis=-1, keepdims=True))
    return np.einsum("hp,hpd->hd", w / w.sum(axis=-1, keepdims=True), v)


@pytest.mark.parametrize("nwg", [1, 32])
def test_flash_attn_vec_matches_an_fp64_reference(nwg):
    q, k, v = flash_inputs(np.random.default_rng(4))
    everything = np.ones(70, dtype=bool)
    out = tgk.flash_attn_vec(q, k, v, kv_seq_len=70, scale=0.05, nwg=nwg)
    assert out.shape == q.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, flash_reference(q, k, v, 70, 0.05, everything),
                               atol=2e-3, rtol=2e-3)
    # Sliding window over a ring (spec 2.1): slot p holds logical position L = (p - ring_start)
    # mod capacity; visible when kv_seq_len - window <= L < kv_seq_len.
    ring_start, window = 5, 30
    logical = (np.arange(70) - ring_start) % 80
    out = tgk.flash_attn_vec(q, k, v, kv_seq_len=70, scale=0.05, mask_type=2,
                             sliding_window=window, ring_start=ring_start, nwg=nwg)
    visible = (logical >= 70 - window) & (logical < 70)
    np.testing.assert_allclose(out, flash_reference(q, k, v, 70, 0.05, visible),
                               atol=2e-3, rtol=2e-3)


def test_flash_attn_vec_takes_f16_as_uint16_bits():
    q, k, v = flash_inputs(np.random.default_rng(5))
    assert bits(tgk.flash_attn_vec(q, k.view(np.uint16), v.view(np.uint16))) == bits(
        tgk.flash_attn_vec(q, k, v))


def cosine(a, b):
    return float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))


@pytest.mark.parametrize("head_dim", [128, 256, 512])
def test_turboquant_4bit_round_trip(head_dim):
    src = np.random.default_rng(6).standard_normal((2, head_dim)).astype(np.float32)
    packed, norms = tgk.hadamard_quantize_kv(src, cache_capacity=3, write_pos=2)
    assert packed.shape == (2, 3, head_dim // 2) and packed.dtype == np.uint8
    assert norms.shape == (2, 3, max(1, head_dim // 256)) and norms.dtype == np.float32
    assert not packed[:, :2].any() and not norms[:, :2].any()
    rotated = tgk.tq_dequantize_kv(packed, norms, read_pos=2)
    assert rotated.shape == (2, head_dim)
    decoded = tgk.tq_inverse_rotate(rotated)
    for h in range(2):
        assert cosine(decoded[h], src[h]) > 0.98


@pytest.mark.parametrize("codebook_bits", [5, 6, 8])
@pytest.mark.parametrize("head_dim", [256, 512])
def test_turboquant_higher_bit_round_trip(codebook_bits, head_dim):
    src = np.random.default_rng(7).standard_normal((3, head_dim)).astype(np.float32)
    packed, norms = tgk.hadamard_quantize_kv_hb(src, codebook_bits=codebook_bits,
                                                cache_capacity=2, write_pos=1)
    assert packed.shape == (3, 2, head_dim)
    rotated = tgk.tq_dequantize_hb_kv(packed, norms, read_pos=1, codebook_bits=codebook_bits)
    decoded = tgk.tq_inverse_rotate(rotated)
    for h in range(3):
        assert cosine(decoded[h], src[h]) > 0.99


def test_encoders_update_a_given_cache_and_leave_it_untouched():
    rng = np.random.default_rng(8)
    seq = rng.standard_normal((4, 2, 256)).astype(np.float32)
    packed, norms = tgk.hadamard_quantize_kv_seq(seq[:3], cache_capacity=4)
    before = packed.copy(), norms.copy()
    # One more token into row 3 of that cache equals the four tokens at once.
    packed4, norms4 = tgk.hadamard_quantize_kv(seq[3], write_pos=3, packed=packed, norms=norms)
    all_packed, all_norms = tgk.hadamard_quantize_kv_seq(seq, cache_capacity=4)
    assert bits(packed4) == bits(all_packed) and bits(norms4) == bits(all_norms)
    assert bits(packed) == bits(before[0]) and bits(norms) == bits(before[1])


@pytest.mark.parametrize("codebook_bits", [5, 6, 8])
@pytest.mark.parametrize("head_dim", [256, 512])
def test_the_higher_bit_sequence_encoder_equals_per_token_calls(codebook_bits, head_dim):
    # Token src_tok_offset + i into row (write_pos_start + i) mod cap of a sliding cache that
    # gets more tokens than rows, over a given cache.
    rng = np.random.default_rng(11)
    seq = rng.standard_normal((8, 3, head_dim)).astype(np.float32)
    cache = tgk.hadamard_quantize_kv_hb(seq[0], codebook_bits=codebook_bits, cache_capacity=4)
    packed, norms = tgk.hadamard_quantize_kv_hb_seq(
        seq, codebook_bits=codebook_bits, write_pos_start=3, n_tokens=6, src_tok_offset=2,
        is_sliding=True, scale_factor_d512=2.0, packed=cache[0], norms=cache[1])
    want = cache
    for i in range(6):
        want = tgk.hadamard_quantize_kv_hb(
            seq[2 + i], codebook_bits=codebook_bits, write_pos=3 + i, is_sliding=True,
            scale_factor_d512=2.0, packed=want[0], norms=want[1])
    assert packed.shape == (3, 4, head_dim) and norms.shape == (3, 4, head_dim // 256)
    assert bits(packed) == bits(want[0]) and bits(norms) == bits(want[1])
    # n_tokens defaults to the tokens after src_tok_offset.
    rest = tgk.hadamard_quantize_kv_hb_seq(seq, codebook_bits=codebook_bits, cache_capacity=6,
                                           src_tok_offset=2)
    want = tgk.hadamard_quantize_kv_hb_seq(seq[2:], codebook_bits=codebook_bits,
                                           cache_capacity=6, n_tokens=6)
    assert bits(rest[0]) == bits(want[0]) and bits(rest[1]) == bits(want[1])


def test_the_sequence_dequantiser_equals_the_per_position_one():
    src = np.random.default_rng(9).standard_normal((2, 256)).astype(np.float32)
    packed, norms = tgk.hadamard_quantize_kv_hb(src, codebook_bits=6, cache_capacity=3,
                                                write_pos=1)
    packed, norms = tgk.hadamard_quantize_kv_hb(src[::-1], codebook_bits=6, write_pos=2,
                                                packed=packed, norms=norms)
    seq = tgk.tq_dequantize_hb_kv_seq(packed, norms, start_pos=1, codebook_bits=6)
    assert seq.shape == (2, 2, 256)
    for t in range(2):
        one = tgk.tq_dequantize_hb_kv(packed, norms, read_pos=1 + t, codebook_bits=6)
        assert bits(seq[:, t]) == bits(one)


@pytest.mark.parametrize("head_dim", [128, 256, 512])
def test_the_4bit_sequence_dequantiser_equals_the_per_position_one(head_dim):
    # Rows 1 .. 4 of a 5-row cache; scale_factor_d512 matters at head_dim 512.
    seq = np.random.default_rng(12).standard_normal((4, 3, head_dim)).astype(np.float32)
    packed, norms = tgk.hadamard_quantize_kv_seq(seq, cache_capacity=5, write_pos_start=1,
                                                 scale_factor_d512=1.5)
    out = tgk.tq_dequantize_kv_seq(packed, norms, start_pos=1, scale_factor_d512=1.5)
    assert out.shape == (3, 4, head_dim) and out.dtype == np.float32
    for t in range(4):
        one = tgk.tq_dequantize_kv(packed, norms, read_pos=1 + t, scale_factor_d512=1.5)
        assert bits(out[:, t]) == bits(one), t
    part = tgk.tq_dequantize_kv_seq(packed, norms, start_pos=2, n_tokens=2,
                                    scale_factor_d512=1.5)
    assert bits(part) == bits(out[:, 1:3])
    # By default every row, from row 0; none from start_pos = cache_capacity.
    whole = tgk.tq_dequantize_kv_seq(packed, norms, scale_factor_d512=1.5)
    assert whole.shape == (3, 5, head_dim) and bits(whole[:, 1:]) == bits(out)
    assert tgk.tq_dequantize_kv_seq(packed, norms, start_pos=5).shape == (3, 0, head_dim)


def test_a_dequantised_sequence_past_32_mib_has_the_oracles_bits():
    # A dst of more than 32 MiB is written past the caches (non-temporal stores), which needs the
    # output's cache-line alignment; the bits are the scalar oracle's either way.
    src = np.random.default_rng(13).standard_normal((32800, 1, 256)).astype(np.float32)
    packed, norms = tgk.hadamard_quantize_kv_seq(src, cache_capacity=32800)
    want = bits(tgk.tq_dequantize_kv_seq(packed, norms, target="scalar", threads=1))
    got = tgk.tq_dequantize_kv_seq(packed, norms)
    assert got.nbytes > 32 << 20 and got.ctypes.data % 64 == 0
    assert bits(got) == want


def test_every_output_is_cache_line_aligned(call):
    for a in outputs(call()):
        assert a.ctypes.data % 64 == 0, a.shape


def test_tq_inverse_rotate_keeps_the_shape_and_inverts_the_hadamard_transform():
    y = np.random.default_rng(10).standard_normal((2, 3, 64)).astype(np.float32)
    x = tgk.tq_inverse_rotate(y)
    assert x.shape == y.shape
    # For D other than 256 and 512 the rotation is H / sqrt(D), its own inverse.
    np.testing.assert_allclose(tgk.tq_inverse_rotate(x), y, atol=1e-5)
    assert tgk.tq_rotation_scale(256) == 0.0625


def recurrence_f64(q, k, v, g, beta, h0, scale):
    """The recurrent gated delta net in float64: tiled GQA (value head h reads key head
    h % Hk), g a decay rate, the state decayed before the delta."""
    Sn, T, Hk, _ = q.shape
    Hv = v.shape[2]
    S = h0.astype(np.float64).copy()
    o = np.zeros(v.shape, np.float64)
    for t in range(T):
        for h in range(Hv):
            qt = q[:, t, h % Hk].astype(np.float64) * scale
            kt = k[:, t, h % Hk].astype(np.float64)
            S[:, h] *= np.exp(-g[:, t, h].astype(np.float64))[:, None, None]
            delta = beta[:, t, h, None] * (v[:, t, h] - np.einsum("svk,sk->sv", S[:, h], kt))
            S[:, h] += delta[:, :, None] * kt[:, None, :]
            o[:, t, h] = np.einsum("svk,sk->sv", S[:, h], qt)
    return o, S


@pytest.mark.parametrize("decode", [False, True])
def test_gated_delta_rule_recurrent_matches_an_fp64_recurrence(decode):
    q, k, v, g, beta, h0 = gdn_recurrent_inputs(np.random.default_rng(21))
    o, state = tgk.gated_delta_rule_recurrent(q, k, v, g, beta, initial_state=h0, decode=decode)
    want_o, want_state = recurrence_f64(q, k, v, g, beta, h0, 1 / np.sqrt(q.shape[-1]))
    np.testing.assert_allclose(o, want_o, atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(state, want_state, atol=1e-5, rtol=1e-4)
    zero_o, _ = tgk.gated_delta_rule_recurrent(q, k, v, g, beta, decode=decode)
    assert bits(zero_o) == bits(tgk.gated_delta_rule_recurrent(
        q, k, v, g, beta, initial_state=np.zeros_like(h0), decode=decode)[0])


@pytest.mark.parametrize("l2norm", [False, True])
def test_gated_delta_rule_chunk_agrees_with_the_recurrent_path(l2norm):
    """The mapping of docs/spec/gdn_recurrent.md: key heads repeated H // Hg times (Hk = H),
    everything widened to f32, g_rec = -g; the bars of the chunked spec's section 11."""
    q, k, v, g, beta, h0 = gdn_chunk_inputs(np.random.default_rng(22), B=2, T=130, Hg=2, H=4)
    o, state = tgk.gated_delta_rule_chunk(q, k, v, g, beta, initial_state=h0,
                                          use_qk_l2norm=l2norm)
    if l2norm:
        norm = lambda x: (x.astype(np.float32) / np.linalg.norm(
            x.astype(np.float64), axis=-1, keepdims=True)).astype(ml_dtypes.bfloat16)
        q, k = norm(q), norm(k)
    wide = lambda x: np.repeat(x.astype(np.float32), v.shape[2] // q.shape[2], axis=2)
    want_o, want_state = tgk.gated_delta_rule_recurrent(
        wide(q), wide(k), v.astype(np.float32), -g, beta, initial_state=h0)
    ulp = 2.0 ** (np.floor(np.log2(np.abs(want_o).max())) - 7)
    assert np.abs(o.astype(np.float64) - want_o).max() <= 4 * ulp
    assert np.abs(state - want_state).max() <= 1.5e-2 * np.abs(want_state).max()


class DlpackOnly:
    """An array that only exports DLPack, as a torch tensor does (numpy's own __dlpack__)."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.c_void_p), ("byte_offset", ctypes.c_uint64),
                ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


class DlpackBFloat16:
    """A DLPack producer of a bf16 tensor (DLPack's kDLBfloat, as torch.bfloat16 exports it),
    which numpy cannot make: the DLManagedTensor is built here, over uint16 bits."""

    def __init__(self, bits16):
        self.bits16 = np.ascontiguousarray(bits16, dtype=np.uint16)
        self.shape = (ctypes.c_int64 * self.bits16.ndim)(*self.bits16.shape)
        self.managed = DLManagedTensor(
            data=self.bits16.ctypes.data, device=DLDevice(1, 0), ndim=self.bits16.ndim,
            dtype=DLDataType(code=4, bits=16, lanes=1), shape=self.shape)

    def __dlpack__(self, **kwargs):
        new_capsule = ctypes.pythonapi.PyCapsule_New
        new_capsule.restype = ctypes.py_object
        new_capsule.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
        return new_capsule(ctypes.addressof(self.managed), b"dltensor", None)

    def __dlpack_device__(self):
        return (1, 0)


def test_dlpack_bfloat16_tensors_are_bf16():
    k, beta, g = kkt_inputs(np.random.default_rng(15))
    assert bits(tgk.kkt(DlpackBFloat16(k.view(np.uint16)), beta, g)) == bits(tgk.kkt(k, beta, g))
    q, kk, v = sdpa_inputs(np.random.default_rng(16), ml_dtypes.bfloat16)
    out = tgk.sdpa(*(DlpackBFloat16(x.view(np.uint16)) for x in (q, kk, v)))
    assert out.dtype == ml_dtypes.bfloat16 and bits(out) == bits(tgk.sdpa(q, kk, v))


def test_dlpack_producers_give_the_same_bits():
    k, beta, g = kkt_inputs(np.random.default_rng(11))
    want = bits(tgk.kkt(k, beta, g))
    assert bits(tgk.kkt(DlpackOnly(k.view(np.uint16)), DlpackOnly(beta), DlpackOnly(g))) == want
    q, kf, vf = flash_inputs(np.random.default_rng(12))
    assert bits(tgk.flash_attn_vec(DlpackOnly(q), DlpackOnly(kf), DlpackOnly(vf))) == bits(
        tgk.flash_attn_vec(q, kf, vf))


def test_non_contiguous_numpy_inputs_are_copied():
    k, beta, g = kkt_inputs(np.random.default_rng(13))
    k_strided = np.ascontiguousarray(k.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    beta_strided = np.repeat(beta, 2, axis=2)[:, :, ::2]
    assert not k_strided.flags.c_contiguous and not beta_strided.flags.c_contiguous
    assert bits(tgk.kkt(k_strided, beta_strided, g)) == bits(tgk.kkt(k, beta, g))
    assert bits(tgk.kkt(k_strided.view(np.uint16), beta, g)) == bits(tgk.kkt(k, beta, g))


def test_read_only_inputs_are_accepted():
    k, beta, g = kkt_inputs(np.random.default_rng(14))
    want = bits(tgk.kkt(k, beta, g))
    for array in (k, beta, g):
        array.flags.writeable = False
    assert bits(tgk.kkt(k, beta, g)) == want


@pytest.mark.parametrize("call", [
    "tgk.tq_inverse_rotate(np.ones((1, 256), np.float32))",
    "tgk.sdpa(*[np.ones((1, 1, 1, 64), np.uint16)] * 3)",  # returns ml_dtypes.bfloat16
])
def test_the_interpreter_exits_cleanly_after_calls(call):
    # Python objects the module keeps must not be released after the interpreter finalised.
    script = "import numpy as np, tgk\n" + call
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, (run.returncode, run.stderr)
