"""What the voice tests share: unique names on the shared server, an admin client, consents."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import ServerProcess
from keys import create_key

TINGTING = "那等我们到海洋馆之后，给妈妈买个礼物，好不好呀？"
VOICE_ID = re.compile(r"voice_[0-9a-f]{24}")


def unique(prefix: str) -> str:
    """The session server is shared: every test names its voices apart."""
    return f"{prefix}-{secrets.token_hex(4)}"


@contextmanager
def admin_client(server: ServerProcess) -> Iterator[httpx.Client]:
    """httpx with a new admin key, for the /admin routes."""
    secret = create_key(server, "voices-admin", "--admin")
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        yield client


def new_consent(client: openai.OpenAI, testdata: Path, name: str = "speaker") -> str:
    """The id of a new voice consent of the client's key (Step-Audio's tingting prompt stands
    in for the speaker reading the consent statement)."""
    recording = ("consent.wav", (testdata / "zh_tingting_prompt.wav").read_bytes())
    return client.audio.voice_consents.create(
        name=unique(name), language="zh-CN", recording=recording
    ).id


_CONSENTS: dict[str, str] = {}


def shared_consent(client: openai.OpenAI, testdata: Path) -> str:
    """One consent of the client's key for every voice a test module makes through it."""
    where = f"{client.base_url}|{client.api_key}"
    if where not in _CONSENTS:
        _CONSENTS[where] = new_consent(client, testdata, "shared")
    return _CONSENTS[where]


def refused(call: Any, status: int, code: str | None, param: str | None, words: str) -> dict:
    with pytest.raises(openai.APIStatusError) as caught:
        call()
    error = caught.value
    body = error.body
    assert isinstance(body, dict), body
    assert (error.status_code, body["code"], body["param"]) == (status, code, param), body
    assert words in body["message"], body["message"]
    return body
