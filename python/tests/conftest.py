"""Inputs shared by the tests: one realistic call of every kernel entry point."""

import json
import struct

import ml_dtypes
import numpy as np
import pytest

import tgk


def bits(array):
    """The array's bytes, for bit-for-bit comparisons (NaN payloads included)."""
    return np.ascontiguousarray(array).view(np.uint8).tobytes()


def kkt_inputs(rng, B=1, T=100, Hg=2, H=4, K=128):
    """The upstream fixture's distributions (kkt_command.cc), T not a multiple of 64."""
    k = (rng.standard_normal((B, T, Hg, K)) * 0.1).astype(ml_dtypes.bfloat16)
    beta = (rng.random((B, T, H)) * 0.9 + 0.1).astype(np.float32)
    steps = (rng.random((B, T, H)) * 0.045 - 0.05).astype(np.float32)
    g = np.empty_like(steps)
    for t0 in range(0, T, 64):
        g[:, t0 : t0 + 64] = np.cumsum(steps[:, t0 : t0 + 64], axis=1, dtype=np.float32)
    return k, beta, g


def sdpa_inputs(rng, dtype, batch=1, n_heads=4, n_kv_heads=2, seq_len=3, kv_capacity=40,
                head_dim=64):
    q = rng.standard_normal((batch, n_heads, seq_len, head_dim)).astype(dtype)
    k = rng.standard_normal((batch, n_kv_heads, kv_capacity, head_dim)).astype(dtype)
    v = rng.standard_normal((batch, n_kv_heads, kv_capacity, head_dim)).astype(dtype)
    return q, k, v


def flash_inputs(rng, num_heads=4, num_kv_heads=2, kv_capacity=80, head_dim=128):
    q = rng.standard_normal((num_heads, head_dim)).astype(np.float32)
    k = rng.standard_normal((num_kv_heads, kv_capacity, head_dim)).astype(np.float16)
    v = rng.standard_normal((num_kv_heads, kv_capacity, head_dim)).astype(np.float16)
    return q, k, v


def gdn_chunk_inputs(rng, B=1, T=100, Hg=1, H=2, K=64, V=40):
    """q and k rows of norm about 2 (for use_qk_l2norm), T not a multiple of 64, GQA."""
    q = (rng.standard_normal((B, T, Hg, K)) * 2 / np.sqrt(K)).astype(ml_dtypes.bfloat16)
    k = (rng.standard_normal((B, T, Hg, K)) * 2 / np.sqrt(K)).astype(ml_dtypes.bfloat16)
    v = (rng.standard_normal((B, T, H, V)) * 0.5).astype(ml_dtypes.bfloat16)
    g = (-rng.random((B, T, H)) * 0.1).astype(np.float32)
    beta = (rng.random((B, T, H)) * 0.9 + 0.1).astype(np.float32)
    h0 = (rng.standard_normal((B, H, V, K)) * 0.1).astype(np.float32)
    return q, k, v, g, beta, h0


def gdn_recurrent_inputs(rng, Sn=3, T=5, Hk=2, Hv=4, Dk=64, Dv=24):
    q = (rng.standard_normal((Sn, T, Hk, Dk)) / np.sqrt(Dk)).astype(np.float32)
    k = (rng.standard_normal((Sn, T, Hk, Dk)) / np.sqrt(Dk)).astype(np.float32)
    v = (rng.standard_normal((Sn, T, Hv, Dv)) * 0.5).astype(np.float32)
    g = (rng.random((Sn, T, Hv)) * 0.1).astype(np.float32)
    beta = (rng.random((Sn, T, Hv)) * 0.9 + 0.1).astype(np.float32)
    h0 = (rng.standard_normal((Sn, Hv, Dv, Dk)) * 0.1).astype(np.float32)
    return q, k, v, g, beta, h0


# Every entry point, as (name, call(target, threads)) on fixed inputs, so that one test can
# run each on every target and thread count.
def _calls():
    rng = np.random.default_rng(7)
    k, beta, g = kkt_inputs(rng)
    sdpa_f32 = sdpa_inputs(rng, np.float32)
    sdpa_bf16 = sdpa_inputs(rng, ml_dtypes.bfloat16)
    fq, fk, fv = flash_inputs(rng)
    src256 = rng.standard_normal((2, 256)).astype(np.float32)
    src512 = rng.standard_normal((2, 512)).astype(np.float32)
    src128 = rng.standard_normal((2, 128)).astype(np.float32)
    seq = rng.standard_normal((5, 2, 256)).astype(np.float32)
    packed4, norms4 = tgk.hadamard_quantize_kv_seq(seq, cache_capacity=8, write_pos_start=2)
    packed8, norms8 = tgk.hadamard_quantize_kv_hb(src512, cache_capacity=3, write_pos=1)
    rotated = rng.standard_normal((3, 256)).astype(np.float32)
    gdn_chunk = gdn_chunk_inputs(rng)
    gdn_recurrent = gdn_recurrent_inputs(rng)

    calls = {
        "kkt": lambda **o: tgk.kkt(k, beta, g, **o),
        "sdpa_f32": lambda **o: tgk.sdpa(*sdpa_f32, kv_seq_len=37, **o),
        "sdpa_bf16": lambda **o: tgk.sdpa(*sdpa_bf16, **o),
        "flash_attn_vec_nwg1": lambda **o: tgk.flash_attn_vec(fq, fk, fv, kv_seq_len=70, **o),
        "flash_attn_vec_nwg32": lambda **o: tgk.flash_attn_vec(
            fq, fk, fv, kv_seq_len=70, mask_type=2, sliding_window=40, ring_start=5, nwg=32, **o),
        "hadamard_quantize_kv_256": lambda **o: tgk.hadamard_quantize_kv(
            src256, cache_capacity=4, write_pos=1, **o),
        "hadamard_quantize_kv_512": lambda **o: tgk.hadamard_quantize_kv(
            src512, cache_capacity=4, write_pos=6, is_sliding=True, scale_factor_d512=1.5, **o),
        "hadamard_quantize_kv_fallback": lambda **o: tgk.hadamard_quantize_kv(
            src128, cache_capacity=2, write_pos=0, **o),
        "hadamard_quantize_kv_seq": lambda **o: tgk.hadamard_quantize_kv_seq(
            seq, cache_capacity=8, write_pos_start=2, src_tok_offset=1, **o),
        "hadamard_quantize_kv_hb_5": lambda **o: tgk.hadamard_quantize_kv_hb(
            src256, codebook_bits=5, cache_capacity=2, write_pos=1, **o),
        "hadamard_quantize_kv_hb_8": lambda **o: tgk.hadamard_quantize_kv_hb(
            src512, codebook_bits=8, cache_capacity=2, write_pos=0, **o),
        "hadamard_quantize_kv_hb_seq": lambda **o: tgk.hadamard_quantize_kv_hb_seq(
            seq, codebook_bits=6, cache_capacity=3, write_pos_start=2, src_tok_offset=1,
            is_sliding=True, **o),
        "tq_dequantize_kv": lambda **o: tgk.tq_dequantize_kv(packed4, norms4, read_pos=3, **o),
        "tq_dequantize_kv_seq": lambda **o: tgk.tq_dequantize_kv_seq(
            packed4, norms4, start_pos=2, n_tokens=5, **o),
        "tq_dequantize_hb_kv": lambda **o: tgk.tq_dequantize_hb_kv(
            packed8, norms8, read_pos=1, **o),
        "tq_dequantize_hb_kv_seq": lambda **o: tgk.tq_dequantize_hb_kv_seq(
            packed8, norms8, start_pos=0, n_tokens=2, **o),
        "tq_inverse_rotate": lambda **o: tgk.tq_inverse_rotate(rotated, **o),
        "gated_delta_rule_chunk": lambda **o: tgk.gated_delta_rule_chunk(
            *gdn_chunk[:5], initial_state=gdn_chunk[5], **o),
        "gated_delta_rule_chunk_l2norm": lambda **o: tgk.gated_delta_rule_chunk(
            *gdn_chunk[:5], scale=0.25, use_qk_l2norm=True, **o),
        "gated_delta_rule_recurrent": lambda **o: tgk.gated_delta_rule_recurrent(
            *gdn_recurrent[:5], initial_state=gdn_recurrent[5], **o),
        "gated_delta_rule_recurrent_decode": lambda **o: tgk.gated_delta_rule_recurrent(
            *gdn_recurrent[:5], scale=1.0, decode=True, **o),
    }
    return calls


CALLS = _calls()


@pytest.fixture(params=sorted(CALLS), ids=sorted(CALLS))
def call(request):
    return CALLS[request.param]


def outputs(result):
    """A kernel's result as a tuple of arrays (the encoders return (packed, norms))."""
    return result if isinstance(result, tuple) else (result,)


# ---- safetensors, numpy only ---------------------------------------------------------------

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
                      "U8": np.uint8}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        code = next(c for c, t in SAFETENSORS_DTYPES.items() if np.dtype(t) == array.dtype)
        blob = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as file:
        data = file.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    header.pop("__metadata__", None)
    body = data[8 + size :]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is not None:
            tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(entry["shape"])
    return tensors
