"""What is wrong with a JSON text msgspec could not decode, in words a client can act on."""

from __future__ import annotations

import re

import msgspec

_LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})|"
    rb"(?<![0-9a-fA-F]{4})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def decode_error_message(raw: bytes | str, exc: msgspec.DecodeError, what: str) -> str:
    """msgspec says "Input data was truncated" of a lone surrogate escape (``\\ud800``, half
    of a UTF-16 pair, no character at all); say that instead."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _LONE_SURROGATE.search(data):
        return (f"{what} holds a lone UTF-16 surrogate escape (such as \\ud800), which is no "
                "character; send valid Unicode text")  # fmt: skip
    return f"{what} is not valid JSON: {exc}"
