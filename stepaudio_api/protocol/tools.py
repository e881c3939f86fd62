"""Wire types of the admin tools API: the registered server-side tools, and a test call."""

from typing import Any

import msgspec


class ToolObject(msgspec.Struct):
    name: str
    description: str
    parameters: dict[str, Any]
    """JSON Schema of the arguments, as the model is shown it."""
    timeout: float
    """Seconds a call may take before it is abandoned."""
    acknowledgement: str | None
    """What is spoken while a slow call runs."""
    plugin: str
    """The plugin that registered the tool."""
    object: str = "tool"


class ToolList(msgspec.Struct):
    data: list[ToolObject]
    object: str = "list"


class ToolCallRequest(msgspec.Struct, forbid_unknown_fields=True):
    arguments: dict[str, Any] | str = msgspec.field(default_factory=dict)
    """The arguments object, or its JSON text as a model sends it."""


class ToolCallResult(msgspec.Struct):
    name: str
    result: Any
    duration_ms: float
    object: str = "tool.result"
