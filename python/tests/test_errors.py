"""Every kind of bad call raises tgk.Error (a ValueError) with a message that names the
argument: the package's own checks (array form, dimensions) and the library's (dtypes,
parameters, targets), whose messages pass through unchanged."""

import re

import ml_dtypes
import numpy as np
import pytest

import tgk
from conftest import flash_inputs, kkt_inputs, sdpa_inputs

rng = np.random.default_rng(0)
K, BETA, G = kkt_inputs(rng)
FQ, FK, FV = flash_inputs(rng)
SQ, SK, SV = sdpa_inputs(rng, np.float32)
SRC = rng.standard_normal((2, 256)).astype(np.float32)
PACKED, NORMS = tgk.hadamard_quantize_kv_hb(SRC, cache_capacity=2)
PACKED4, NORMS4 = tgk.hadamard_quantize_kv(SRC, cache_capacity=2)

BF16 = "ml_dtypes.bfloat16, or uint16 holding bf16 bits"

# (id, call, the exact message after "Invalid argument: ") for the package's own checks.
OWN = [
    ("not an array", lambda: tgk.kkt([1.0], BETA, G),
     f"tgk.kkt: k must be a numpy array or a CPU tensor that exports DLPack (of dtype {BF16}),"
     " got list"),
    ("None", lambda: tgk.kkt(K, None, G),
     "tgk.kkt: beta must be a numpy array or a CPU tensor that exports DLPack (of dtype "
     "float32), got NoneType"),
    ("dtype tgk lacks", lambda: tgk.kkt(K, BETA.astype(np.float64), G),
     "tgk.kkt: beta has a dtype tgk has no kernel for: expected float32, got numpy.ndarray of "
     "dtype float64"),
    ("uint16 where no 16-bit float is taken", lambda: tgk.kkt(K, BETA, G.view(np.uint16)),
     "tgk.kkt: g has a dtype tgk has no kernel for: expected float32, got numpy.ndarray of "
     "dtype uint16"),
    ("int16 for bf16", lambda: tgk.kkt(K.view(np.int16), BETA, G),
     f"tgk.kkt: k has a dtype tgk has no kernel for: expected {BF16}, got numpy.ndarray of "
     "dtype int16"),
    ("wrong ndim", lambda: tgk.kkt(K, BETA, G[0]),
     "tgk.kkt: g must have 3 dimensions [B, T, H], got shape (100, 4)"),
    ("shape mismatch", lambda: tgk.kkt(K, BETA[:, :99], G),
     "tgk.kkt: T differs: 100 from k [B, T, Hg, K], 99 from beta [B, T, H]"),
    ("kv shape mismatch", lambda: tgk.flash_attn_vec(FQ, FK, FV[:, :79]),
     "tgk.flash_attn_vec: kv_capacity differs: 80 from k [num_kv_heads, kv_capacity, head_dim],"
     " 79 from v [num_kv_heads, kv_capacity, head_dim]"),
    ("head_dim mismatch", lambda: tgk.sdpa(SQ[..., :32], SK, SV),
     "tgk.sdpa: head_dim differs: 32 from q [batch, n_heads, seq_len, head_dim], 64 from k "
     "[batch, n_kv_heads, kv_capacity, head_dim]"),
    ("bad nwg", lambda: tgk.flash_attn_vec(FQ, FK, FV, nwg=3),
     "tgk.flash_attn_vec: nwg must be 1 or 32, got 3"),
    ("no cache", lambda: tgk.hadamard_quantize_kv(SRC),
     "tgk.hadamard_quantize_kv: give cache_capacity, or the cache as packed and norms"),
    ("half a cache", lambda: tgk.hadamard_quantize_kv(SRC, packed=PACKED),
     "tgk.hadamard_quantize_kv: give both packed and norms (the cache to update) or neither"),
    ("cache disagrees with cache_capacity",
     lambda: tgk.hadamard_quantize_kv_hb(SRC, cache_capacity=3, packed=PACKED, norms=NORMS),
     "tgk.hadamard_quantize_kv_hb: cache_capacity differs: 3 from the cache_capacity argument, "
     "2 from packed [num_kv_heads, cache_capacity, head_dim]"),
    ("norms per position", lambda: tgk.tq_dequantize_hb_kv(PACKED, NORMS[..., :0], read_pos=0),
     "tgk.tq_dequantize_hb_kv: norms_per_pos differs: 1 from head_dim (max(1, head_dim/256)), "
     "0 from norms [num_kv_heads, cache_capacity, norms_per_pos]"),
    ("scalar", lambda: tgk.tq_inverse_rotate(np.float32(1)),
     "tgk.tq_inverse_rotate: rotated must have at least 1 dimension [..., head_dim], got a "
     "scalar"),
    ("start_pos", lambda: tgk.tq_dequantize_hb_kv_seq(PACKED, NORMS, start_pos=3),
     "tgk.tq_dequantize_hb_kv_seq: start_pos (3) exceeds cache_capacity (2), and n_tokens "
     "defaults to the rows from start_pos on"),
    ("4-bit start_pos", lambda: tgk.tq_dequantize_kv_seq(PACKED4, NORMS4, start_pos=3),
     "tgk.tq_dequantize_kv_seq: start_pos (3) exceeds cache_capacity (2), and n_tokens "
     "defaults to the rows from start_pos on"),
    ("4-bit norms per position",
     lambda: tgk.tq_dequantize_kv_seq(PACKED4, NORMS4[..., :0]),
     "tgk.tq_dequantize_kv_seq: norms_per_pos differs: 1 from head_dim (max(1, head_dim/256)), "
     "0 from norms [num_kv_heads, cache_capacity, norms_per_pos]"),
    ("src_tok_offset", lambda: tgk.hadamard_quantize_kv_seq(SRC[None], cache_capacity=2,
                                                            src_tok_offset=2),
     "tgk.hadamard_quantize_kv_seq: src_tok_offset (2) exceeds src's 1 tokens"),
    ("hb src_tok_offset", lambda: tgk.hadamard_quantize_kv_hb_seq(SRC[None], cache_capacity=2,
                                                                  src_tok_offset=3),
     "tgk.hadamard_quantize_kv_hb_seq: src_tok_offset (3) exceeds src's 1 tokens"),
]


@pytest.mark.parametrize("call, message", [c[1:] for c in OWN], ids=[c[0] for c in OWN])
def test_own_checks(call, message):
    with pytest.raises(tgk.Error) as error:
        call()
    assert str(error.value) == "Invalid argument: " + message


class Strided:
    """A DLPack producer whose array is not C-contiguous: nanobind cannot copy it."""

    def __init__(self, array):
        self.array = array

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.array.__dlpack_device__()


def test_non_contiguous_dlpack_producers_are_rejected():
    strided = np.repeat(BETA, 2, axis=2)[:, :, ::2]
    with pytest.raises(tgk.Error, match=re.escape(
            "tgk.kkt: beta must be a C-contiguous CPU tensor (tgk copies non-contiguous numpy "
            "arrays and torch tensors, not other DLPack producers) of dtype float32, got ")):
        tgk.kkt(K, Strided(strided), G)


# (id, call, a part of the library's message): dtypes, parameters and targets.
LIBRARY = [
    ("kkt dtype", lambda: tgk.kkt(K.astype(np.float32), BETA, G),
     "gated_delta_net_kkt: k must be bf16[25600] (got 25600 f32)"),
    ("kkt K", lambda: tgk.kkt(K[..., :100], BETA, G), "k (100) must be a multiple of BK (64)"),
    ("kkt heads", lambda: tgk.kkt(K, BETA[..., :3], G[..., :3]),
     "h (3) must be a multiple of hg (2)"),
    ("flash dtype", lambda: tgk.flash_attn_vec(FQ, FK.astype(np.float32), FV),
     "flash_attn_vec_peer_port_f16: k_f16 must be DType::F16, got F32"),
    ("flash kv_seq_len", lambda: tgk.flash_attn_vec(FQ, FK, FV, kv_seq_len=81),
     "kv_capacity (80) < kv_seq_len (81)"),
    ("flash bf16 for f16", lambda: tgk.flash_attn_vec(FQ, FK.astype(ml_dtypes.bfloat16), FV),
     "k_f16 must be DType::F16, got BF16"),
    ("sdpa dtype", lambda: tgk.sdpa(SQ.astype(np.float16), SK, SV),
     "Q dtype must be f32 or bf16 (got f16)"),
    ("sdpa mixed dtypes", lambda: tgk.sdpa(SQ, SK.astype(ml_dtypes.bfloat16), SV),
     "K dtype (bf16) must match Q's dtype (f32)"),
    ("sdpa kv_seq_len", lambda: tgk.sdpa(SQ, SK, SV, kv_seq_len=2),
     "seq_len (3) must be <= kv_seq_len (2)"),
    ("codebook_bits", lambda: tgk.hadamard_quantize_kv_hb(SRC, codebook_bits=7, cache_capacity=2),
     "codebook_bits must be 5, 6, or 8, got 7"),
    ("hb seq write_pos", lambda: tgk.hadamard_quantize_kv_hb_seq(SRC[None], cache_capacity=2,
                                                                 write_pos_start=2),
     "hadamard_quantize_kv_hb_seq: global cache write_pos(2) >= cache_capacity(2) at seq idx 0"),
    ("write_pos", lambda: tgk.hadamard_quantize_kv(SRC, cache_capacity=2, write_pos=2),
     "hadamard_quantize_kv: global cache write_pos(2) >= cache_capacity(2)"),
    ("start_pos + n_tokens", lambda: tgk.tq_dequantize_hb_kv_seq(PACKED, NORMS, start_pos=1,
                                                                  n_tokens=2),
     "start_pos(1) + n_tokens(2) > cache_capacity(2)"),
    ("4-bit start_pos + n_tokens", lambda: tgk.tq_dequantize_kv_seq(PACKED4, NORMS4,
                                                                     start_pos=1, n_tokens=2),
     "tq_dequantize_kv_seq: start_pos(1) + n_tokens(2) > cache_capacity(2)"),
    ("4-bit head_dim", lambda: tgk.tq_dequantize_kv_seq(PACKED4[..., :3], NORMS4),
     "tq_dequantize_kv_seq: head_dim must be a power of two, got 6"),
    ("4-bit packed dtype", lambda: tgk.tq_dequantize_kv_seq(PACKED4.astype(np.uint32), NORMS4),
     "tq_dequantize_kv_seq: packed must be u8 (got u32)"),
    ("4-bit norms dtype", lambda: tgk.tq_dequantize_kv_seq(PACKED4, NORMS4.astype(np.float16)),
     "tq_dequantize_kv_seq: norms must be f32 (got f16)"),
    ("4-bit scale_factor_d512",
     lambda: tgk.tq_dequantize_kv_seq(*tgk.hadamard_quantize_kv(
         np.ones((1, 512), np.float32), cache_capacity=1), scale_factor_d512=0.0),
     "tq_dequantize_kv_seq: scale_factor_d512 must be finite and non-zero for head_dim 512"),
    ("read_pos", lambda: tgk.tq_dequantize_hb_kv(PACKED, NORMS, read_pos=2),
     "read_pos(2) >= cache_capacity(2)"),
    ("norms dtype", lambda: tgk.tq_dequantize_hb_kv(PACKED, NORMS.astype(np.float16), read_pos=0),
     "norms must be f32 (got f16)"),
    ("head_dim", lambda: tgk.tq_inverse_rotate(np.zeros((2, 100), np.float32)),
     "tq_inverse_rotate: head_dim must be a power of two, got 100"),
    ("threads", lambda: tgk.kkt(K, BETA, G, threads=-1), "threads (-1) must be"),
    ("target", lambda: tgk.kkt(K, BETA, G, target="avx9"),
     "target 'avx9' is not available here (available: scalar, "),
]


@pytest.mark.parametrize("call, message", [c[1:] for c in LIBRARY], ids=[c[0] for c in LIBRARY])
def test_library_checks(call, message):
    with pytest.raises(tgk.Error, match=re.escape(message)) as error:
        call()
    assert str(error.value).startswith("Invalid argument: ")


def test_error_is_a_value_error():
    assert issubclass(tgk.Error, ValueError)
    with pytest.raises(ValueError):
        tgk.kkt(K, BETA, G, target="nonsense")


def test_every_target_name_parses():
    for name in tgk.targets():
        tgk.tq_inverse_rotate(np.ones((1, 256), np.float32), target=name.upper())
