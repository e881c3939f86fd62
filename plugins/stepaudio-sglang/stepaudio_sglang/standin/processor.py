"""A request's ``custom_logit_processor``, loaded as SGLang loads it but without running
arbitrary pickles.

SGLang (``sampling/custom_logit_processor.py``) takes the string as JSON
``{"callable": <hex of dill.dumps(cls)>}``, unpickles the class and instantiates it
(``CustomLogitProcessor.from_str(s)`` is ``dill.loads(...)()``). The stand-in unpickles with an
``Unpickler`` whose ``find_class`` resolves only globals of ``stepaudio_sglang`` and its
submodules, so a request can name our processor (``Step1RepetitionBan``) and nothing else.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch

ALLOWED_PACKAGE = "stepaudio_sglang"

LogitProcessor = Callable[[torch.Tensor, list[Any] | None], torch.Tensor]


class ProcessorRefused(ValueError):
    """A ``custom_logit_processor`` the stand-in will not load; the message says why."""


class _OnlyOurPackage(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        ours = module == ALLOWED_PACKAGE or module.startswith(ALLOWED_PACKAGE + ".")
        if ours and "." not in name:  # no dotted names: they would walk into imported modules
            found = super().find_class(module, name)
            if isinstance(found, type) and found.__module__.startswith(ALLOWED_PACKAGE):
                return found
        raise ProcessorRefused(
            f"custom_logit_processor refers to {module}.{name}; the SGLang stand-in only "
            f"loads classes defined in {ALLOWED_PACKAGE}.* (e.g. "
            "stepaudio_sglang.logit_processor.Step1RepetitionBan)"
        )


@lru_cache(maxsize=64)
def load_processor(serialized: str) -> LogitProcessor:
    """The processor instance a request's ``custom_logit_processor`` string names."""
    try:
        blob = bytes.fromhex(json.loads(serialized)["callable"])
    except (ValueError, KeyError, TypeError) as error:
        raise ProcessorRefused(
            'custom_logit_processor must be the JSON string {"callable": "<hex pickle>"} '
            f"that CustomLogitProcessor.to_str() writes ({error!r})"
        ) from error
    try:
        loaded = _OnlyOurPackage(io.BytesIO(blob)).load()
    except ProcessorRefused:
        raise
    except Exception as error:  # a malformed pickle: any of pickle's many exceptions
        raise ProcessorRefused(f"custom_logit_processor does not unpickle ({error!r})") from error
    if not isinstance(loaded, type) or not callable(loaded):
        raise ProcessorRefused(f"custom_logit_processor must be a class, got {loaded!r}")
    instance = loaded()
    if not callable(instance):
        raise ProcessorRefused(f"{loaded.__qualname__} instances are not callable")
    return instance  # type: ignore[no-any-return]
