"""The TTS-3B repetition rule as an SGLang custom logit processor.

SGLang (started with ``--enable-custom-logit-processor``) takes a request's
``custom_logit_processor`` as ``{"callable": hex(dill.dumps(cls))}`` and calls an instance with
the batch's logits and each request's ``custom_params`` (with ``__req__``, the request, added by
the scheduler). A class in an importable module pickles as a reference to its module and name,
so a client without SGLang or dill can write the same string (``processor_string``).
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import torch

from stepaudio_sglang.repetition import WINDOW, banned_id

AUDIO_IDS = range(65536, 65536 + 5120)  # <audio_0> .. <audio_5119>
EOT_ID = 3

try:  # where SGLang runs, the processor is one of its own kind
    from sglang.srt.sampling.custom_logit_processor import (  # type: ignore[import-not-found]
        CustomLogitProcessor as _Base,
    )
except ImportError:  # the API's environment and the stand-in: the same interface

    class _Base:  # type: ignore[no-redef]
        def __call__(
            self, logits: torch.Tensor, custom_param_list: list[dict[str, Any]] | None = None
        ) -> torch.Tensor:
            raise NotImplementedError


class Step1RepetitionBan(_Base):
    """Bans, per request, the last id when it repeats within the last 10 (prompt included).
    With ``custom_params {"audio_only": true}`` only audio ids and ``<|EOT|>`` may come next
    (what the TTS model is trained to write; a stray text id would not decode)."""

    def __call__(
        self, logits: torch.Tensor, custom_param_list: list[dict[str, Any]] | None = None
    ) -> torch.Tensor:
        for row, params in enumerate(custom_param_list or []):
            params = params or {}
            if params.get("audio_only"):
                allowed = logits[row, AUDIO_IDS.start : AUDIO_IDS.stop].clone()
                eot = logits[row, EOT_ID].clone()
                logits[row] = float("-inf")
                logits[row, AUDIO_IDS.start : AUDIO_IDS.stop] = allowed
                logits[row, EOT_ID] = eot
            request = params.get("__req__")
            if request is None:
                continue
            output = list(request.output_ids)
            tail = output[-WINDOW:]
            if len(tail) < WINDOW:
                tail = list(request.origin_input_ids)[-(WINDOW - len(tail)) :] + tail
            banned = banned_id(tail)
            if banned is not None:
                logits[row, banned] = float("-inf")
        return logits


def processor_string(cls: type = Step1RepetitionBan) -> str:
    """What a request's ``custom_logit_processor`` carries for ``cls``."""
    return json.dumps({"callable": pickle.dumps(cls, protocol=2).hex()})
