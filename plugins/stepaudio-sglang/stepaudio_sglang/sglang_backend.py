"""The ``step1-alibi`` SGLang attention backend: Step-1's sqrt-ALiBi attention over SGLang's KV
pool, for prefill after a cached prefix (extend, mixed chunks included) and decode.

Per forward pass, :meth:`Step1AlibiAttnBackend.init_forward_metadata` lays the batch's pool rows
out as CSR arrays (:mod:`stepaudio_sglang.attention.layout`, from ``req_to_token``); each layer
then writes its new keys and values into the pool (``set_kv_buffer`` at ``out_cache_loc``) and
runs :mod:`~stepaudio_sglang.attention.triton_paged` on CUDA with Triton, else
:mod:`~stepaudio_sglang.attention.torch_paged` (``STEPAUDIO_STEP1_ATTENTION=torch|triton``
forces one). The slopes are the layer's ``alibi_slopes`` (set by ``models.step1``).

Not supported (each raises with its reason): CUDA-graph capture (the launcher turns SGLang's
CUDA graphs off), speculative decoding, cross-attention, a translating (unified) KV pool, and an
fp8 KV cache. Importing this module needs SGLang.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from sglang.srt.layers.attention.base_attn_backend import AttentionBackend

from stepaudio_sglang.attention.layout import ExtendIndices, decode_indices, extend_indices
from stepaudio_sglang.attention.torch_paged import decode_attention_torch, extend_attention_torch

try:  # SGLang >= 0.5.22 writes the KV pool through a KVWriteLoc; older ones take the locs
    from sglang.srt.mem_cache.memory_pool import KVWriteLoc
except ImportError:  # pragma: no cover - depends on the SGLang release
    KVWriteLoc = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from sglang.srt.layers.radix_attention import RadixAttention
    from sglang.srt.model_executor.forward_batch_info import ForwardBatch

BACKEND_NAME = "step1-alibi"
SLOPES_ATTRIBUTE = "alibi_slopes"
"""The attribute of a ``RadixAttention`` holding its rank's slopes (float32 ``[local heads]``)."""
KERNEL_ENV = "STEPAUDIO_STEP1_ATTENTION"
NUM_KV_SPLITS = 8


@dataclass(frozen=True, slots=True)
class Kernels:
    extend: Callable[..., torch.Tensor]
    decode: Callable[..., torch.Tensor]
    name: str


def pick_kernels(device: torch.device) -> Kernels:
    """Triton on CUDA when it imports, else plain torch; ``STEPAUDIO_STEP1_ATTENTION`` forces
    ``torch`` or ``triton``."""
    forced = os.environ.get(KERNEL_ENV, "").strip().lower()
    if forced not in ("", "torch", "triton"):
        raise ValueError(f"{KERNEL_ENV} must be 'torch' or 'triton', got {forced!r}")
    if forced == "torch" or (not forced and device.type != "cuda"):
        return Kernels(extend_attention_torch, decode_attention_torch, "torch")
    try:
        from stepaudio_sglang.attention.triton_paged import (
            decode_attention_triton,
            extend_attention_triton,
        )
    except ImportError:
        if forced == "triton":
            raise
        return Kernels(extend_attention_torch, decode_attention_torch, "torch")
    return Kernels(extend_attention_triton, decode_attention_triton, "triton")


@dataclass(frozen=True, slots=True)
class Step1ForwardMetadata:
    """One forward pass's layout: ``extend`` for extend/mixed batches, else the decode CSR."""

    extend: ExtendIndices | None = None
    kv_indptr: torch.Tensor | None = None
    kv_indices: torch.Tensor | None = None


def layer_slopes(layer: RadixAttention) -> torch.Tensor:
    slopes = getattr(layer, SLOPES_ATTRIBUTE, None)
    if slopes is None:
        raise RuntimeError(
            f"the {BACKEND_NAME} attention backend serves Step-1 only: layer {layer.layer_id} "
            f"has no {SLOPES_ATTRIBUTE}"
        )
    return slopes


class Step1AlibiAttnBackend(AttentionBackend):
    """sqrt-ALiBi attention for ``Step1ForCausalLM`` (see the module docstring)."""

    def __init__(self, model_runner: Any) -> None:
        super().__init__()
        self.device = torch.device(model_runner.device)
        self.req_to_token_pool = model_runner.req_to_token_pool
        self.token_to_kv_pool = model_runner.token_to_kv_pool
        kv_dtype = getattr(model_runner, "kv_cache_dtype", None)
        if isinstance(kv_dtype, torch.dtype) and kv_dtype.itemsize == 1:
            raise NotImplementedError(f"{BACKEND_NAME}: an 8-bit KV cache ({kv_dtype})")
        self.kernels = pick_kernels(self.device)
        self.forward_metadata: Step1ForwardMetadata | None = None

    # -- metadata ---------------------------------------------------------------------------

    def init_forward_metadata(self, forward_batch: ForwardBatch) -> None:
        self.init_forward_metadata_out_graph(forward_batch)

    def init_forward_metadata_out_graph(
        self, forward_batch: ForwardBatch, in_capture: bool = False
    ) -> None:
        if in_capture:
            self.init_cuda_graph_state(0, 0)
        mode = forward_batch.forward_mode
        speculative = mode.is_target_verify() or mode.is_draft_extend_v2()
        if speculative or forward_batch.spec_info is not None:
            raise NotImplementedError(f"{BACKEND_NAME}: speculative decoding")
        if getattr(self.kv_index_translator, "is_translating", False):
            raise NotImplementedError(f"{BACKEND_NAME}: a translating (unified) KV pool")
        if mode.is_idle():
            self.forward_metadata = None
            return
        req_to_token = self.req_to_token_pool.req_to_token
        if mode.is_decode():
            kv_indptr, kv_indices = decode_indices(
                req_to_token, forward_batch.req_pool_indices, forward_batch.seq_lens
            )
            self.forward_metadata = Step1ForwardMetadata(kv_indptr=kv_indptr, kv_indices=kv_indices)
            return
        layout = extend_indices(
            req_to_token,
            forward_batch.req_pool_indices,
            forward_batch.seq_lens,
            forward_batch.extend_prefix_lens,
            forward_batch.extend_seq_lens,
        )
        self.forward_metadata = Step1ForwardMetadata(extend=layout)

    def init_cuda_graph_state(self, max_bs: int, max_num_tokens: int) -> None:
        raise NotImplementedError(
            f"{BACKEND_NAME}: CUDA-graph capture; run SGLang with --disable-decode-cuda-graph "
            "--disable-prefill-cuda-graph (python -m stepaudio_sglang.launch_server does)"
        )

    def get_cuda_graph_seq_len_fill_value(self) -> int:
        return 1

    def support_triton(self) -> bool:
        return self.kernels.name == "triton"

    # -- attention --------------------------------------------------------------------------

    def _write_kv(
        self,
        layer: RadixAttention,
        forward_batch: ForwardBatch,
        k: torch.Tensor | None,
        v: torch.Tensor | None,
        save_kv_cache: bool,
    ) -> None:
        if layer.is_cross_attention:
            raise NotImplementedError(f"{BACKEND_NAME}: cross-attention")
        if not save_kv_cache or k is None or v is None:
            return
        loc: Any = forward_batch.out_cache_loc
        if KVWriteLoc is not None:
            loc = KVWriteLoc.for_batch(forward_batch)
        if layer.k_scale is None:
            self.token_to_kv_pool.set_kv_buffer(layer, loc, k, v)
        else:
            self.token_to_kv_pool.set_kv_buffer(layer, loc, k, v, layer.k_scale, layer.v_scale)

    def _buffers(self, layer: RadixAttention) -> tuple[torch.Tensor, torch.Tensor]:
        return (
            self.token_to_kv_pool.get_key_buffer(layer.layer_id),
            self.token_to_kv_pool.get_value_buffer(layer.layer_id),
        )

    def forward_extend(
        self,
        q: torch.Tensor,
        k: torch.Tensor | None,
        v: torch.Tensor | None,
        layer: RadixAttention,
        forward_batch: ForwardBatch,
        save_kv_cache: bool = True,
        **kwargs: Any,
    ) -> torch.Tensor:
        """New tokens ``q`` ``[tokens, heads * head_dim]`` after each request's cached prefix;
        their keys and values are written to the pool first. Returns ``[tokens, heads * dim]``."""
        self._write_kv(layer, forward_batch, k, v, save_kv_cache)
        meta = self.forward_metadata
        if meta is None or meta.extend is None:
            raise RuntimeError(f"{BACKEND_NAME}: forward_extend without extend metadata")
        heads, dim = layer.tp_q_head_num, layer.qk_head_dim
        q3 = q.view(-1, heads, dim)
        out = q.new_empty(q3.shape)
        k_buffer, v_buffer = self._buffers(layer)
        layout = meta.extend
        self.kernels.extend(
            q3, out, k_buffer, v_buffer, layout.qo_indptr, layout.kv_indptr, layout.kv_indices,
            layout.prefix_lens, layout.max_len_extend, layer_slopes(layer), layer.scaling,
        )  # fmt: skip
        return out.view(-1, heads * dim)

    def forward_decode(
        self,
        q: torch.Tensor,
        k: torch.Tensor | None,
        v: torch.Tensor | None,
        layer: RadixAttention,
        forward_batch: ForwardBatch,
        save_kv_cache: bool = True,
        **kwargs: Any,
    ) -> torch.Tensor:
        """One new token per request, ``q`` ``[batch, heads * head_dim]``; its key and value
        are written to the pool first, and it attends to all of its request's keys."""
        self._write_kv(layer, forward_batch, k, v, save_kv_cache)
        meta = self.forward_metadata
        if meta is None or meta.kv_indptr is None or meta.kv_indices is None:
            raise RuntimeError(f"{BACKEND_NAME}: forward_decode without decode metadata")
        heads, dim = layer.tp_q_head_num, layer.qk_head_dim
        q3 = q.reshape(-1, heads, dim)
        out = q.new_empty(q3.shape)
        k_buffer, v_buffer = self._buffers(layer)
        self.kernels.decode(
            q3, k_buffer, v_buffer, out, meta.kv_indptr, meta.kv_indices, layer_slopes(layer),
            layer.scaling, NUM_KV_SPLITS,
        )  # fmt: skip
        return out.view(-1, heads * dim)


def create_backend(model_runner: Any) -> Step1AlibiAttnBackend:
    return Step1AlibiAttnBackend(model_runner)


def register_backend() -> None:
    """Make ``--attention-backend step1-alibi`` a choice SGLang parses and builds, in this
    process (idempotent)."""
    from sglang.srt.layers.attention import attention_registry

    if BACKEND_NAME not in attention_registry.ATTENTION_BACKENDS:
        attention_registry.register_attention_backend(BACKEND_NAME)(create_backend)
    try:  # SGLang >= 0.5.22: the extension point for out-of-tree backends
        from sglang.srt.arg_groups.choices import ATTENTION_BACKEND_CHOICES as choices
    except ImportError:  # pragma: no cover - older releases keep the list in server_args
        from sglang.srt.server_args import ATTENTION_BACKEND_CHOICES as choices
    if BACKEND_NAME not in choices:
        choices.append(BACKEND_NAME)
