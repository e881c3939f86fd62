"""Server-side tools: a name, a JSON-schema of its arguments, and an async or plain function
that the chat and realtime layers run (with a timeout) when a model calls it."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stepaudio_api.errors import InvalidRequest, NotFound


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    function: Callable[..., Any]
    """Called with the arguments as keywords; may be async. Returns anything JSON-encodable."""
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    """JSON Schema of the arguments object, as OpenAI's function tools declare it; the
    arguments are validated against it before the function is called."""
    timeout: float = 10.0
    """Seconds before a call is abandoned with a timeout result."""
    acknowledgement: str | None = None
    """A short phrase to speak while a slow call runs ("Let me check the weather.")."""
    plugin: str = ""

    def openai_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI `tools` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


class ToolError(Exception):
    """A tool refused its arguments or failed; the message goes back to the model."""


class ToolTimeout(ToolError):
    """The tool did not answer within its timeout (a ToolError, so callers that only relay the
    message to the model need not tell them apart)."""


def _validator(tool: Tool) -> Any:
    # imported here: `import stepaudio_api` (the CLI, plugins) should not pay for jsonschema
    from jsonschema import exceptions, validators

    cls = validators.validator_for(tool.parameters)
    try:
        cls.check_schema(tool.parameters)
    except exceptions.SchemaError as exc:
        message = f"tool {tool.name!r} has an invalid parameters schema: {exc.message}"
        raise ValueError(message) from None
    return cls(tool.parameters)


def _argument_problem(validator: Any, arguments: dict[str, Any]) -> str | None:
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    return f"{where.lstrip('.')}: {error.message}" if where else error.message


class ToolRegistry:
    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}
        self._validators: dict[str, Any] = {}

    def register(self, tool: Tool, plugin: str = "") -> None:
        if tool.name in self.tools:
            raise ValueError(f"tool {tool.name!r} is registered twice")
        validator = _validator(tool)  # a broken schema fails the plugin that registers it
        if plugin and not tool.plugin:
            object.__setattr__(tool, "plugin", plugin)
        self.tools[tool.name] = tool
        self._validators[tool.name] = validator

    def get(self, name: str) -> Tool:
        tool = self.tools.get(name)
        if tool is None:
            raise NotFound(f"No tool named '{name}'", param="name", code="tool_not_found")
        return tool

    async def call(self, name: str, arguments: str | dict[str, Any]) -> Any:
        """Run a tool with its arguments (a JSON object or its text) within its timeout; raises
        ToolError for bad arguments or a failure, ToolTimeout for the timeout."""
        tool = self.get(name)
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments or "{}")
            except json.JSONDecodeError as exc:
                raise ToolError(f"arguments are not valid JSON: {exc}") from None
        if not isinstance(arguments, dict):
            raise ToolError("arguments must be a JSON object")
        if problem := _argument_problem(self._validators[name], arguments):
            raise ToolError(f"bad arguments for '{name}': {problem}")
        try:
            if inspect.iscoroutinefunction(tool.function):
                work = tool.function(**arguments)
            else:
                work = asyncio.to_thread(tool.function, **arguments)
            return await asyncio.wait_for(work, timeout=tool.timeout)
        except TimeoutError:
            message = f"the tool '{name}' did not answer within {tool.timeout:g} s"
            raise ToolTimeout(message) from None
        except TypeError as exc:
            raise ToolError(f"bad arguments for '{name}': {exc}") from None
        except ToolError:
            raise
        except InvalidRequest as exc:
            raise ToolError(exc.message) from None
