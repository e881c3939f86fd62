"""Step-1's position bias: ALiBi with the distance under a square root, and how tensor
parallelism slices heads and slopes.

For a query at position i and a key at j <= i, head h adds ``-slope_h * sqrt(i - j)`` to the
scaled dot product (keys after the query are masked). Slopes follow ALiBi's recipe: with
``n = 2 ** floor(log2(H))``, ``(2 ** (-8 / n)) ** k`` for k = 1..n, and when H is not a power
of two, ``(2 ** (-4 / n)) ** k`` for k = 1, 3, 5, ... for the H - n heads left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """The ``num_heads`` slopes, float32, in head order."""
    if num_heads < 1:
        raise ValueError(f"num_heads must be positive, got {num_heads}")
    n = 2 ** math.floor(math.log2(num_heads))
    base = 2.0 ** (-8.0 / n)
    slopes = [base**k for k in range(1, n + 1)]
    if num_heads > n:
        extra = 2.0 ** (-4.0 / n)
        slopes += [extra**k for k in range(1, 2 * (num_heads - n), 2)]
    return torch.tensor(slopes, dtype=torch.float32)


def sqrt_alibi_bias(
    slopes: torch.Tensor, query_positions: torch.Tensor, key_positions: torch.Tensor
) -> torch.Tensor:
    """``[heads, queries, keys]`` float32: ``-slope * sqrt(i - j)``, ``-inf`` where j > i."""
    distance = query_positions[:, None].to(torch.float32) - key_positions[None, :].to(torch.float32)
    bias = -slopes[:, None, None] * distance.clamp(min=0).sqrt()[None]
    return bias.masked_fill((distance < 0)[None], float("-inf"))


@dataclass(frozen=True, slots=True)
class RankHeads:
    """The attention heads and KV heads one tensor-parallel rank holds."""

    heads: range
    kv_heads: range


def rank_heads(num_heads: int, num_kv_heads: int, tp_size: int, rank: int) -> RankHeads:
    """Query heads are split in contiguous blocks; KV heads too when there are at least as
    many as ranks, else each is replicated on the ranks whose query heads use it (SGLang's
    and vLLM's rule). The slopes a rank needs are ``alibi_slopes(H)[heads]``."""
    if num_heads % tp_size:
        raise ValueError(f"{num_heads} attention heads do not split over {tp_size} ranks")
    if not 0 <= rank < tp_size:
        raise ValueError(f"rank {rank} outside 0..{tp_size - 1}")
    per_rank = num_heads // tp_size
    heads = range(rank * per_rank, (rank + 1) * per_rank)
    if num_kv_heads >= tp_size:
        if num_kv_heads % tp_size:
            raise ValueError(f"{num_kv_heads} KV heads do not split over {tp_size} ranks")
        per_kv = num_kv_heads // tp_size
        return RankHeads(heads, range(rank * per_kv, (rank + 1) * per_kv))
    if tp_size % num_kv_heads:
        raise ValueError(f"{tp_size} ranks do not share {num_kv_heads} KV heads evenly")
    kv = rank * num_kv_heads // tp_size
    return RankHeads(heads, range(kv, kv + 1))
