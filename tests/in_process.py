"""A server run in the test's own process with the chat stand-in as its brain, so a test can
reach its engines and state (``server.services``): for fault injection and capacity checks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chat_stand_in import ChatStandIn

from stepaudio_api.testing import TestServer, running_server

ENGINES = ["piper-joe", "whisper-tiny-en", "chat-upstream"]


@contextmanager
def chat_server_in_process(folder: Path, upstream: ChatStandIn,
                           **environ: str) -> Iterator[TestServer]:  # fmt: skip
    settings = {"STEPAUDIO_CHAT_BASE_URL": upstream.base_url,
                "STEPAUDIO_CHAT_MODEL": "stand-in-brain", **environ}  # fmt: skip
    with running_server(folder, None, ENGINES, settings) as server:
        yield server


def ws_url(server: TestServer, query: str = "model=gpt-realtime") -> str:
    return str(server.base_url).replace("http://", "ws://") + "/v1/realtime?" + query
