"""The stand-in's ``TokenizerManager``: a ``/generate`` body in, SGLang's response dicts out.

Checks in SGLang's order (``generate_request``): the body's inputs (``normalize``), the text
(refused with ``skip_tokenizer_init``), ``_validate_one_request`` (prompt against the context
length, prompt plus ``max_new_tokens``, a custom logit processor without
``--enable-custom-logit-processor``), the sampling parameters (``SamplingParams(**params)``,
``normalize``, ``verify``); then the scheduler's (prompt against ``max_req_input_len``, which is
``context_len - 1 - 5``; ``max_new_tokens`` clipped to what the context leaves).

Each output becomes ``{"text", "output_ids", "meta_info"}`` (no ``text`` with
``skip_tokenizer_init``) as ``_handle_batch_output`` builds it: streamed chunks carry the whole
output so far, or only what is new with ``incremental_streaming_output`` (then queued chunks
are joined, ``_coalesce_streaming_chunks``); a non-streamed request gets the final one.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from stepaudio_sglang.standin.detokenizer import StandinTokenizer
from stepaudio_sglang.standin.engine import Engine, Job, Output
from stepaudio_sglang.standin.processor import load_processor
from stepaudio_sglang.standin.protocol import (
    GenerateInput,
    SamplingParams,
    finish_abort,
    normalize,
)

REQUEST_WAIT_TIMEOUT = 4.0  # SGLANG_REQUEST_STATE_WAIT_TIMEOUT: how often a waiter checks


class ServerError(Exception):
    """``fastapi.HTTPException`` raised for a non-streamed request the scheduler aborted with
    status 500 or 503."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass
class ManagerConfig:
    context_len: int
    vocab_size: int
    incremental_streaming_output: bool
    enable_custom_logit_processor: bool
    weight_version: str


@dataclass
class RequestState:
    """``ReqState``: what the manager keeps of one request while it runs."""

    rid: str = ""
    stream: bool = False
    job: Job | None = None
    finished: bool = False
    text: str = ""
    prompt_ids: list[int] | None = None
    created: float = 0.0
    sent_first: bool = False
    output_ids: list[int] = field(default_factory=list)


class TokenizerManager:
    def __init__(
        self,
        engine: Engine,
        tokenizer: StandinTokenizer | None,
        config: ManagerConfig,
        random_seed: int | None,
    ) -> None:
        self.engine, self.tokenizer, self.config = engine, tokenizer, config
        self.max_req_len = config.context_len - 1
        self.max_req_input_len = self.max_req_len - 5
        self._seeds = random.Random(random_seed)

    def _prepare(self, obj: GenerateInput) -> tuple[list[int], SamplingParams, int]:
        if obj.input_ids is not None:
            ids = list(obj.input_ids)
        elif self.tokenizer is None:
            raise ValueError(
                "The engine initialized with skip_tokenizer_init=True cannot accept text "
                "prompts. Please provide input_ids or re-initialize the engine with "
                "skip_tokenizer_init=False."
            )
        elif not obj.text:
            raise ValueError("texts cannot be empty and tokenizer must be initialized")
        else:
            ids = self.tokenizer.encode(obj.text)
        context = self.config.context_len
        if len(ids) >= context:
            raise ValueError(
                f"The input ({len(ids)} tokens) is longer than the model's context length "
                f"({context} tokens)."
            )
        requested = obj.sampling_params.get("max_new_tokens")
        if isinstance(requested, int) and requested + len(ids) > context:
            raise ValueError(
                "Requested token count exceeds the model's maximum context length of "
                f"{context} tokens. You requested a total of {requested + len(ids)} tokens: "
                f"{len(ids)} tokens from the input messages and {requested} tokens for the "
                "completion. Please reduce the number of tokens in the input messages or the "
                "completion to fit within the limit."
            )
        if obj.custom_logit_processor and not self.config.enable_custom_logit_processor:
            raise ValueError(
                "The server is not configured to enable custom logit processor. Please set "
                "`--enable-custom-logit-processor` to enable this feature."
            )
        params = SamplingParams.from_request(obj.sampling_params)
        stop_len = params.normalize(self.tokenizer)
        params.verify(self.config.vocab_size)
        vocab = self.config.vocab_size
        if any(i < 0 or i >= vocab for i in ids):
            raise ValueError(
                f"The input_ids {ids} contains values greater than the vocab size ({vocab})."
            )
        return ids, params, stop_len

    def _meta(self, state: RequestState, out: Output) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "id": state.rid,
            "finish_reason": out.finish_reason,
            "prompt_tokens": out.prompt_tokens,
            "weight_version": self.config.weight_version,
            "num_retractions": 0,
            "reasoning_tokens": 0,
            "completion_tokens": out.completion_tokens,
            "cached_tokens": 0,
        }
        if out.finish_reason is not None:
            meta["e2e_latency"] = time.monotonic() - state.created
        return meta

    def _out_dict(self, state: RequestState, out: Output) -> dict[str, Any] | None:
        """``_handle_batch_output`` (and ``_handle_abort_req`` for a waiting request)."""
        with_text = self.tokenizer is not None
        if out.aborted_waiting:
            state.finished = True
            meta = {
                "id": state.rid,
                "finish_reason": {"type": "abort", "message": "Abort in waiting queue"},
                "weight_version": self.config.weight_version,
                "e2e_latency": time.monotonic() - state.created,
                "completion_tokens": len(state.output_ids),
            }
            return {"text": state.text, "output_ids": [], "meta_info": meta}
        state.finished = out.finish_reason is not None
        state.output_ids.extend(out.new_ids)
        state.text += out.new_text or ""
        meta = self._meta(state, out)
        if state.stream and self.config.incremental_streaming_output:
            made: dict[str, Any] = {"text": out.new_text or "", "output_ids": list(out.new_ids)}
        elif state.stream or state.finished:
            made = {"text": state.text, "output_ids": list(state.output_ids)}
        else:
            return None
        if not with_text:
            del made["text"]
        made["meta_info"] = meta
        if state.prompt_ids is not None:
            made["prompt_token_ids"] = state.prompt_ids
        return made

    def _coalesce(self, outs: list[dict[str, Any]]) -> dict[str, Any]:
        if len(outs) == 1 or not self.config.incremental_streaming_output:
            return outs[-1]
        joined = dict(outs[-1])
        joined["output_ids"] = [i for out in outs for i in out["output_ids"]]
        if "text" in joined:
            joined["text"] = "".join(out["text"] for out in outs)
        return joined

    async def generate(
        self,
        body: dict[str, Any],
        state: RequestState,
        is_disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """SGLang's ``generate_request`` for one request: streamed chunks, or the one answer."""
        state.created = time.monotonic()
        obj = normalize(body)
        state.rid, state.stream = obj.rid, obj.stream
        if self.engine.has(obj.rid):  # _init_req_state
            raise ValueError(f"Duplicate request ID detected: {obj.rid}")
        ids, params, stop_len = self._prepare(obj)
        processor = None
        if obj.custom_logit_processor:
            processor = load_processor(obj.custom_logit_processor)
        if obj.return_prompt_token_ids:
            state.prompt_ids = ids
        if len(ids) >= self.max_req_input_len:  # the scheduler's validate_input_length
            message = (
                f"Input length ({len(ids)} tokens) exceeds the maximum allowed length "
                f"({self.max_req_input_len} tokens). Use a shorter input or enable "
                "--allow-auto-truncate."
            )
            reason = finish_abort(message, 400, "BadRequestError")
            if not obj.stream:
                raise ValueError(message)
            out = self._out_dict(state, Output([], "", reason, 1, 0))
            assert out is not None
            yield out
            return
        params.max_new_tokens = min(
            params.max_new_tokens if params.max_new_tokens is not None else 1 << 30,
            self.max_req_len - len(ids) - 1,
        )
        loop = asyncio.get_running_loop()
        outputs: asyncio.Queue[Output] = asyncio.Queue()
        seed = params.sampling_seed
        job = Job(
            rid=obj.rid, input_ids=ids, params=params, stop_str_len=stop_len,
            stream=obj.stream, processor=processor,
            seed=seed if seed is not None else self._seeds.getrandbits(63),
            deliver=lambda out: loop.call_soon_threadsafe(outputs.put_nowait, out),
        )  # fmt: skip
        self.engine.submit(job)
        state.job = job
        async for out in self._wait(state, outputs, is_disconnected):
            yield out

    async def _wait(
        self,
        state: RequestState,
        outputs: asyncio.Queue[Output],
        is_disconnected: Callable[[], Awaitable[bool]] | None,
    ) -> AsyncIterator[dict[str, Any]]:
        """``_wait_one_response``."""
        while True:
            try:
                first = await asyncio.wait_for(outputs.get(), REQUEST_WAIT_TIMEOUT)
            except TimeoutError:
                if is_disconnected is not None and await is_disconnected():
                    self.engine.abort(state.rid)
                    raise ValueError(
                        "Request is disconnected from the client side (type 1). "
                        f"Abort request obj.rid={state.rid!r}"
                    ) from None
                continue
            made = [self._out_dict(state, first)]
            while not outputs.empty():
                made.append(self._out_dict(state, outputs.get_nowait()))
            ready = [out for out in made if out is not None]
            if not ready:
                continue
            out = self._coalesce(ready)
            if not state.sent_first:
                state.sent_first = True
                out["meta_info"]["response_sent_to_client_ts"] = time.time()
            if state.finished:
                reason = out["meta_info"].get("finish_reason") or {}
                status = reason.get("status_code") if reason.get("type") == "abort" else None
                if status == 400 and not state.stream:
                    raise ValueError(reason["message"])
                if status in (500, 503) and not state.stream:
                    raise ServerError(status, reason["message"])
                yield out
                return
            if state.stream:
                yield out
