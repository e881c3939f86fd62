"""The paged layout both attention paths read, built from SGLang's ``ForwardBatch`` fields.

SGLang keeps keys and values in a token-level pool, ``k_buffer`` / ``v_buffer`` of shape
``[pool_tokens, kv_heads, head_dim]`` (page size 1), and maps request slot ``r`` and position
``j`` to a pool row with ``req_to_token[r, j]``. A batch names its requests by
``req_pool_indices`` (rows of ``req_to_token``) and their lengths by ``seq_lens`` (every token
whose KV is in the pool, the new ones included); in an extend (prefill) batch
``extend_prefix_lens`` tokens per request were cached before and ``extend_seq_lens`` are new.

The kernels read the flattened form SGLang's Triton backend hands its kernels (CSR arrays):

- ``qo_indptr`` ``[batch + 1]``: request ``b``'s new tokens are rows
  ``qo_indptr[b]:qo_indptr[b + 1]`` of ``q`` and ``o``;
- ``kv_indptr`` ``[batch + 1]`` and ``kv_indices``: request ``b``'s keys in position order are
  pool rows ``kv_indices[kv_indptr[b]:kv_indptr[b + 1]]`` (prefix and new tokens together, as
  SGLang's ``build_unified_kv_indices`` and its decode metadata lay them out);
- ``prefix_lens`` ``[batch]``: the first new token of request ``b`` sits at position
  ``prefix_lens[b]``, so the query of new token ``m`` is at ``prefix_lens[b] + m`` and key ``n``
  (its index in the request's list) at ``n``: the distance sqrt-ALiBi needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True, slots=True)
class ExtendIndices:
    """The CSR arrays of an extend batch (see the module docstring), on the pool's device."""

    qo_indptr: torch.Tensor
    kv_indptr: torch.Tensor
    kv_indices: torch.Tensor
    prefix_lens: torch.Tensor
    max_len_extend: int
    """The longest ``extend_seq_lens`` (a host int: it sizes the kernel's grid)."""


def _indptr(lengths: torch.Tensor) -> torch.Tensor:
    """``[0, l0, l0 + l1, ...]`` as int32."""
    out = torch.zeros(lengths.numel() + 1, dtype=torch.int32, device=lengths.device)
    out[1:] = torch.cumsum(lengths, dim=0)
    return out


def gather_kv_indices(
    req_to_token: torch.Tensor, req_pool_indices: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(kv_indptr, kv_indices)``: the first ``lengths[b]`` pool rows of request row
    ``req_pool_indices[b]``, concatenated (what SGLang's ``create_flashinfer_kv_indices_triton``
    writes; this one is plain torch and syncs once for the total length)."""
    lengths = lengths.to(torch.int64)
    kv_indptr = _indptr(lengths)
    total = int(kv_indptr[-1])
    rows = torch.repeat_interleave(req_pool_indices.to(torch.int64), lengths, output_size=total)
    starts = torch.repeat_interleave(kv_indptr[:-1].to(torch.int64), lengths, output_size=total)
    cols = torch.arange(total, device=lengths.device) - starts
    return kv_indptr, req_to_token[rows, cols].to(torch.int64)


def extend_indices(
    req_to_token: torch.Tensor,
    req_pool_indices: torch.Tensor,
    seq_lens: torch.Tensor,
    extend_prefix_lens: torch.Tensor,
    extend_seq_lens: torch.Tensor,
) -> ExtendIndices:
    """An extend batch's arrays from ``ForwardBatch.req_to_token_pool.req_to_token``,
    ``req_pool_indices``, ``seq_lens``, ``extend_prefix_lens`` and ``extend_seq_lens``
    (``seq_lens == extend_prefix_lens + extend_seq_lens``: SGLang writes the new tokens' pool
    rows into ``req_to_token`` before the forward pass)."""
    if not torch.equal(seq_lens.to(torch.int64), (extend_prefix_lens + extend_seq_lens).long()):
        raise ValueError("seq_lens must equal extend_prefix_lens + extend_seq_lens")
    kv_indptr, kv_indices = gather_kv_indices(req_to_token, req_pool_indices, seq_lens)
    return ExtendIndices(
        qo_indptr=_indptr(extend_seq_lens.to(torch.int64)),
        kv_indptr=kv_indptr,
        kv_indices=kv_indices,
        prefix_lens=extend_prefix_lens.to(torch.int32),
        max_len_extend=int(extend_seq_lens.max()) if extend_seq_lens.numel() else 0,
    )


def decode_indices(
    req_to_token: torch.Tensor, req_pool_indices: torch.Tensor, seq_lens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """A decode batch's ``(kv_indptr, kv_indices)``; ``seq_lens`` counts the token being decoded
    (its KV is written first), so the query sits at position ``seq_lens[b] - 1``."""
    return gather_kv_indices(req_to_token, req_pool_indices, seq_lens)
