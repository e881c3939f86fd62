"""/admin/tools: the server-side tools plugins registered, and a call of one with given
arguments (to check a tool and its configuration without a model)."""

from __future__ import annotations

import time

from litestar import Request, Router, get, post
from litestar.params import FromPath

from stepaudio_api.api.dependencies import ServicesDependency
from stepaudio_api.api.json_body import decode_json_body
from stepaudio_api.api.openapi import documented
from stepaudio_api.errors import GatewayTimeout, InvalidRequest
from stepaudio_api.extensions.tools import Tool, ToolError, ToolTimeout
from stepaudio_api.protocol.tools import ToolCallRequest, ToolCallResult, ToolList, ToolObject


def tool_object(tool: Tool) -> ToolObject:
    return ToolObject(
        name=tool.name,
        description=tool.description,
        parameters=tool.parameters,
        timeout=tool.timeout,
        acknowledgement=tool.acknowledgement,
        plugin=tool.plugin,
    )


@get("/")
async def list_tools(services: ServicesDependency) -> ToolList:
    return ToolList(data=[tool_object(t) for t in services.tools.tools.values()])


@get("/{name:str}")
async def retrieve_tool(name: FromPath[str], services: ServicesDependency) -> ToolObject:
    return tool_object(services.tools.get(name))


@post("/{name:str}/call", status_code=200, opt=documented(body=ToolCallRequest))
async def call_tool(
    name: FromPath[str], request: Request, services: ServicesDependency
) -> ToolCallResult:
    services.tools.get(name)  # 404 for an unknown tool, before the body is read
    body = decode_json_body(await request.body(), ToolCallRequest)
    started = time.perf_counter()
    try:
        result = await services.tools.call(name, body.arguments)
    except ToolTimeout as exc:
        # the request was valid and may succeed later: a gateway timeout, not a client error
        raise GatewayTimeout(str(exc), code="tool_timeout") from None
    except ToolError as exc:
        # what the model would have been told: its arguments, or the tool, failed
        raise InvalidRequest(str(exc), param="arguments", code="tool_error") from None
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return ToolCallResult(name=name, result=result, duration_ms=duration_ms)


tools_router = Router(path="/admin/tools", route_handlers=[list_tools, retrieve_tool, call_tool])
