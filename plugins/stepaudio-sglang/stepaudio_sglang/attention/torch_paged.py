"""sqrt-ALiBi attention over the paged KV pool in plain torch: the path a backend takes where
Triton is not available, and the kernels' reference.

Both functions take the arrays of :mod:`stepaudio_sglang.attention.layout` in the order of
SGLang's Triton kernels, gather each request's keys and values from the pool through
``kv_indices``, compute in float32 one request at a time, and write ``o`` in ``q``'s dtype.
"""

from __future__ import annotations

import math

import torch

from stepaudio_sglang.alibi import sqrt_alibi_bias


def check_shapes(
    q: torch.Tensor, k_buffer: torch.Tensor, v_buffer: torch.Tensor, slopes: torch.Tensor
) -> int:
    """The GQA group size ``num_heads // num_kv_heads``, after checking the shapes agree."""
    if q.dim() != 3 or k_buffer.dim() != 3 or v_buffer.shape[:2] != k_buffer.shape[:2]:
        raise ValueError("q is [tokens, heads, dim]; k/v_buffer are [pool_tokens, kv_heads, dim]")
    heads, kv_heads = q.shape[1], k_buffer.shape[1]
    if heads % kv_heads or q.shape[2] != k_buffer.shape[2]:
        raise ValueError(f"{heads} query heads over {kv_heads} KV heads, dims {q.shape[2]}")
    if slopes.shape != (heads,):
        raise ValueError(f"one slope per query head: {heads}, got {tuple(slopes.shape)}")
    return heads // kv_heads


def _attend(
    q: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    first_position: int,
    slopes: torch.Tensor,
    sm_scale: float,
    group: int,
) -> torch.Tensor:
    """One request: ``q`` ``[tokens, heads, dim]`` at positions ``first_position + m`` over
    ``keys`` / ``values`` ``[kv_len, kv_heads, dim]`` at positions ``0..kv_len-1``, float32."""
    keys = keys.float().repeat_interleave(group, dim=1)  # query head h reads kv head h // group
    values = values.float().repeat_interleave(group, dim=1)
    positions = torch.arange(first_position, first_position + q.shape[0], device=q.device)
    bias = sqrt_alibi_bias(slopes.float(), positions, torch.arange(keys.shape[0], device=q.device))
    scores = torch.einsum("qhd,khd->hqk", q.float(), keys) * sm_scale + bias
    return torch.einsum("hqk,khd->qhd", scores.softmax(dim=-1), values)


def extend_attention_torch(
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
    """Prefill of new tokens whose KV is already in the pool, after a cached prefix.

    ``q_extend`` / ``o_extend`` are ``[extend_tokens, heads, head_dim]`` (``o_extend`` None:
    allocated); request ``b``'s new tokens attend causally to pool rows
    ``kv_indices[kv_indptr[b]:kv_indptr[b + 1]]``, whose first ``prefix_lens[b]`` are its
    prefix. ``slopes`` is this rank's ``[heads]`` float32; ``sm_scale`` defaults to
    ``1 / sqrt(head_dim)``. ``max_len_extend`` is unused here (the kernel sizes its grid by it).
    Returns ``o_extend``."""
    del max_len_extend
    group = check_shapes(q_extend, k_buffer, v_buffer, slopes)
    scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(q_extend.shape[-1])
    out = torch.empty_like(q_extend) if o_extend is None else o_extend
    qo, kv, prefix = qo_indptr.tolist(), kv_indptr.tolist(), prefix_lens.tolist()
    for b in range(len(qo) - 1):
        if qo[b + 1] == qo[b]:
            continue
        rows = kv_indices[kv[b] : kv[b + 1]]
        if kv[b + 1] - kv[b] != prefix[b] + qo[b + 1] - qo[b]:
            raise ValueError(f"request {b}: kv length is not prefix + new tokens")
        result = _attend(
            q_extend[qo[b] : qo[b + 1]],
            k_buffer[rows],
            v_buffer[rows],
            prefix[b],
            slopes,
            scale,
            group,
        )
        out[qo[b] : qo[b + 1]] = result.to(out.dtype)
    return out


def decode_attention_torch(
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
    """One new token per request: ``q`` / ``o`` ``[batch, heads, head_dim]``; request ``b``'s
    query sits at the last of its pool rows ``kv_indices[kv_indptr[b]:kv_indptr[b + 1]]`` and
    sees them all. ``num_kv_splits`` is the kernel's (unused here). Returns ``o``."""
    del num_kv_splits
    group = check_shapes(q, k_buffer, v_buffer, slopes)
    scale = sm_scale if sm_scale is not None else 1.0 / math.sqrt(q.shape[-1])
    out = torch.empty_like(q) if o is None else o
    kv = kv_indptr.tolist()
    for b in range(q.shape[0]):
        rows = kv_indices[kv[b] : kv[b + 1]]
        if rows.numel() == 0:
            raise ValueError(f"request {b} has no keys (seq_lens counts the decoded token)")
        result = _attend(
            q[b : b + 1], k_buffer[rows], v_buffer[rows], rows.numel() - 1, slopes, scale, group
        )
        out[b] = result[0].to(out.dtype)
    return out
