"""Type stubs of the extension module tgk._tgk (python/src/module.cc)."""

from typing import Any, Optional, Tuple

import numpy as np
import numpy.typing as npt

# An input tensor: a numpy array (bf16 as ml_dtypes.bfloat16 or uint16 bits, f16 as
# numpy.float16 or uint16 bits) or any CPU tensor that exports DLPack (torch.Tensor, ...).
Array = Any

class Error(ValueError):
    """Every error of tgk: the library's message, "Invalid argument: ..." (tgk::Error::what())."""

class Comparison:
    """The statistics of tgk.compare (include/tgk/compare.h); indices are flat (C order)."""

    @property
    def count(self) -> int: ...
    @property
    def differing(self) -> int: ...
    @property
    def max_abs(self) -> float: ...
    @property
    def max_abs_index(self) -> int: ...
    @property
    def max_rel(self) -> float: ...
    @property
    def max_rel_index(self) -> int: ...
    @property
    def max_ulp(self) -> int: ...
    @property
    def max_ulp_index(self) -> int: ...
    @property
    def nan_mismatches(self) -> int: ...
    @property
    def inf_mismatches(self) -> int: ...
    @property
    def passed(self) -> bool: ...
    def summary(self) -> str: ...

def compare(a: Array, ref: Array, *, atol: float = 0.0, rtol: float = 0.0,
            max_ulp: int = 0) -> Comparison:
    """Compares a with ref element by element: bitwise by default; a finite differing element
    passes when its ULP distance <= max_ulp or |a - ref| <= atol + rtol * |ref|. NaN and Inf
    mismatches always fail and are counted apart. Same shape and dtype (uint16 bits take the
    other side's 16-bit float type)."""

def targets() -> list[str]:
    """The targets this CPU runs: "scalar" (the oracle) first, then Highway's, best first."""

def best_target() -> str:
    """The target used when target=None."""

def kkt(k: Array, beta: Array, g: Array, *, threads: int = 0,
        target: Optional[str] = None) -> npt.NDArray[np.float32]:
    """gated_delta_net_kkt_bf16: k bf16 [B, T, Hg, K], beta, g f32 [B, T, H] -> A f32
    [B, T, H, 64]."""

def gated_delta_rule_chunk(q: Array, k: Array, v: Array, g: Array, beta: Array, *,
                           initial_state: Optional[Array] = None,
                           scale: Optional[float] = None, use_qk_l2norm: bool = False,
                           threads: int = 0, target: Optional[str] = None
                           ) -> Tuple[npt.NDArray[Any], npt.NDArray[np.float32]]:
    """The chunked gated delta rule forward (GatedDeltaRuleChunkForward, all stages): q, k bf16
    [B, T, Hg, K], v bf16 [B, T, H, V], g (log-decay, natural log) and beta f32 [B, T, H],
    initial_state f32 [B, H, V, K] (None: zeros) -> (o bf16 [B, T, H, V], final_state f32
    [B, H, V, K]). Value head h reads key head h // (H // Hg); scale defaults to 1/sqrt(K);
    use_qk_l2norm L2-normalises q and k first."""

def gated_delta_rule_recurrent(q: Array, k: Array, v: Array, g: Array, beta: Array, *,
                               initial_state: Optional[Array] = None,
                               scale: Optional[float] = None, decode: bool = False,
                               threads: int = 0, target: Optional[str] = None
                               ) -> Tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The recurrent gated delta net (GatedDeltaRuleRecurrent), token by token, all f32: q, k
    [Sn, T, Hk, Dk], v [Sn, T, Hv, Dv], g (a decay rate: alpha = exp(-g)) and beta [Sn, T, Hv],
    initial_state [Sn, Hv, Dv, Dk] (None: zeros) -> (o [Sn, T, Hv, Dv], final_state [Sn, Hv,
    Dv, Dk]). Value head h reads key head h % Hk (tiled); q is scaled as f32(q * scale), scale
    defaulting to 1/sqrt(Dk); decode picks the decode kernel's reductions (Dk a multiple of
    32)."""

def sdpa(q: Array, k: Array, v: Array, *, kv_seq_len: Optional[int] = None,
         scale: Optional[float] = None, threads: int = 0,
         target: Optional[str] = None) -> npt.NDArray[Any]:
    """sdpa / sdpa_bf16: q [batch, n_heads, seq_len, head_dim], k, v [batch, n_kv_heads,
    kv_capacity, head_dim], all f32 or all bf16 -> out like q. kv_seq_len defaults to
    kv_capacity, scale to 1/sqrt(head_dim)."""

def flash_attn_vec(q: Array, k: Array, v: Array, *, kv_seq_len: Optional[int] = None,
                   scale: Optional[float] = None, mask_type: int = 0, sliding_window: int = 0,
                   ring_start: int = 0, nwg: int = 1, threads: int = 0,
                   target: Optional[str] = None) -> npt.NDArray[np.float32]:
    """flash_attn_vec_peer_port_f16 (nwg=1) or its NWG = 32 split (nwg=32): q f32
    [num_heads, head_dim], k, v f16 [num_kv_heads, kv_capacity, head_dim] -> out f32
    [num_heads, head_dim]. kv_seq_len defaults to kv_capacity, scale to 1/sqrt(head_dim)."""

def hadamard_quantize_kv(src: Array, *, cache_capacity: Optional[int] = None,
                         write_pos: int = 0, is_sliding: bool = False,
                         scale_factor_d512: float = 1.0, packed: Optional[Array] = None,
                         norms: Optional[Array] = None, threads: int = 0,
                         target: Optional[str] = None
                         ) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """The 4-bit TurboQuant encoder: src f32 [num_kv_heads, head_dim] into row write_pos of
    a cache -> new (packed u8 [num_kv_heads, cache_capacity, head_dim/2], norms f32
    [num_kv_heads, cache_capacity, max(1, head_dim/256)]): a copy of the given cache, or
    zeros of cache_capacity rows."""

def hadamard_quantize_kv_seq(src: Array, *, cache_capacity: Optional[int] = None,
                             write_pos_start: int = 0, n_tokens: Optional[int] = None,
                             src_tok_offset: int = 0, is_sliding: bool = False,
                             scale_factor_d512: float = 1.0, packed: Optional[Array] = None,
                             norms: Optional[Array] = None, threads: int = 0,
                             target: Optional[str] = None
                             ) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """The 4-bit encoder over tokens: src f32 [tokens, num_kv_heads, head_dim], token
    src_tok_offset + i into position write_pos_start + i; n_tokens defaults to the rest of
    src. Returns the cache as hadamard_quantize_kv does."""

def hadamard_quantize_kv_hb(src: Array, *, codebook_bits: int = 8,
                            cache_capacity: Optional[int] = None, write_pos: int = 0,
                            is_sliding: bool = False, scale_factor_d512: float = 1.0,
                            packed: Optional[Array] = None, norms: Optional[Array] = None,
                            threads: int = 0, target: Optional[str] = None
                            ) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """The 5/6/8-bit encoder (head_dim 256 or 512): packed u8 [num_kv_heads, cache_capacity,
    head_dim], one index per byte; otherwise as hadamard_quantize_kv."""

def hadamard_quantize_kv_hb_seq(src: Array, *, codebook_bits: int = 8,
                                cache_capacity: Optional[int] = None, write_pos_start: int = 0,
                                n_tokens: Optional[int] = None, src_tok_offset: int = 0,
                                is_sliding: bool = False, scale_factor_d512: float = 1.0,
                                packed: Optional[Array] = None, norms: Optional[Array] = None,
                                threads: int = 0, target: Optional[str] = None
                                ) -> Tuple[npt.NDArray[np.uint8], npt.NDArray[np.float32]]:
    """tgk's 5/6/8-bit encoder over tokens (mlx-native has none): src f32 [tokens,
    num_kv_heads, head_dim], token src_tok_offset + i into position write_pos_start + i, bit
    for bit one hadamard_quantize_kv_hb call per token; returns the cache as
    hadamard_quantize_kv_hb does."""

def tq_dequantize_kv(packed: Array, norms: Array, *, read_pos: int,
                     scale_factor_d512: float = 1.0, threads: int = 0,
                     target: Optional[str] = None) -> npt.NDArray[np.float32]:
    """Row read_pos of the 4-bit cache (packed u8 [num_kv_heads, cache_capacity, head_dim/2],
    norms f32 [num_kv_heads, cache_capacity, max(1, head_dim/256)]) -> f32 [num_kv_heads,
    head_dim], in the rotated domain (tq_inverse_rotate maps it back)."""

def tq_dequantize_kv_seq(packed: Array, norms: Array, *, start_pos: int = 0,
                         n_tokens: Optional[int] = None, scale_factor_d512: float = 1.0,
                         threads: int = 0, target: Optional[str] = None
                         ) -> npt.NDArray[np.float32]:
    """tgk's 4-bit sequence dequantiser (mlx-native decodes one 4-bit position per call):
    rows start_pos .. start_pos + n_tokens - 1 of the 4-bit cache (n_tokens defaults to the
    rest of the cache) -> f32 [num_kv_heads, n_tokens, head_dim]; slice [:, t] is bit for bit
    tq_dequantize_kv at read_pos = start_pos + t."""

def tq_dequantize_hb_kv(packed: Array, norms: Array, *, read_pos: int, codebook_bits: int = 8,
                        scale_factor_d512: float = 1.0, threads: int = 0,
                        target: Optional[str] = None) -> npt.NDArray[np.float32]:
    """Row read_pos of the 5/6/8-bit cache (packed u8 [num_kv_heads, cache_capacity,
    head_dim]) -> f32 [num_kv_heads, head_dim]."""

def tq_dequantize_hb_kv_seq(packed: Array, norms: Array, *, start_pos: int = 0,
                            n_tokens: Optional[int] = None, codebook_bits: int = 8,
                            scale_factor_d512: float = 1.0, threads: int = 0,
                            target: Optional[str] = None) -> npt.NDArray[np.float32]:
    """Rows start_pos .. start_pos + n_tokens - 1 (n_tokens defaults to the rest of the
    cache) -> f32 [num_kv_heads, n_tokens, head_dim]."""

def tq_inverse_rotate(rotated: Array, *, threads: int = 0,
                      target: Optional[str] = None) -> npt.NDArray[np.float32]:
    """Dequantised vectors f32 [..., head_dim] back to the original domain, same shape."""

def tq_rotation_scale(head_dim: int) -> float:
    """r_D: the binary32 value nearest 1/sqrt(head_dim)."""
