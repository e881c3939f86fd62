"""Test helpers for API keys: create them with the CLI, call /v1 and /admin with the SDK."""

from __future__ import annotations

from typing import Any

import openai
from conftest import ServerProcess


def create_key(server: ServerProcess, name: str, *options: str) -> str:
    """`stepaudio-api keys create`; the secret is the last line of its output."""
    return server.cli("keys", "create", "--name", name, *options).stdout.strip().splitlines()[-1]


def sdk(server: ServerProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


def admin(server: ServerProcess, key: str) -> openai.OpenAI:
    """The official client pointed at the server root, for the /admin routes."""
    return sdk(server, key).with_options(base_url=server.base_url)


def admin_get(server: ServerProcess, key: str, path: str, **params: Any) -> Any:
    return admin(server, key).get(path, cast_to=object, options={"params": params})


def admin_post(server: ServerProcess, key: str, path: str, body: dict[str, Any]) -> Any:
    return admin(server, key).post(path, cast_to=object, body=body)
