"""One next token from one row of logits, in SGLang's order.

``ModelRunner._preprocess_logits`` applies the penalisers (frequency and presence subtract,
repetition scales: positive logits divided, negative multiplied, over the output ids so far;
min_new_tokens masks the stop ids) and ``logit_bias``; ``Sampler.forward`` then runs the
custom logit processor, and takes the argmax when the request is greedy (``top_k`` 1, which is
what temperature 0 becomes) or else divides by the temperature, softmaxes, and samples from the
sorted probabilities with top-k, top-p and min-p zeroed (``top_k_top_p_min_p_sampling_from_probs
_torch``). The draw uses the request's own ``torch.Generator``, so a ``sampling_seed`` repeats.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import torch

from stepaudio_sglang.standin.processor import LogitProcessor
from stepaudio_sglang.standin.protocol import SamplingParams


def apply_penalties(
    logits: torch.Tensor,
    params: SamplingParams,
    output_ids: list[int],
    min_tokens_stop_ids: Collection[int],
) -> torch.Tensor:
    """``logits`` [1, vocab], changed in place and returned."""
    vocab = logits.shape[-1]
    if output_ids and (
        params.frequency_penalty or params.presence_penalty or params.repetition_penalty != 1.0
    ):
        counts = torch.bincount(torch.tensor(output_ids), minlength=vocab)[None, :vocab].float()
        seen = counts > 0
        logits -= params.frequency_penalty * counts + params.presence_penalty * seen.float()
        if params.repetition_penalty != 1.0:
            scaled = torch.where(
                logits < 0,
                logits * params.repetition_penalty,
                logits / params.repetition_penalty,
            )
            logits = torch.where(seen, scaled, logits)
    if len(output_ids) < params.min_new_tokens and min_tokens_stop_ids:
        logits[0, sorted(min_tokens_stop_ids)] = float("-inf")
    for token_id, bias in (params.logit_bias or {}).items():
        logits[0, int(token_id)] += float(bias)
    return logits


def sample_next(
    logits: torch.Tensor,
    params: SamplingParams,
    output_ids: list[int],
    processor: LogitProcessor | None,
    custom_params: Any,
    generator: torch.Generator,
    min_tokens_stop_ids: Collection[int] = (),
) -> int:
    """The next id after ``logits`` ([vocab], float32, left unchanged)."""
    row = apply_penalties(logits.clone()[None], params, output_ids, min_tokens_stop_ids)
    if processor is not None:
        row = processor(row, [custom_params])
    if params.top_k <= 1:
        return int(torch.argmax(row[0]))
    probs = torch.softmax(row / params.temperature, dim=-1)
    probs_sort, probs_idx = probs.sort(dim=-1, descending=True)
    cumulative = torch.cumsum(probs_sort, dim=-1)
    positions = torch.arange(probs.shape[-1]).view(1, -1)
    probs_sort[positions >= params.top_k] = 0.0
    probs_sort[(cumulative - probs_sort) > params.top_p] = 0.0
    if params.min_p > 0:
        probs_sort[probs_sort < probs_sort[:, :1] * params.min_p] = 0.0
    choice = torch.multinomial(probs_sort, num_samples=1, generator=generator)
    return int(torch.gather(probs_idx, 1, choice)[0, 0])
