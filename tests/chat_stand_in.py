"""A STAND-IN for an OpenAI-compatible chat upstream (SGLang, vLLM, llama.cpp server).

A real HTTP server on loopback that answers ``POST /v1/chat/completions`` with OpenAI's
streaming protocol (chunked transfer, ``data: {chunk}`` events, a usage chunk, ``data: [DONE]``),
following a script of planned replies, one per request. It stands in for the LLM at that
boundary only; it records every request and when the client closed each connection.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def word_pieces(text: str) -> list[str]:
    """Text as an upstream streams it: a word (and its leading space) at a time."""
    words = text.split(" ")
    return [words[0], *(f" {word}" for word in words[1:])]


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: list[str]
    """The arguments JSON as the pieces it is streamed in."""


@dataclass
class Reply:
    """One planned answer. Chunks are counted from the first (role) chunk."""

    content: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    status: int = 200
    error: dict[str, Any] | None = None
    """For a status other than 200: the JSON body, e.g. OpenAI's {"error": {...}}."""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds before the status line is sent."""
    chunk_delay: float = 0.0
    hang_after: int | None = None
    """After this many chunks, send nothing more until the client goes away."""
    drop_after: int | None = None
    """After this many chunks, close the connection without [DONE]."""
    error_event_after: int | None = None
    """After this many chunks, send ``data: {"error": ...}`` (``error``) then [DONE], as vLLM
    and SGLang report a failure mid-stream."""
    keepalive_comments: bool = False
    """Send an SSE comment (``: keep-alive``) before each chunk."""


@dataclass
class Received:
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float
    client_closed_at: float | None = None
    """time.monotonic() when the client was seen closing the connection before the end."""
    completed: bool = False


class ChatStandIn:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None
        """The answer when no reply is planned (None: a 500 that says so)."""
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def plan(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    def wait_for_close(self, index: int, timeout: float) -> float | None:
        """When the client closed request ``index``'s connection, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) > index and self.requests[index].client_closed_at is not None:
                return self.requests[index].client_closed_at
            time.sleep(0.01)
        return None

    def __enter__(self) -> ChatStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


def _handler_for(stand_in: ChatStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            record = Received(body, dict(self.headers), time.monotonic())
            with stand_in._lock:
                stand_in.requests.append(record)
                reply = stand_in.replies.popleft() if stand_in.replies else stand_in.default
            if self.path != "/v1/chat/completions":
                reply = Reply(status=404, error=openai_error(f"no route {self.path}", "not_found"))
            if reply is None:
                reply = Reply(status=500, error=openai_error("the stand-in has no reply planned"))
            try:
                self._answer(reply, body, record)
            except (BrokenPipeError, ConnectionResetError):
                record.client_closed_at = time.monotonic()

        def _answer(self, reply: Reply, body: dict[str, Any], record: Received) -> None:
            if self._wait(reply.delay, record):
                return
            if reply.status != 200:
                data = json.dumps(reply.error or {}).encode()
                self.send_response(reply.status)
                self.send_header("Connection", "close")  # one request per connection
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
                record.completed = True
                return
            self.send_response(200)
            self.send_header("Connection", "close")
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for sent, chunk in enumerate(_chunks(reply, body)):
                if reply.hang_after == sent:
                    self._wait(60.0, record)
                    return
                if reply.error_event_after == sent:
                    event = reply.error or openai_error("internal error", type="server_error")
                    self._send(b"data: " + json.dumps(event).encode() + b"\n\n")
                    break
                if reply.drop_after == sent:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if sent and self._wait(reply.chunk_delay, record):
                    return
                if reply.keepalive_comments:
                    self._send(b": keep-alive\n\n")
                self._send(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self._send(b"data: [DONE]\n\n")
            self._send(b"")  # the last chunk of the chunked body
            record.completed = True

        def _send(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _wait(self, seconds: float, record: Received) -> bool:
            """Sleep, but notice (and record) the client closing the connection."""
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                if stand_in._stopping.is_set():
                    return True
                readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.02))
                if readable:
                    try:
                        peeked = self.connection.recv(1, socket.MSG_PEEK)
                    except OSError:
                        peeked = b""
                    if not peeked:
                        record.client_closed_at = time.monotonic()
                        return True
                    time.sleep(0.02)
            return False

    return Handler


def openai_error(
    message: str, code: str | None = None, type: str = "invalid_request_error"
) -> dict[str, Any]:
    """OpenAI's error body."""
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


def _chunks(reply: Reply, body: dict[str, Any]) -> list[dict[str, Any]]:
    created = int(time.time())
    base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": created}
    base["model"] = body.get("model")
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        out = {
            **base,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            out["usage"] = None
        return out

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in reply.content]
    for index, call in enumerate(reply.tool_calls):
        first = {"index": index, "id": call.id, "type": "function"}
        first["function"] = {"name": call.name, "arguments": ""}
        chunks.append(chunk({"tool_calls": [first]}))
        for piece in call.arguments:
            more = {"index": index, "function": {"arguments": piece}}
            chunks.append(chunk({"tool_calls": [more]}))
    finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
    chunks.append(chunk({}, finish))
    if include_usage:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion = len(chunks) - 2
        usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        usage["total_tokens"] = prompt + completion
        chunks.append({**base, "choices": [], "usage": usage})
    return chunks
