"""The stand-in's scheduler and detokenizer: one worker thread generating with the reference
Step-1, one request at a time, first come first served.

What SGLang's scheduler does that the HTTP side can see, and the stand-in does too:

- The first token comes from the prefill; each later one from a decode step with the cache.
- After each token ``Req.check_finished`` runs, in SGLang's order: a pending abort first
  (``to_finish``; the token of that step is kept), then ``max_new_tokens`` (``length``), then
  a stop id (``stop_token_ids``, the model's ``eos_token_id`` and the tokenizer's eos; none of
  them with ``ignore_eos``), then a stop string in the decoded tail of the output.
- Outputs go out when finished and, for streams, every ``stream_interval`` tokens unless the
  tail could be the start of a stop string (``check_match_stop_str_prefix``); non-streamed
  requests are seen by the detokenizer every 50 tokens (``DEFAULT_FORCE_STREAM_INTERVAL``).
- ``output_ids`` include the matched stop id (``output_ids_through_stop``); the text does not.
- ``/abort_request`` on a waiting request answers it at once ("Abort in waiting queue"); on the
  running one it sets the abort that the next ``check_finished`` reports.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from stepaudio_sglang.reference import Step1Model
from stepaudio_sglang.standin.detokenizer import IncrementalDecoder, StandinTokenizer
from stepaudio_sglang.standin.processor import LogitProcessor
from stepaudio_sglang.standin.protocol import (
    SamplingParams,
    finish_abort,
    finish_length,
    finish_stop,
)
from stepaudio_sglang.standin.sampling import sample_next

FORCE_STREAM_INTERVAL = 50
logger = logging.getLogger(__name__)


@dataclass
class ReqView:
    """What a custom logit processor finds as ``custom_params["__req__"]`` (SGLang's ``Req``):
    ``output_ids`` grows as the request generates."""

    rid: str
    origin_input_ids: list[int]
    output_ids: list[int]
    sampling_params: SamplingParams


@dataclass
class Output:
    """One row of a ``BatchStrOutput`` / ``BatchTokenIDOutput`` for a request: what is new
    since the last one (``new_text`` is None without a tokenizer)."""

    new_ids: list[int]
    new_text: str | None
    finish_reason: dict[str, Any] | None
    prompt_tokens: int
    completion_tokens: int
    aborted_waiting: bool = False


@dataclass
class Job:
    rid: str
    input_ids: list[int]
    params: SamplingParams
    stop_str_len: int
    stream: bool
    processor: LogitProcessor | None
    seed: int
    deliver: Callable[[Output], None]
    state: str = "waiting"  # waiting, running, done
    abort: threading.Event = field(default_factory=threading.Event)


class Engine:
    def __init__(
        self,
        model: Step1Model,
        tokenizer: StandinTokenizer | None,
        stream_interval: int = 1,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.stream_interval = stream_interval
        self.eos_ids = {model.config.eos_token_id}
        if tokenizer is not None and tokenizer.eos_token_id is not None:
            self.eos_ids.add(tokenizer.eos_token_id)
        self.jobs: dict[str, Job] = {}  # waiting and running, by rid
        self.last_output_time = 0.0
        self.generated_tokens = 0
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="sglang-standin", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.abort("", abort_all=True)
        self._queue.put(None)
        self._thread.join(timeout=30)

    def submit(self, job: Job) -> None:
        with self._lock:
            if job.rid in self.jobs:
                raise ValueError(f"Duplicate request ID detected: {job.rid}")
            self.jobs[job.rid] = job
        self._queue.put(job)

    def has(self, rid: str) -> bool:
        with self._lock:
            return rid in self.jobs

    def counts(self) -> tuple[int, int]:
        """(waiting, running) requests."""
        with self._lock:
            running = sum(job.state == "running" for job in self.jobs.values())
            return len(self.jobs) - running, running

    def abort(self, rid: str, abort_all: bool = False) -> None:
        """The scheduler's ``abort_request``: every request whose rid starts with ``rid``."""
        waiting = []
        with self._lock:
            for job in list(self.jobs.values()):
                if not (abort_all or job.rid.startswith(rid)):
                    continue
                if job.state == "waiting":
                    job.state = "done"
                    del self.jobs[job.rid]
                    waiting.append(job)
                else:
                    job.abort.set()
        for job in waiting:
            job.deliver(Output([], None, None, len(job.input_ids), 0, aborted_waiting=True))

    def _loop(self) -> None:
        while (job := self._queue.get()) is not None:
            with self._lock:
                if job.state != "waiting":
                    continue
                job.state = "running"
            try:
                self._generate(job)
            except Exception as error:  # SGLang's scheduler would die; the stand-in answers
                logger.exception("stand-in generation failed for %s", job.rid)
                reason = finish_abort(str(error), 500, "InternalServerError")
                job.deliver(Output([], None, reason, len(job.input_ids), 0))
            finally:
                with self._lock:
                    job.state = "done"
                    self.jobs.pop(job.rid, None)

    @torch.inference_mode()
    def _generate(self, job: Job) -> None:
        params = job.params
        req = ReqView(job.rid, list(job.input_ids), [], params)
        custom = params.custom_params
        if isinstance(custom, dict):  # Req.__init__ adds the request only to a dict
            custom = custom | {"__req__": req}
        decoder = None
        if self.tokenizer is not None:
            decoder = IncrementalDecoder(self.tokenizer, req.origin_input_ids,
                                         params.skip_special_tokens)  # fmt: skip
        generator = torch.Generator().manual_seed(job.seed)
        min_stop = self.eos_ids | params.stop_token_ids
        cache = self.model.new_cache()
        logits = self.model(torch.tensor(job.input_ids), cache)[0, -1]
        sent = 0
        while True:
            token = sample_next(logits, params, req.output_ids, job.processor, custom,
                                generator, min_stop)  # fmt: skip
            req.output_ids.append(token)
            self.generated_tokens += 1
            finish = self._check_finished(job, req, token)
            if finish is not None or self._should_output(job, req):
                through = req.output_ids
                if finish is not None and finish["type"] == "length":
                    through = through[: finish["length"]]
                new, sent = through[sent:], len(through)
                text = None
                if decoder is not None:
                    text = decoder.step(new, finish, params.no_stop_trim)
                self.last_output_time = time.monotonic()
                job.deliver(Output(new, text, finish, len(job.input_ids), len(through)))
            if finish is not None:
                return
            logits = self.model(torch.tensor([token]), cache)[0, -1]

    def _tail(self, job: Job, req: ReqView) -> str:
        assert self.tokenizer is not None
        length = min(job.stop_str_len + 2, len(req.output_ids))
        return self.tokenizer.decode(req.output_ids[-length:])

    def _check_finished(self, job: Job, req: ReqView, token: int) -> dict[str, Any] | None:
        params = job.params
        if job.abort.is_set():
            return finish_abort()
        assert params.max_new_tokens is not None
        if len(req.output_ids) >= params.max_new_tokens:
            return finish_length(params.max_new_tokens)
        if not params.ignore_eos and (token in params.stop_token_ids or token in self.eos_ids):
            return finish_stop(token)
        if params.stop_strs and self.tokenizer is not None:
            tail = self._tail(job, req)
            for stop in params.stop_strs:
                if stop and stop in tail:
                    return finish_stop(stop)
        return None

    def _should_output(self, job: Job, req: ReqView) -> bool:
        count = len(req.output_ids)
        if not job.stream:
            return count % FORCE_STREAM_INTERVAL == 0
        interval = job.params.stream_interval or self.stream_interval
        due = count % interval == 1 if interval > 1 else True
        return due and not self._may_start_stop_string(job, req)

    def _may_start_stop_string(self, job: Job, req: ReqView) -> bool:
        """``Req.check_match_stop_str_prefix``: hold a chunk back while the tail of the
        output contains, or ends with the beginning of, a stop string."""
        if not job.params.stop_strs or self.tokenizer is None:
            return False
        tail = self._tail(job, req)
        for stop in job.params.stop_strs:
            if not stop or not tail:
                continue
            if stop in tail:
                return True
            for size in range(min(len(tail), len(stop) - 1), 0, -1):
                if tail[-size:] == stop[:size]:
                    return True
        return False
