"""The stand-in's HTTP side (SGLang's ``entrypoints/http_server.py``), served by uvicorn.

- ``POST|PUT /generate``: the answer as JSON; a ``ValueError`` as 400
  ``{"error": {"message"}}``; a body that is not a ``GenerateReqInput`` as 400
  ``{"object": "error", "message", "type": "Bad Request", "param": null, "code": 400}``; an
  unknown sampling parameter as 500 ``Internal Server Error``. Streamed (``"stream": true``):
  ``data: {json}\\n\\n`` per chunk, then ``data: [DONE]\\n\\n``, status 200 even for an error,
  which comes as one ``data: {"error": {"message"}}`` chunk.
- ``POST /abort_request`` ``{"rid", "abort_all"}``: 200, empty body.
- ``GET /health``, ``/health_generate``: 200 once the server has produced a token since the
  check began (it queues a one-token request with ``input_ids [0]``), else 503.
- ``GET /get_model_info``, ``/get_server_info``; ``GET|POST /flush_cache``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from stepaudio_sglang.reference import Step1Model
from stepaudio_sglang.standin.detokenizer import StandinTokenizer
from stepaudio_sglang.standin.engine import Engine, Job
from stepaudio_sglang.standin.manager import (
    ManagerConfig,
    RequestState,
    ServerError,
    TokenizerManager,
)
from stepaudio_sglang.standin.protocol import SamplingParams, ValidationFailure, check_body

SGLANG_VERSION = "0.5.23"  # the SGLang whose wire protocol the stand-in follows
HEALTH_CHECK_TIMEOUT = 20.0


@dataclass(frozen=True)
class StandinOptions:
    """The SGLang server flags that change what goes over the wire (``--skip-tokenizer-init``,
    ``--incremental-streaming-output``, ``--enable-custom-logit-processor``,
    ``--context-length``, ``--stream-interval``, ``--random-seed``, ``--weight-version``)."""

    skip_tokenizer_init: bool = False
    incremental_streaming_output: bool = False
    enable_custom_logit_processor: bool = False
    context_length: int | None = None
    stream_interval: int = 1
    random_seed: int | None = None
    weight_version: str = "default"
    dtype: str = "float32"


@lru_cache(maxsize=4)
def load_model(folder: str, dtype: str) -> Step1Model:
    """The reference model, loaded once per folder (inference only: servers may share it)."""
    return Step1Model.from_folder(folder, "cpu", getattr(torch, dtype))


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _value_error(error: ValueError) -> JSONResponse:
    return JSONResponse({"error": {"message": str(error)}}, status_code=400)


def _error_response(message: str, type_: str, code: int) -> JSONResponse:
    body = {"object": "error", "message": message, "type": type_, "param": None, "code": code}
    return JSONResponse(body, status_code=code)


async def _fastapi_http_error(request: Request, error: Exception) -> Response:
    """What FastAPI answers for an unknown path or method: ``{"detail": ...}``."""
    assert isinstance(error, HTTPException)
    return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)


class _AbortOnClose(StreamingResponse):
    """A stream that aborts its request when it ends unfinished (the client went away)."""

    def __init__(
        self,
        content: AsyncIterator[bytes],
        state: RequestState,
        engine: Engine,
        aborts: list[tuple[str, float]],
    ) -> None:
        super().__init__(content, media_type="text/event-stream")
        self._state, self._engine, self._aborts = state, engine, aborts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._state.job is not None and not self._state.finished:
                self._aborts.append((self._state.rid, time.monotonic()))
                self._engine.abort(self._state.rid)


class StandinServer:
    def __init__(self, model_dir: Path | str, options: StandinOptions) -> None:
        self.folder = Path(model_dir)
        self.options = options
        self.model = load_model(str(self.folder.resolve()), options.dtype)
        self.tokenizer = None if options.skip_tokenizer_init else StandinTokenizer(self.folder)
        self.context_len = options.context_length or self.model.config.max_seq_len
        self.engine = Engine(self.model, self.tokenizer, options.stream_interval)
        config = ManagerConfig(
            context_len=self.context_len,
            vocab_size=self.model.config.vocab_size,
            incremental_streaming_output=options.incremental_streaming_output,
            enable_custom_logit_processor=options.enable_custom_logit_processor,
            weight_version=options.weight_version,
        )
        self.manager = TokenizerManager(self.engine, self.tokenizer, config, options.random_seed)
        self.url = ""
        self.received: list[dict[str, Any]] = []
        """Every /generate body, as sent (what a test reads to see the prompt)."""
        self.aborts: list[tuple[str, float]] = []
        """(rid, time.monotonic()) of each /abort_request and each stream its client left."""
        self.answers: list[dict[str, Any]] = []
        """The last response of each /generate (its ``output_ids`` are all of them unless the
        server streams incrementally)."""
        self.app = Starlette(
            routes=[
                Route("/generate", self.generate, methods=["POST", "PUT"]),
                Route("/abort_request", self.abort_request, methods=["POST"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/health_generate", self.health, methods=["GET"]),
                Route("/get_model_info", self.model_info, methods=["GET"]),
                Route("/get_server_info", self.server_info, methods=["GET"]),
                Route("/flush_cache", self.flush_cache, methods=["GET", "POST"]),
            ],
            exception_handlers={HTTPException: _fastapi_http_error},
        )

    async def _json(self, request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError as error:
            raise ValidationFailure(
                f"1 validation error: [{{'type': 'json_invalid', 'loc': ('body', {error.pos}), "
                "'msg': 'JSON decode error'}]"
            ) from error

    async def generate(self, request: Request) -> Response:
        try:
            body = check_body(await self._json(request))
        except ValidationFailure as failure:
            return _error_response(str(failure), "Bad Request", 400)
        self.received.append(body)
        state = RequestState()
        if body.get("stream") is True:
            return _AbortOnClose(self._stream(body, state), state, self.engine, self.aborts)
        answers = self.manager.generate(body, state, request.is_disconnected)
        try:
            answer = await anext(answers)
            self.answers.append(answer)
            return JSONResponse(answer)
        except ValueError as error:
            return _value_error(error)
        except ServerError as error:
            return _error_response(str(error), str(error.status_code), error.status_code)
        except TypeError:  # SGLang lets SamplingParams' TypeError through: a bare 500
            return PlainTextResponse("Internal Server Error", status_code=500)
        finally:
            await answers.aclose()

    async def _stream(self, body: dict[str, Any], state: RequestState) -> AsyncIterator[bytes]:
        out = None
        try:
            async for out in self.manager.generate(body, state):
                yield b"data: " + _dumps(out) + b"\n\n"
            if out is not None:
                self.answers.append(out)
        except ValueError as error:
            yield b"data: " + _dumps({"error": {"message": str(error)}}) + b"\n\n"
        yield b"data: [DONE]\n\n"

    async def abort_request(self, request: Request) -> Response:
        try:
            body = await self._json(request)
        except ValidationFailure as failure:
            return _error_response(str(failure), "Bad Request", 400)
        body = body if isinstance(body, dict) else {}
        rid, abort_all = body.get("rid", ""), body.get("abort_all", False)
        if not isinstance(rid, str) or not isinstance(abort_all, bool):
            return _error_response(
                "1 validation error: rid must be a string and abort_all a boolean",
                "Bad Request",
                400,
            )
        self.aborts.append((rid, time.monotonic()))
        if abort_all or (rid and self.engine.has(rid)):
            self.engine.abort(rid, abort_all)
        return Response(status_code=200)

    async def health(self, request: Request) -> Response:
        started = time.monotonic()
        params = SamplingParams.from_request({"max_new_tokens": 1, "temperature": 0.0})
        rid = f"HEALTH_CHECK_{uuid.uuid4().hex}"
        job = Job(rid, [0], params, 0, False, None, 0, lambda _: None)
        self.engine.submit(job)
        try:
            while time.monotonic() < started + HEALTH_CHECK_TIMEOUT:
                if self.engine.last_output_time > started:
                    return Response(status_code=200)
                await asyncio.sleep(0.02)
            return Response(status_code=503)
        finally:
            if self.engine.has(job.rid):
                self.engine.abort(job.rid)

    async def model_info(self, request: Request) -> Response:
        return JSONResponse(
            {
                "model_path": str(self.folder),
                "tokenizer_path": None if self.tokenizer is None else str(self.folder),
                "is_generation": True,
                "preferred_sampling_params": None,
                "weight_version": self.options.weight_version,
            }
        )

    async def server_info(self, request: Request) -> Response:
        waiting, running = self.engine.counts()
        return JSONResponse(
            {
                "model_path": str(self.folder),
                "tokenizer_path": None if self.tokenizer is None else str(self.folder),
                **asdict(self.options),
                "context_length": self.context_len,
                "max_total_num_tokens": self.context_len,
                "max_req_input_len": self.manager.max_req_input_len,
                "internal_states": [
                    {
                        "waiting_queue_size": waiting,
                        "running_batch_size": running,
                        "num_generated_tokens": self.engine.generated_tokens,
                    }
                ],
                "version": SGLANG_VERSION,
                "stand_in": "stepaudio_sglang.standin (reference Step-1 on CPU, not SGLang)",
            }
        )

    async def flush_cache(self, request: Request) -> Response:
        return PlainTextResponse(
            "Cache flushed.\nPlease check backend logs for more details. (When there are "
            "running or waiting requests, the operation will not be performed.)\n"
        )

    @contextmanager
    def serving(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve on ``host:port`` (0: a free port) in a thread; yields the base URL."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off",
                                access_log=False, timeout_graceful_shutdown=2)  # fmt: skip
        server = uvicorn.Server(config)
        self.engine.start()
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                  name="sglang-standin-http", daemon=True)  # fmt: skip
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the SGLang stand-in's HTTP server did not start")
            time.sleep(0.01)
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        try:
            yield self.url
        finally:
            self.engine.abort("", abort_all=True)
            server.should_exit = True
            thread.join(timeout=10)
            self.engine.stop()
            sock.close()


@contextmanager
def running_standin(model_dir: Path | str, **options: Any) -> Iterator[str]:
    """Start a stand-in SGLang server for ``model_dir`` on a free localhost port; yields its
    base URL (``http://127.0.0.1:PORT``). ``options`` are ``StandinOptions`` fields, plus
    ``host`` and ``port``."""
    host, port = options.pop("host", "127.0.0.1"), options.pop("port", 0)
    server = StandinServer(model_dir, StandinOptions(**options))
    with server.serving(host, port) as url:
        yield url
