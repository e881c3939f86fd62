"""What a ``/generate`` request may say and how the stand-in reads it, as SGLang 0.5.x does.

Three ways a request fails, each answered as SGLang answers it (see ``server``):

- ``ValidationFailure``: the body does not parse as ``GenerateReqInput`` (FastAPI's
  ``RequestValidationError``, which SGLang's handler turns into 400 ``ErrorResponse``).
- ``ValueError``: what SGLang's ``TokenizerManager`` raises (missing input, prompt too long,
  invalid sampling parameters, ...): 400 ``{"error": {"message"}}``, or, on a stream, one
  ``data: {"error": {"message"}}`` chunk and ``[DONE]`` with status 200.
- ``TypeError``: an unknown sampling parameter (``SamplingParams(**params)`` raises it and
  nothing catches it): 500 ``Internal Server Error``.

``NotInStandin`` (a ``ValueError``) names what SGLang serves but the stand-in does not.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, fields
from typing import Any

TOP_K_ALL = 1 << 30
_SAMPLING_EPS = 1e-6
# sampling_params.py (SamplingParams) fields; any other key is a TypeError in SGLang.
_SAMPLING_KEYS = {
    "max_new_tokens", "stop", "stop_token_ids", "stop_regex", "temperature", "top_p", "top_k",
    "min_p", "frequency_penalty", "presence_penalty", "repetition_penalty", "min_new_tokens",
    "n", "json_schema", "regex", "ebnf", "structural_tag", "ignore_eos", "skip_special_tokens",
    "spaces_between_special_tokens", "no_stop_trim", "custom_params", "stream_interval",
    "logit_bias", "sampling_seed",
}  # fmt: skip
_NONE_MEANS_DEFAULT = (
    "temperature", "top_p", "min_p", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "min_new_tokens", "n", "ignore_eos", "skip_special_tokens",
    "spaces_between_special_tokens", "no_stop_trim",
)  # fmt: skip


class ValidationFailure(Exception):
    """The body is not a ``GenerateReqInput`` (or ``AbortReq``)."""


class NotInStandin(ValueError):
    """Something SGLang serves that the stand-in does not."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not implemented by the SGLang stand-in (stepaudio_sglang)")


def finish_stop(matched: int | str) -> dict[str, Any]:
    """``FINISH_MATCHED_TOKEN`` / ``FINISH_MATCHED_STR`` (schedule_batch.py)."""
    return {"type": "stop", "matched": matched}


def finish_length(length: int) -> dict[str, Any]:
    """``FINISH_LENGTH``."""
    return {"type": "length", "length": length}


def finish_abort(
    message: str | None = None, status_code: int | None = None, err_type: str | None = None
) -> dict[str, Any]:
    """``FINISH_ABORT``: a plain abort is ``message "Aborted"`` with no status code."""
    return {
        "type": "abort",
        "message": message or "Aborted",
        "status_code": status_code,
        "err_type": err_type,
    }


@dataclass
class SamplingParams:
    """SGLang's ``SamplingParams``: defaults, ``__post_init__``, ``normalize``, ``verify``."""

    max_new_tokens: int | None = 128
    stop: str | list[str] | None = None
    stop_token_ids: Any = None
    stop_regex: Any = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = TOP_K_ALL
    min_p: float = 0.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    min_new_tokens: int = 0
    n: int = 1
    json_schema: Any = None
    regex: Any = None
    ebnf: Any = None
    structural_tag: Any = None
    ignore_eos: bool = False
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    no_stop_trim: bool = False
    custom_params: Any = None
    stream_interval: int | None = None
    logit_bias: dict[str, float] | None = None
    sampling_seed: int | None = None

    @classmethod
    def from_request(cls, params: dict[str, Any]) -> SamplingParams:
        unknown = sorted(set(params) - _SAMPLING_KEYS)
        if unknown:  # msgspec's Struct says so with a TypeError, which SGLang lets become a 500
            raise TypeError(f"Unexpected keyword argument {unknown[0]!r}")
        made = cls(**params)
        made._post_init()
        return made

    def _post_init(self) -> None:
        """None means the default; temperature ~0 means greedy (top_k 1); top_k -1 = all."""
        defaults = {f.name: f.default for f in fields(self)}
        for name in _NONE_MEANS_DEFAULT:
            if getattr(self, name) is None:
                setattr(self, name, defaults[name])
        if self.top_k is None:
            self.top_k = -1
        ids = {int(t) for t in (self.stop_token_ids or []) if t is not None}
        self.stop_token_ids = ids
        if 0 <= self.temperature < _SAMPLING_EPS:
            self.temperature, self.top_k = 1.0, 1
        if self.top_k == -1:
            self.top_k = TOP_K_ALL

    @property
    def stop_strs(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def normalize(self, tokenizer: Any | None) -> int:
        """The longest stop string in tokens (in characters without a tokenizer); raises as
        SGLang does for what needs a tokenizer when there is none."""
        stops = self.stop_strs
        if tokenizer is None:
            if stops:
                raise ValueError(
                    f"stop={stops!r} is unavailable when skip_tokenizer_init=True "
                    "(requires tokenizer to decode tokens to text for matching)."
                )
            if self.min_new_tokens > 0:
                raise ValueError(
                    f"min_new_tokens={self.min_new_tokens} is unavailable when "
                    "skip_tokenizer_init=True (requires tokenizer for eos_token_id)."
                )
            return 0
        return max((len(tokenizer.encode(s, add_bos=False)) for s in stops), default=0)

    def verify(self, vocab_size: int) -> None:
        if not math.isfinite(self.temperature) or self.temperature < 0.0:
            raise ValueError(
                f"temperature must be a non-negative finite number, got {self.temperature}."
            )
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if not 0.0 <= self.min_p <= 1.0:
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p}.")
        if self.top_k < 1 or self.top_k == -1:
            raise ValueError(f"top_k must be -1 (disable) or at least 1, got {self.top_k}.")
        for name in ("frequency_penalty", "presence_penalty"):
            if not -2.0 <= getattr(self, name) <= 2.0:
                raise ValueError(f"{name} must be in [-2, 2], got {getattr(self, name)}.")
        if not 0.0 < self.repetition_penalty <= 2.0:
            raise ValueError(
                "repetition_penalty must be in (0, 2] (1.0 = no penalty), "
                f"got {self.repetition_penalty}."
            )
        if not 0 <= self.min_new_tokens:
            raise ValueError(
                f"min_new_tokens must be in [0, max_new_tokens], got {self.min_new_tokens}."
            )
        if self.max_new_tokens is not None:
            if self.max_new_tokens < 0:
                raise ValueError(f"max_new_tokens must be at least 0, got {self.max_new_tokens}.")
            if not self.min_new_tokens <= self.max_new_tokens:
                raise ValueError(
                    f"min_new_tokens must be in [0, max_new_tokens({self.max_new_tokens})], "
                    f"got {self.min_new_tokens}."
                )
        for token_id in self.logit_bias or {}:
            if not 0 <= int(token_id) < vocab_size:
                raise ValueError(
                    f"logit_bias must has keys in [0, {vocab_size - 1}], got {token_id}."
                )
        if sum(x is not None for x in (self.json_schema, self.regex, self.ebnf)) > 1:
            raise ValueError("Only one of regex, json_schema, or ebnf can be set.")
        grammar = (self.json_schema, self.regex, self.ebnf, self.structural_tag, self.stop_regex)
        if any(x is not None for x in grammar):
            raise NotInStandin(
                "constrained decoding (json_schema/regex/ebnf/structural_tag/stop_regex)"
            )
        if self.n != 1:
            raise NotInStandin("parallel sampling (sampling_params.n > 1)")


@dataclass
class GenerateInput:
    """One normalised single ``GenerateReqInput`` (batches are not served by the stand-in)."""

    rid: str
    text: str | None
    input_ids: list[int] | None
    sampling_params: dict[str, Any]
    stream: bool
    custom_logit_processor: str | None
    return_prompt_token_ids: bool


def _is_int_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    )


def _check_types(body: dict[str, Any]) -> None:
    """The parts of ``GenerateReqInput``'s field types a client can get wrong that matter here."""
    problems = []
    text, ids = body.get("text"), body.get("input_ids")
    if text is not None and not (
        isinstance(text, str) or (isinstance(text, list) and all(isinstance(t, str) for t in text))
    ):
        problems.append(("text", "Input should be a valid string or a list of strings"))
    if ids is not None and not (
        _is_int_list(ids) or (isinstance(ids, list) and all(_is_int_list(row) for row in ids))
    ):
        problems.append(("input_ids", "Input should be a list of integers (or of such lists)"))
    params = body.get("sampling_params")
    if params is not None and not isinstance(params, dict | list):
        problems.append(("sampling_params", "Input should be a valid dictionary or list"))
    rid = body.get("rid")
    if rid is not None and not isinstance(rid, str | list):
        problems.append(("rid", "Input should be a valid string"))
    for name in ("stream", "return_logprob", "return_prompt_token_ids"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            problems.append((name, "Input should be a valid boolean"))
    processor = body.get("custom_logit_processor")
    if processor is not None and not isinstance(processor, str | list):
        problems.append(("custom_logit_processor", "Input should be a valid string"))
    if problems:
        details = [{"loc": ("body", name), "msg": msg} for name, msg in problems]
        raise ValidationFailure(f"{len(details)} validation error(s): {details}")


def check_body(body: Any) -> dict[str, Any]:
    """The parsed JSON as a ``GenerateReqInput`` body, or ``ValidationFailure``."""
    if not isinstance(body, dict):
        raise ValidationFailure(
            "1 validation error: [{'loc': ('body',), 'msg': 'Input should be a valid dictionary'}]"
        )
    _check_types(body)
    return body


_NOT_SERVED = ("input_embeds", "image_data", "video_data", "audio_data", "lora_path",
               "session_params", "session_id", "bootstrap_host", "return_hidden_states",
               "return_routed_experts", "max_thinking_tokens")  # fmt: skip


def normalize(body: dict[str, Any]) -> GenerateInput:
    """``normalize_batch_and_arguments`` for one request (raises SGLang's ValueErrors)."""
    text, ids = body.get("text"), body.get("input_ids")
    if text is None and ids is None and body.get("input_embeds") is None:
        raise ValueError("Either text, input_ids or input_embeds should be provided.")
    if ids is not None and text is None and len(ids) == 0:
        raise ValueError("input_ids cannot be empty.")
    for name in _NOT_SERVED:
        if body.get(name):
            raise NotInStandin(f"the request field {name!r}")
    if body.get("return_logprob"):
        raise NotInStandin("return_logprob")
    batch = isinstance(text, list) if text is not None else bool(ids) and isinstance(ids[0], list)
    params = body.get("sampling_params")
    if batch or isinstance(params, list) or isinstance(body.get("rid"), list):
        raise NotInStandin("a batch request (a list of prompts, rids or sampling_params)")
    if isinstance(params, dict) and (params.get("n") or 1) > 1:
        raise NotInStandin("parallel sampling (sampling_params.n > 1)")
    processor, rid = body.get("custom_logit_processor"), body.get("rid")
    return GenerateInput(
        rid=rid if rid is not None else uuid.uuid4().hex,
        text=text,
        input_ids=ids,
        sampling_params=dict(params or {}),
        stream=bool(body.get("stream", False)),
        custom_logit_processor=processor if isinstance(processor, str) else None,
        return_prompt_token_ids=bool(body.get("return_prompt_token_ids", False)),
    )
