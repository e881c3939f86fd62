"""sqrt-ALiBi attention over the paged KV pool as Triton kernels, with the torch path's signatures.

Extend (prefill after a cached prefix) runs one program per (request, query head, block of
``BLOCK_M`` new tokens) over the request's keys in blocks of ``BLOCK_N``, stopping at the tile's
last query (causal), with an online softmax in float32. Decode runs one program per (request,
KV head, split of the keys) for all the query heads of that KV head at once (GQA: the keys are
read once per group), then a second kernel merges the splits by their log-sum-exp. The bias is
computed in-kernel: ``-slope[h] * sqrt(query_position - key_position)``, positions being indices
in the request's key list (see :mod:`stepaudio_sglang.attention.layout`).

TRITON_INTERPRET: Triton reads it when a function is *decorated* (``triton.jit`` returns an
interpreter function when it is set). The kernels (:mod:`.triton_kernels`) are plain functions
decorated on first call (:func:`kernels`), once per setting, and call none of Triton's own
``@jit`` helpers (those are decorated at ``import triton``), so setting ``TRITON_INTERPRET=1``
any time before the first call runs them on the CPU through the interpreter, whether Triton or
this module was imported before or not. Under the interpreter the tiles are cast to float32
before ``tl.dot`` (its ``dot`` on bfloat16 multiplies the raw bits), which matches the GPU's
bf16 x bf16 -> fp32 products.
"""

import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import triton

from stepaudio_sglang.attention import triton_kernels
from stepaudio_sglang.attention.torch_paged import check_shapes


@dataclass
class Kernels:
    """The jitted kernels for one TRITON_INTERPRET setting (``interpreted``)."""

    extend: Any
    decode_partial: Any
    decode_combine: Any
    interpreted: bool


_BUILT: dict[bool, Kernels] = {}


def interpreting() -> bool:
    """Whether Triton would run kernels decorated now through its CPU interpreter."""
    knobs = getattr(triton, "knobs", None)
    if knobs is not None and hasattr(knobs, "runtime"):
        return bool(knobs.runtime.interpret)
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def kernels() -> Kernels:
    """The kernels, decorated on first use for the current TRITON_INTERPRET setting."""
    flag = interpreting()
    if flag not in _BUILT:
        _BUILT[flag] = Kernels(
            extend=triton.jit(triton_kernels.extend_kernel),
            decode_partial=triton.jit(triton_kernels.decode_partial_kernel),
            decode_combine=triton.jit(triton_kernels.decode_combine_kernel),
            interpreted=flag,
        )
    return _BUILT[flag]


def _launch_options(built: Kernels, q: torch.Tensor, *others: torch.Tensor) -> dict[str, Any]:
    """Constexprs shared by the kernels (head dim, its power-of-two block, dot settings), after
    checking that every tensor is contiguous along the head dim, as the kernels read it."""
    if any(t.stride(-1) != 1 for t in (q, *others)):
        raise ValueError("q, o and the KV buffers must be contiguous in their last dimension")
    return {
        "HEAD_DIM": q.shape[-1],
        "BLOCK_D": triton.next_power_of_2(q.shape[-1]),
        "UPCAST": built.interpreted,
        # float32 inputs: 3xTF32 on tensor cores (float32-level error); bf16 ignores it
        "DOT_PRECISION": "tf32x3" if q.dtype == torch.float32 else "tf32",
    }


def _capability(built: Kernels, device: torch.device) -> tuple[int, int] | None:
    """The GPU's compute capability, or None when interpreting (small tiles)."""
    if built.interpreted:
        return None
    if device.type != "cuda":
        raise RuntimeError(f"tensors on {device}: set TRITON_INTERPRET=1 to run the kernels there")
    return torch.cuda.get_device_capability(device)


def extend_tiles(
    capability: tuple[int, int] | None, head_dim: int, dtype: torch.dtype
) -> tuple[int, int, int]:
    """``(BLOCK_M, BLOCK_N, num_warps)`` of the extend kernel: on a GPU, tiles that compile for
    sm_90 in bf16 without register spills (checked with ptxas, not timed on a GPU); 16 x 16
    under the interpreter, so that small tests cross several tiles."""
    if capability is None:
        return 16, 16, 4
    if head_dim <= 64:
        return 128, 64, 8
    return 64, 64 if dtype != torch.float32 else 32, 8


def extend_attention_triton(
    q_extend: torch.Tensor,
    o_extend: torch.Tensor | None,
    k_buffer: torch.Tensor,
    v_buffer: torch.Tensor,
    qo_indptr: torch.Tensor,
    kv_indptr: torch.Tensor,
    kv_indices: torch.Tensor,
    prefix_lens: torch.Tensor,
    max_len_extend: int,
    slopes: torch.Tensor,
    sm_scale: float | None = None,
) -> torch.Tensor:
    """The Triton form of :func:`~stepaudio_sglang.attention.torch_paged.extend_attention_torch`
    (same arguments; ``max_len_extend`` sizes the grid). Returns ``o_extend``."""
    group = check_shapes(q_extend, k_buffer, v_buffer, slopes)
    out = torch.empty_like(q_extend) if o_extend is None else o_extend
    batch, heads = qo_indptr.numel() - 1, q_extend.shape[1]
    if batch == 0 or max_len_extend == 0:
        return out
    built = kernels()
    options = _launch_options(built, q_extend, out, k_buffer, v_buffer)
    capability = _capability(built, q_extend.device)
    block_m, block_n, warps = extend_tiles(capability, q_extend.shape[-1], q_extend.dtype)
    scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(q_extend.shape[-1])
    grid = (batch, heads, triton.cdiv(max_len_extend, block_m))
    built.extend[grid](
        q_extend, out, k_buffer, v_buffer, qo_indptr, kv_indptr, kv_indices, prefix_lens,
        slopes.to(device=q_extend.device, dtype=torch.float32).contiguous(), scale, group,
        q_extend.stride(0), q_extend.stride(1), out.stride(0), out.stride(1),
        k_buffer.stride(0), k_buffer.stride(1), v_buffer.stride(0), v_buffer.stride(1),
        BLOCK_M=block_m, BLOCK_N=block_n, num_warps=warps, num_stages=1, **options,
    )  # fmt: skip
    return out


def decode_attention_triton(
    q: torch.Tensor,
    k_buffer: torch.Tensor,
    v_buffer: torch.Tensor,
    o: torch.Tensor | None,
    kv_indptr: torch.Tensor,
    kv_indices: torch.Tensor,
    slopes: torch.Tensor,
    sm_scale: float | None = None,
    num_kv_splits: int = 8,
) -> torch.Tensor:
    """The Triton form of :func:`~stepaudio_sglang.attention.torch_paged.decode_attention_torch`:
    each request's keys are cut in ``num_kv_splits`` parts, run in parallel and merged. Returns
    ``o``."""
    group = check_shapes(q, k_buffer, v_buffer, slopes)
    out = torch.empty_like(q) if o is None else o
    batch, heads = q.shape[:2]
    if batch == 0:
        return out
    built = kernels()
    options = _launch_options(built, q, out, k_buffer, v_buffer)
    splits = max(1, int(num_kv_splits))
    mid_o = torch.empty(batch, heads, splits, q.shape[-1], dtype=torch.float32, device=q.device)
    mid_lse = torch.empty(batch, heads, splits, dtype=torch.float32, device=q.device)
    block_n = 16 if _capability(built, q.device) is None else 64
    warps = 4 if q.shape[-1] <= 64 else 8  # no spills at head_dim 128 on sm_90
    scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    built.decode_partial[(batch, heads // group, splits)](
        q, k_buffer, v_buffer, kv_indptr, kv_indices,
        slopes.to(device=q.device, dtype=torch.float32).contiguous(), mid_o, mid_lse,
        scale, group, q.stride(0), q.stride(1),
        k_buffer.stride(0), k_buffer.stride(1), v_buffer.stride(0), v_buffer.stride(1),
        mid_o.stride(0), mid_o.stride(1), mid_o.stride(2), mid_lse.stride(0), mid_lse.stride(1),
        NUM_SPLITS=splits, BLOCK_H=max(16, triton.next_power_of_2(group)), BLOCK_N=block_n,
        num_warps=warps, num_stages=2, **options,
    )  # fmt: skip
    built.decode_combine[(batch, heads)](
        mid_o, mid_lse, out, mid_o.stride(0), mid_o.stride(1), mid_o.stride(2),
        mid_lse.stride(0), mid_lse.stride(1), out.stride(0), out.stride(1),
        NUM_SPLITS=splits, HEAD_DIM=q.shape[-1], BLOCK_D=options["BLOCK_D"],
        BLOCK_S=max(2, triton.next_power_of_2(splits)), num_warps=4,
    )  # fmt: skip
    return out
