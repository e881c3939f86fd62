"""Step-1 (Step-Audio-Chat, Step-Audio-TTS-3B) as an SGLang model.

A pre-norm decoder built from SGLang's tensor-parallel layers: ``VocabParallelEmbedding``, per
layer RMSNorm -> q/k/v (one ``QKVParallelLinear``, grouped-query) -> ``RadixAttention`` ->
``RowParallelLinear`` and RMSNorm -> SwiGLU (``MergedColumnParallelLinear`` gate/up,
``SiluAndMul``, ``RowParallelLinear`` down), a final RMSNorm and an untied ``ParallelLMHead``.
No biases and no rotary embedding: positions enter only through the sqrt-ALiBi bias, which the
``step1-alibi`` attention backend (:mod:`stepaudio_sglang.sglang_backend`) adds. Each
``RadixAttention`` carries its rank's slopes as ``alibi_slopes`` (float32 ``[local heads]``,
the slice :func:`stepaudio_sglang.alibi.rank_heads` names), which that backend reads.

Importing this module needs SGLang, and registers the backend in the importing process (SGLang
imports it in its scheduler process, before the attention backend is built).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from sglang.srt.layers.activation import SiluAndMul
from sglang.srt.layers.layernorm import RMSNorm
from sglang.srt.layers.linear import (
    MergedColumnParallelLinear,
    QKVParallelLinear,
    RowParallelLinear,
)
from sglang.srt.layers.logits_processor import LogitsProcessor, LogitsProcessorOutput
from sglang.srt.layers.quantization.base_config import QuantizationConfig
from sglang.srt.layers.radix_attention import RadixAttention
from sglang.srt.layers.vocab_parallel_embedding import ParallelLMHead, VocabParallelEmbedding
from sglang.srt.model_executor.forward_batch_info import ForwardBatch
from sglang.srt.model_loader.weight_utils import default_weight_loader
from sglang.srt.utils import add_prefix
from torch import nn
from transformers import PretrainedConfig

from stepaudio_sglang.alibi import alibi_slopes, rank_heads
from stepaudio_sglang.config import ARCHITECTURE
from stepaudio_sglang.sglang_backend import SLOPES_ATTRIBUTE, register_backend

register_backend()
logger = logging.getLogger(__name__)

# (our parameter, the released name's part, shard id): q/k/v and gate/up load stacked
STACKED_PARAMS: tuple[tuple[str, str, str | int], ...] = (
    ("qkv_proj", "q_proj", "q"),
    ("qkv_proj", "k_proj", "k"),
    ("qkv_proj", "v_proj", "v"),
    ("gate_up_proj", "gate_proj", 0),
    ("gate_up_proj", "up_proj", 1),
)


def tensor_parallel_rank_size() -> tuple[int, int]:
    """This process's (rank, size) in SGLang's tensor-parallel group."""
    try:
        from sglang.srt.runtime_context import get_parallel
    except ImportError:  # pragma: no cover - SGLang releases before runtime_context
        from sglang.srt.distributed.parallel_state import (
            get_tensor_model_parallel_rank,
            get_tensor_model_parallel_world_size,
        )

        return get_tensor_model_parallel_rank(), get_tensor_model_parallel_world_size()
    parallel = get_parallel()
    return parallel.tp_rank, parallel.tp_size


class Step1HFConfig(PretrainedConfig):
    """``model_type: step1`` for transformers where StepFun's remote ``configuration_step1``
    is not loaded (no ``--trust-remote-code``, or a folder without it, as the tiny ones)."""

    model_type = "step1"
    defaults: ClassVar[dict[str, Any]] = {
        "hidden_size": 3072, "intermediate_size": 8192, "num_attention_heads": 48,
        "num_attention_groups": 4, "num_hidden_layers": 32, "max_seq_len": 32768,
        "vocab_size": 74752, "rms_norm_eps": 1e-5,
    }  # fmt: skip

    def __init__(self, **kwargs: Any) -> None:
        for key, default in self.defaults.items():
            setattr(self, key, kwargs.pop(key, default))
        kwargs.setdefault("tie_word_embeddings", False)
        super().__init__(**kwargs)


def register_hf_config() -> None:
    """Let ``AutoConfig`` read a ``model_type: step1`` folder without remote code."""
    from transformers import AutoConfig

    try:
        AutoConfig.register(Step1HFConfig.model_type, Step1HFConfig)
    except ValueError:  # already registered (ours, or transformers gained one)
        pass


class Step1MLP(nn.Module):
    def __init__(
        self, config: PretrainedConfig, quant_config: QuantizationConfig | None, prefix: str
    ) -> None:
        super().__init__()
        hidden, inner = config.hidden_size, config.intermediate_size
        self.gate_up_proj = MergedColumnParallelLinear(
            hidden, [inner, inner], bias=False, quant_config=quant_config,
            prefix=add_prefix("gate_up_proj", prefix),
        )  # fmt: skip
        self.down_proj = RowParallelLinear(
            inner, hidden, bias=False, quant_config=quant_config,
            prefix=add_prefix("down_proj", prefix),
        )  # fmt: skip
        self.act_fn = SiluAndMul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate_up, _ = self.gate_up_proj(x)
        out, _ = self.down_proj(self.act_fn(gate_up))
        return out


class Step1Attention(nn.Module):
    def __init__(
        self, config: PretrainedConfig, layer_id: int, quant: QuantizationConfig | None, prefix: str
    ) -> None:
        super().__init__()
        hidden = config.hidden_size
        total_heads, total_kv = config.num_attention_heads, config.num_attention_groups
        self.head_dim = hidden // total_heads
        tp_rank, tp_size = tensor_parallel_rank_size()
        held = rank_heads(total_heads, total_kv, tp_size, tp_rank)
        self.num_heads, self.num_kv_heads = len(held.heads), len(held.kv_heads)
        self.q_size = self.num_heads * self.head_dim
        self.kv_size = self.num_kv_heads * self.head_dim
        self.qkv_proj = QKVParallelLinear(
            hidden, self.head_dim, total_heads, total_kv, bias=False,
            quant_config=quant, prefix=add_prefix("qkv_proj", prefix),
        )  # fmt: skip
        split = (self.qkv_proj.num_heads, self.qkv_proj.num_kv_heads)
        if split != (self.num_heads, self.num_kv_heads):
            raise ValueError(f"QKVParallelLinear holds {split} heads; the slopes assume {held}")
        self.o_proj = RowParallelLinear(
            total_heads * self.head_dim, hidden, bias=False, quant_config=quant,
            prefix=add_prefix("o_proj", prefix),
        )  # fmt: skip
        self.attn = RadixAttention(
            self.num_heads, self.head_dim, self.head_dim**-0.5, num_kv_heads=self.num_kv_heads,
            layer_id=layer_id, quant_config=quant, prefix=add_prefix("attn", prefix),
        )  # fmt: skip
        self.head_range = held.heads
        self.total_heads = total_heads
        self.attn.register_buffer(SLOPES_ATTRIBUTE, self.rank_slopes(), persistent=False)

    def rank_slopes(self, device: torch.device | str | None = None) -> torch.Tensor:
        """This rank's slopes, float32 ``[local heads]``."""
        slopes = alibi_slopes(self.total_heads)[self.head_range.start : self.head_range.stop]
        return slopes.to(device) if device is not None else slopes

    def forward(self, hidden_states: torch.Tensor, forward_batch: ForwardBatch) -> torch.Tensor:
        qkv, _ = self.qkv_proj(hidden_states)
        q, k, v = qkv.split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        out, _ = self.o_proj(self.attn(q, k, v, forward_batch))
        return out


class Step1DecoderLayer(nn.Module):
    def __init__(
        self, config: PretrainedConfig, layer_id: int, quant: QuantizationConfig | None, prefix: str
    ) -> None:
        super().__init__()
        eps = getattr(config, "rms_norm_eps", 1e-5)
        self.input_layernorm = RMSNorm(config.hidden_size, eps=eps)
        self.self_attn = Step1Attention(config, layer_id, quant, add_prefix("self_attn", prefix))
        self.post_attention_layernorm = RMSNorm(config.hidden_size, eps=eps)
        self.mlp = Step1MLP(config, quant, add_prefix("mlp", prefix))

    def forward(
        self,
        hidden_states: torch.Tensor,
        forward_batch: ForwardBatch,
        residual: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if residual is None:
            residual = hidden_states
            hidden_states = self.input_layernorm(hidden_states)
        else:  # residual += hidden_states, then the norm of the sum
            hidden_states, residual = self.input_layernorm(hidden_states, residual)
        hidden_states = self.self_attn(hidden_states, forward_batch)
        hidden_states, residual = self.post_attention_layernorm(hidden_states, residual)
        return self.mlp(hidden_states), residual


class Step1Model(nn.Module):
    def __init__(
        self, config: PretrainedConfig, quant_config: QuantizationConfig | None, prefix: str
    ) -> None:
        super().__init__()
        self.embed_tokens = VocabParallelEmbedding(
            config.vocab_size, config.hidden_size, prefix=add_prefix("embed_tokens", prefix)
        )
        self.layers = nn.ModuleList(
            Step1DecoderLayer(config, i, quant_config, add_prefix(f"layers.{i}", prefix))
            for i in range(config.num_hidden_layers)
        )
        self.norm = RMSNorm(config.hidden_size, eps=getattr(config, "rms_norm_eps", 1e-5))

    def forward(
        self,
        input_ids: torch.Tensor,
        forward_batch: ForwardBatch,
        input_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        hidden = self.embed_tokens(input_ids) if input_embeds is None else input_embeds
        residual = None
        for layer in self.layers:
            hidden, residual = layer(hidden, forward_batch, residual)
        out, _ = self.norm(hidden, residual)
        return out


class Step1ForCausalLM(nn.Module):
    """``architectures: ["Step1ForCausalLM"]``; tensor names as released."""

    def __init__(
        self,
        config: PretrainedConfig,
        quant_config: QuantizationConfig | None = None,
        prefix: str = "",
    ) -> None:
        super().__init__()
        if getattr(config, "tie_word_embeddings", False):  # transformers' default, not Step-1's
            logger.info("%s: lm_head is loaded untied, whatever the config says", ARCHITECTURE)
        self.config = config
        self.quant_config = quant_config
        self.model = Step1Model(config, quant_config, add_prefix("model", prefix))
        self.lm_head = ParallelLMHead(
            config.vocab_size, config.hidden_size, quant_config=quant_config,
            prefix=add_prefix("lm_head", prefix),
        )  # fmt: skip
        self.logits_processor = LogitsProcessor(config)

    def get_input_embeddings(self) -> nn.Module:
        return self.model.embed_tokens

    @torch.no_grad()
    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        forward_batch: ForwardBatch,
        input_embeds: torch.Tensor | None = None,
        get_embedding: bool = False,
    ) -> LogitsProcessorOutput:
        """``positions`` are unused: Step-1's only position signal is the ALiBi bias, which
        the backend takes from each request's KV layout."""
        if get_embedding:
            raise NotImplementedError(f"{ARCHITECTURE} is served as a generation model only")
        hidden = self.model(input_ids, forward_batch, input_embeds)
        return self.logits_processor(input_ids, hidden, self.lm_head, forward_batch)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        """Load the released names (``model.layers.N.self_attn.q_proj.weight``, ...), stacking
        q/k/v and gate/up; each parameter's ``weight_loader`` takes this rank's shard.
        Returns the parameters loaded; an unknown name raises."""
        params = dict(self.named_parameters())
        loaded: set[str] = set()
        for name, tensor in weights:
            if "rotary_emb" in name:  # no rotary embedding to load
                continue
            for param_part, weight_part, shard in STACKED_PARAMS:
                if f".{weight_part}." not in name:
                    continue
                target = name.replace(f".{weight_part}.", f".{param_part}.")
                param = self._param(params, target, name)
                param.weight_loader(param, tensor, shard)
                break
            else:
                target = name
                param = self._param(params, target, name)
                getattr(param, "weight_loader", default_weight_loader)(param, tensor)
            loaded.add(target)
        missing = sorted(set(params) - loaded)
        if missing:  # a weight update may carry a subset; a full load should carry them all
            logger.warning("%s: parameters not in these weights: %s", ARCHITECTURE, missing[:4])
        self._place_slopes()
        return loaded

    @staticmethod
    def _param(params: dict[str, nn.Parameter], target: str, name: str) -> nn.Parameter:
        if target not in params:
            raise ValueError(f"{ARCHITECTURE}: unexpected checkpoint tensor {name!r}")
        return params[target]

    def _place_slopes(self) -> None:
        """Re-make each layer's slopes on the weights' device (a loader that builds the model
        on the meta device leaves non-persistent buffers there)."""
        device = self.lm_head.weight.device
        for layer in self.model.layers:
            attention = layer.self_attn
            current = getattr(attention.attn, SLOPES_ATTRIBUTE)
            if current.device != device or current.is_meta:
                setattr(attention.attn, SLOPES_ATTRIBUTE, attention.rank_slopes(device))


EntryClass = [Step1ForCausalLM]
