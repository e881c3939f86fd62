"""sqrt-ALiBi attention (Step-1 has no RoPE) over SGLang's paged KV pool.

- :mod:`.layout`: the CSR arrays the kernels read, built from ``ForwardBatch`` fields.
- :mod:`.torch_paged`: ``extend_attention_torch`` / ``decode_attention_torch``, plain torch
  (the fallback where Triton is missing, and the kernels' reference).
- :mod:`.triton_paged`: ``extend_attention_triton`` / ``decode_attention_triton``, the same
  signatures as Triton kernels (imported on demand: it needs ``triton``).

For query position i and key position j <= i, head h scores
``q.k / sqrt(head_dim) - slope[h] * sqrt(i - j)``; query head h reads KV head
``h // (heads // kv_heads)``; ``slope`` is a rank's slice of ``alibi.alibi_slopes(H)``.
"""

from stepaudio_sglang.attention.layout import (
    ExtendIndices,
    decode_indices,
    extend_indices,
    gather_kv_indices,
)
from stepaudio_sglang.attention.torch_paged import decode_attention_torch, extend_attention_torch

__all__ = [
    "ExtendIndices",
    "decode_attention_torch",
    "decode_indices",
    "extend_attention_torch",
    "extend_indices",
    "gather_kv_indices",
]
