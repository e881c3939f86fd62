"""/admin/tools against a running server with the stepaudio-tools plugin installed (its entry
point), its weather tool pointed at a stand-in Open-Meteo on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import ServerProcess
from databases import Backend, fresh_database_url
from keys import admin, admin_get, admin_post, create_key

from stepaudio_tools.testing import OpenMeteoStandIn

TOOLS = {"get_time", "convert_time", "calculate", "convert_units", "get_weather"}


@pytest.fixture(scope="module")
def open_meteo() -> Iterator[OpenMeteoStandIn]:
    with OpenMeteoStandIn() as stand_in:
        yield stand_in


@pytest.fixture(scope="module")
def tools_server(
    db_backend: Backend, open_meteo: OpenMeteoStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    # one server for the module (a new database on each backend, as `database_url` gives)
    environ = {
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__WEATHER_BASE_URL": open_meteo.url,
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__GEOCODING_BASE_URL": open_meteo.url,
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__WEATHER_TIMEOUT": "1",
    }
    folder: Path = tmp_path_factory.mktemp("tools-server")
    server = ServerProcess(folder, fresh_database_url(db_backend), env=environ)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(tools_server: ServerProcess) -> str:
    return create_key(tools_server, "tools-admin", "--admin")


@pytest.fixture(autouse=True)
def healthy(open_meteo: OpenMeteoStandIn) -> Iterator[None]:
    open_meteo.fail_status, open_meteo.delay = None, 0.0
    yield
    open_meteo.fail_status, open_meteo.delay = None, 0.0


def tool_call(server: ServerProcess, key: str, name: str, arguments: Any) -> Any:
    return admin_post(server, key, f"/admin/tools/{name}/call", {"arguments": arguments})


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body: Any = exc.body
    return body  # the SDK hands over the "error" object


def test_list_tools(tools_server: ServerProcess, key: str) -> None:
    listed = admin_get(tools_server, key, "/admin/tools")
    assert listed["object"] == "list"
    tools = {t["name"]: t for t in listed["data"]}
    assert set(tools) >= TOOLS
    for name in TOOLS:
        tool = tools[name]
        assert tool["plugin"] == "tools" and tool["object"] == "tool"
        assert tool["description"] and tool["parameters"]["type"] == "object"
        assert tool["timeout"] > 0
    assert tools["get_weather"]["acknowledgement"] == "Let me check the weather."
    assert tools["get_weather"]["timeout"] == 3.0  # two requests of 1 s, and a second more
    assert tools["calculate"]["parameters"]["required"] == ["expression"]
    one = admin_get(tools_server, key, "/admin/tools/convert_units")
    assert one == tools["convert_units"]


def test_call_calculate(tools_server: ServerProcess, key: str) -> None:
    called = tool_call(tools_server, key, "calculate", {"expression": "(2 + 3) * 2^3"})
    assert called["name"] == "calculate" and called["object"] == "tool.result"
    assert called["result"] == {"expression": "(2 + 3) * 2^3", "result": 40}
    assert called["duration_ms"] >= 0
    # arguments as the JSON text a model sends
    text = tool_call(tools_server, key, "calculate", '{"expression": "2 ** 100"}')
    assert text["result"]["exact"] == "1267650600228229401496703205376"


def test_call_convert_units(tools_server: ServerProcess, key: str) -> None:
    arguments = {"value": 100, "from_unit": "degF", "to_unit": "degC"}
    result = tool_call(tools_server, key, "convert_units", arguments)["result"]
    assert result["result"] == pytest.approx(37.77777778) and result["to_unit"] == "degree_Celsius"


def test_call_get_time(tools_server: ServerProcess, key: str) -> None:
    result = tool_call(tools_server, key, "get_time", {"timezone": "Tokyo"})["result"]
    assert result["timezone"] == "Asia/Tokyo" and result["utc_offset"] == "+09:00"
    assert tool_call(tools_server, key, "get_time", {})["result"]["timezone"] == "UTC"
    converted = tool_call(tools_server, key, "convert_time", {
        "time": "09:00", "from_timezone": "London", "to_timezone": "New York",
        "date": "2025-01-15"})["result"]  # fmt: skip
    assert converted["to"]["time"] == "04:00"


def test_call_get_weather(
    tools_server: ServerProcess, key: str, open_meteo: OpenMeteoStandIn
) -> None:
    before = len(open_meteo.requests)
    arguments = {"location": "Paris, Texas", "days": 2}
    report = tool_call(tools_server, key, "get_weather", arguments)["result"]
    assert report["location"]["name"] == "Paris, Texas, United States"
    assert len(report["daily"]) == 2 and report["summary"].startswith("Paris, Texas, United")
    paths = [path for path, _ in open_meteo.requests[before:]]
    assert paths == ["/v1/search", "/v1/forecast"]


def test_a_tool_error_is_a_400_with_its_message(tools_server: ServerProcess, key: str) -> None:
    cases = [
        ("calculate", {"expression": "1 / 0"}, "division by zero"),
        ("calculate", {"expr": "1"}, "bad arguments for 'calculate': 'expression' is a required"),
        ("convert_units", {"value": 1, "from_unit": "m", "to_unit": "kg"},
         "cannot convert length (meter) to mass (kilogram)"),
        ("get_weather", {"location": "Atlantis"}, "no place named 'Atlantis' was found"),
        ("get_time", '{"timezone": ', "arguments are not valid JSON"),
    ]  # fmt: skip
    for name, arguments, message in cases:
        with pytest.raises(openai.BadRequestError) as raised:
            tool_call(tools_server, key, name, arguments)
        error = error_of(raised.value)
        assert error["code"] == "tool_error" and error["param"] == "arguments"
        assert error["type"] == "invalid_request_error" and message in error["message"]


def test_the_weather_service_down_is_a_tool_error(
    tools_server: ServerProcess, key: str, open_meteo: OpenMeteoStandIn
) -> None:
    open_meteo.fail_status = 500
    with pytest.raises(openai.BadRequestError) as raised:
        tool_call(tools_server, key, "get_weather", {"location": "Berlin"})
    error = error_of(raised.value)
    assert error["code"] == "tool_error"
    assert error["message"] == "the geocoding service is unavailable (HTTP 500); try again later"


def test_a_timeout_is_a_504(
    tools_server: ServerProcess, key: str, open_meteo: OpenMeteoStandIn
) -> None:
    open_meteo.delay = 5
    with pytest.raises(openai.InternalServerError) as raised:
        tool_call(tools_server, key, "get_weather", {"location": "Berlin"})
    assert raised.value.status_code == 504
    error = error_of(raised.value)
    assert (error["code"], error["type"]) == ("tool_timeout", "server_error")
    assert error["message"] == "the geocoding service did not answer within 1 s; try again later"


def test_bad_requests(tools_server: ServerProcess, key: str) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        tool_call(tools_server, key, "launch_rockets", {})
    assert error_of(raised.value)["code"] == "tool_not_found"
    with pytest.raises(openai.NotFoundError):
        admin_get(tools_server, key, "/admin/tools/launch_rockets")
    with pytest.raises(openai.BadRequestError) as raised:
        tool_call(tools_server, key, "calculate", 42)
    assert error_of(raised.value)["param"] == "arguments"
    with pytest.raises(openai.BadRequestError) as raised:
        admin_post(tools_server, key, "/admin/tools/calculate/call", {"args": {}})
    assert "Unrecognized request argument" in error_of(raised.value)["message"]


def test_a_user_key_is_refused(tools_server: ServerProcess) -> None:
    user = create_key(tools_server, "tools-user")
    with pytest.raises(openai.PermissionDeniedError):
        admin_get(tools_server, user, "/admin/tools")
    with pytest.raises(openai.PermissionDeniedError):
        tool_call(tools_server, user, "calculate", {"expression": "1 + 1"})
    with pytest.raises(openai.AuthenticationError):
        admin(tools_server, "sk-sa-not-a-key").get("/admin/tools", cast_to=object)
