"""tgk: threadgroup kernels on CPUs, the same bits on every SIMD target and thread count.

Every kernel function takes its tensors as arrays (numpy arrays, or CPU tensors that export
DLPack, such as torch tensors), reads the kernel's dimensions from their shapes, takes the
kernel's other parameters as keywords, and returns new numpy arrays. bf16 tensors are
``ml_dtypes.bfloat16`` arrays or uint16 arrays holding the bits (torch.bfloat16 through DLPack);
bf16 results are ``ml_dtypes.bfloat16`` arrays. f16 tensors are ``numpy.float16`` (or uint16
bits). Inputs that are not C-contiguous are copied first.

``threads`` is the OpenMP team size (0: the OpenMP default); ``target`` picks the
instantiation by name (``tgk.targets()``: "scalar" is the oracle, then the Highway targets of
this CPU, best first; None: the best). The GIL is released while a kernel runs. Every error is
a ``tgk.Error`` (a ValueError) carrying the library's message.

``tgk.compare(a, ref, atol=, rtol=, max_ulp=)`` is the library's parity comparison (the one
``tgk run --ref`` uses): bitwise by default, NaN and Inf mismatches counted apart.
"""

from ._tgk import (
    Comparison,
    Error,
    best_target,
    compare,
    flash_attn_vec,
    gated_delta_rule_chunk,
    gated_delta_rule_recurrent,
    hadamard_quantize_kv,
    hadamard_quantize_kv_hb,
    hadamard_quantize_kv_hb_seq,
    hadamard_quantize_kv_seq,
    kkt,
    sdpa,
    targets,
    tq_dequantize_hb_kv,
    tq_dequantize_hb_kv_seq,
    tq_dequantize_kv,
    tq_dequantize_kv_seq,
    tq_inverse_rotate,
    tq_rotation_scale,
)

__all__ = [
    "Comparison",
    "Error",
    "best_target",
    "compare",
    "flash_attn_vec",
    "gated_delta_rule_chunk",
    "gated_delta_rule_recurrent",
    "hadamard_quantize_kv",
    "hadamard_quantize_kv_hb",
    "hadamard_quantize_kv_hb_seq",
    "hadamard_quantize_kv_seq",
    "kkt",
    "sdpa",
    "targets",
    "tq_dequantize_hb_kv",
    "tq_dequantize_hb_kv_seq",
    "tq_dequantize_kv",
    "tq_dequantize_kv_seq",
    "tq_inverse_rotate",
    "tq_rotation_scale",
]
