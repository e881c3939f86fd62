"""What the voice tests share: unique names on the shared server, an admin client."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
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
