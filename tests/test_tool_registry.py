"""ToolRegistry: arguments checked against the tool's JSON schema, failures and timeouts as
ToolError (ToolTimeout) messages for the model, a broken schema refused at registration."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from stepaudio_api import Tool, ToolError, ToolTimeout
from stepaudio_api.errors import InvalidRequest, NotFound
from stepaudio_api.extensions.tools import ToolRegistry

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "stops": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city"],
    "additionalProperties": False,
}


async def forecast(city: str, days: int = 1, stops: list[str] | None = None) -> dict[str, Any]:
    if city == "Atlantis":
        raise ToolError("no such city")
    if city == "Slow":
        await asyncio.sleep(5)
    if city == "Refused":
        raise InvalidRequest("refused by a layer below")
    return {"city": city, "days": days}


def registry(**tool: Any) -> ToolRegistry:
    tools = ToolRegistry()
    tools.register(Tool("forecast", forecast, parameters=SCHEMA, **tool), plugin="test")
    return tools


def call(tools: ToolRegistry, arguments: Any) -> Any:
    return asyncio.run(tools.call("forecast", arguments))


def test_a_call_with_valid_arguments() -> None:
    tools = registry()
    assert call(tools, {"city": "Oslo", "days": 3}) == {"city": "Oslo", "days": 3}
    assert call(tools, '{"city": "Oslo"}') == {"city": "Oslo", "days": 1}
    assert tools.get("forecast").plugin == "test"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "bad arguments for 'forecast': 'city' is a required property"),
        ({"city": ""}, "city: '' should be non-empty"),
        ({"city": "Oslo", "days": 9}, "days: 9 is greater than the maximum of 7"),
        ({"city": "Oslo", "days": "3"}, "days: '3' is not of type 'integer'"),
        ({"city": "Oslo", "stops": ["a", 2]}, r"stops\[1\]: 2 is not of type 'string'"),
        ({"city": "Oslo", "when": "now"}, r"Additional properties are not allowed \('when'"),
        ("[1, 2]", "arguments must be a JSON object"),
        ("{city", "arguments are not valid JSON"),
    ],
)
def test_arguments_that_do_not_fit_the_schema(arguments: Any, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call(registry(), arguments)


def test_failures_become_tool_errors() -> None:
    tools = registry()
    with pytest.raises(ToolError, match="no such city"):
        call(tools, {"city": "Atlantis"})
    with pytest.raises(ToolError, match="refused by a layer below"):
        call(tools, {"city": "Refused"})


def test_a_timeout_is_a_tool_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(ToolTimeout, match=r"the tool 'forecast' did not answer within 0\.2 s"):
        call(registry(timeout=0.2), {"city": "Slow"})
    assert time.monotonic() - started < 2
    assert issubclass(ToolTimeout, ToolError)


def test_a_plain_function_runs_in_a_thread() -> None:
    tools = ToolRegistry()
    tools.register(Tool("echo", lambda text: text,
                        parameters={"type": "object", "properties": {"text": {}}}))  # fmt: skip
    assert asyncio.run(tools.call("echo", {"text": "hi"})) == "hi"
    with pytest.raises(ToolError, match="bad arguments for 'echo'"):
        asyncio.run(tools.call("echo", {"txt": "hi"}))  # the schema allows it, Python not


def test_an_invalid_schema_or_a_second_name_is_refused() -> None:
    tools = registry()
    with pytest.raises(ValueError, match="registered twice"):
        tools.register(Tool("forecast", forecast))
    broken = {"type": "object", "properties": {"city": {"type": "text"}}}
    with pytest.raises(ValueError, match="tool 'bad' has an invalid parameters schema"):
        tools.register(Tool("bad", forecast, parameters=broken))
    assert "bad" not in tools.tools


def test_an_unknown_tool_is_not_found() -> None:
    with pytest.raises(NotFound, match="No tool named 'nope'"):
        asyncio.run(registry().call("nope", {}))
