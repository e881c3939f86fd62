"""The plugin as the server loads it: its entry point, register_tools, its options."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from stepaudio_api.extensions.tools import Tool, ToolRegistry
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.settings import load_settings
from stepaudio_tools import ToolOptions, options_from, register_tools

TOOLS = {"get_time", "convert_time", "calculate", "convert_units", "get_weather"}


def test_hook_register_tools() -> None:
    registered: list[Tool] = []
    register_tools(registered.append, load_settings(environ={}))
    assert {t.name for t in registered} == TOOLS
    weather = next(t for t in registered if t.name == "get_weather")
    assert weather.acknowledgement == "Let me check the weather."
    assert weather.timeout == 2 * 5.0 + 1


def test_the_entry_point_loads_the_plugin_as_tools() -> None:
    plugins = get_plugin_manager()
    tools = ToolRegistry()
    plugins.register_all(
        "register_tools", "tools", tools.register, settings=load_settings(environ={})
    )
    assert TOOLS <= set(tools.tools)
    assert {tools.get(name).plugin for name in TOOLS} == {"tools"}
    (info,) = [p for p in plugins.describe() if p.name == "tools"]
    assert info.distribution == "stepaudio-tools" and not info.errors
    assert set(info.registered["tools"]) == TOOLS


def test_every_tool_has_a_precise_openai_schema() -> None:
    registered: list[Tool] = []
    register_tools(registered.append, load_settings(environ={}))
    for tool in registered:
        schema = tool.openai_schema()
        assert schema["type"] == "function" and schema["function"]["name"] == tool.name
        parameters: dict[str, Any] = schema["function"]["parameters"]
        jsonschema.Draft202012Validator.check_schema(parameters)
        assert parameters["type"] == "object" and parameters["additionalProperties"] is False
        assert set(parameters.get("required", [])) <= set(parameters["properties"])
        for name, prop in parameters["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"
        assert len(tool.description) > 40


def test_options_come_from_the_environment() -> None:
    environ = {
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__WEATHER_BASE_URL": "http://127.0.0.1:9/",
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__GEOCODING_BASE_URL": "http://127.0.0.1:10",
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__WEATHER_TIMEOUT": "2.5",
        "STEPAUDIO_PLUGIN_OPTIONS__TOOLS__DISABLED": '["get_weather", "convert_time"]',
    }
    settings = load_settings(environ=environ)
    assert options_from(settings) == ToolOptions(
        weather_base_url="http://127.0.0.1:9/",
        geocoding_base_url="http://127.0.0.1:10",
        weather_timeout=2.5,
        disabled=["get_weather", "convert_time"],
    )
    registered: list[Tool] = []
    register_tools(registered.append, settings)
    assert {t.name for t in registered} == TOOLS - {"get_weather", "convert_time"}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WEATHER_TIMOUT", "3", "unknown field `weather_timout`"),
        ("WEATHER_TIMEOUT", "0", "weather_timeout must be > 0"),
        ("WEATHER_TIMEOUT", "soon", "Expected `float`"),
        ("DISABLED", '["get_wether"]', "disabled names unknown tools: get_wether"),
    ],
)
def test_a_wrong_option_fails_the_plugin_with_a_message(
    variable: str, value: str, message: str
) -> None:
    settings = load_settings(environ={f"STEPAUDIO_PLUGIN_OPTIONS__TOOLS__{variable}": value})
    with pytest.raises(ValueError, match=message):
        register_tools(lambda tool: None, settings)


def test_a_broken_option_is_reported_and_the_server_goes_on() -> None:
    settings = load_settings(environ={"STEPAUDIO_PLUGIN_OPTIONS__TOOLS__COLOUR": "red"})
    plugins = get_plugin_manager()
    tools = ToolRegistry()
    plugins.register_all("register_tools", "tools", tools.register, settings=settings)
    assert not TOOLS & set(tools.tools)
    (info,) = [p for p in plugins.describe() if p.name == "tools"]
    assert "unknown field `colour`" in info.errors[0]
