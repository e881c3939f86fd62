"""stepaudio-tools: server-side tools for stepaudio-api models: the clock (get_time,
convert_time), a calculator (calculate), unit conversion (convert_units) and the weather
(get_weather, from Open-Meteo). Options come from ``[plugin_options.tools]``."""

from __future__ import annotations

from typing import Any

import msgspec

from stepaudio_api import Tool, hookimpl
from stepaudio_tools import calculator, clock, units, weather

PLUGIN_NAME = "tools"
"""The entry-point name, so also the key of this plugin's options in `plugin_options`."""


class ToolOptions(msgspec.Struct, forbid_unknown_fields=True):
    weather_base_url: str = "https://api.open-meteo.com"
    """Where the forecast API is (`/v1/forecast`): Open-Meteo, its commercial host, or your
    own Open-Meteo server."""
    geocoding_base_url: str = "https://geocoding-api.open-meteo.com"
    """Where the geocoding API is (`/v1/search`)."""
    weather_timeout: float = 5.0
    """Seconds each request to those services may take."""
    weather_api_key: str = ""
    """Sent as `apikey` (Open-Meteo's commercial API); empty for the free one."""
    weather_language: str = "en"
    """The language of place names in weather results."""
    disabled: list[str] = []
    """Names of tools not to register, e.g. ["get_weather"] on a server without internet."""


def options_from(settings: Any) -> ToolOptions:
    raw = (getattr(settings, "plugin_options", None) or {}).get(PLUGIN_NAME, {})
    try:
        options = msgspec.convert(raw, ToolOptions, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid [plugin_options.{PLUGIN_NAME}]: {exc}") from None
    if options.weather_timeout <= 0:
        raise ValueError(f"[plugin_options.{PLUGIN_NAME}] weather_timeout must be > 0")
    return options


def build_tools(options: ToolOptions) -> list[Tool]:
    the_clock = clock.Clock()
    the_weather = weather.Weather(
        options.weather_base_url,
        options.geocoding_base_url,
        options.weather_timeout,
        language=options.weather_language,
        api_key=options.weather_api_key,
    )
    return [
        Tool(
            "get_time",
            the_clock.get_time,
            description="The current date and time in a time zone or city (default UTC), with "
            "its weekday, UTC offset and whether daylight saving time is in effect.",
            parameters=clock.GET_TIME_PARAMETERS,
            timeout=2.0,
        ),
        Tool(
            "convert_time",
            the_clock.convert_time,
            description="Convert a time of day from one time zone or city to another, on a "
            "given date (default today), taking daylight saving time into account.",
            parameters=clock.CONVERT_TIME_PARAMETERS,
            timeout=2.0,
        ),
        Tool(
            "calculate",
            calculator.calculate,
            description="Evaluate an arithmetic expression exactly, instead of working it out "
            "in your head: + - * / // % and powers, parentheses, sqrt, log, trigonometry.",
            parameters=calculator.PARAMETERS,
            timeout=2.0,
        ),
        Tool(
            "convert_units",
            units.convert_units,
            description="Convert a quantity between units of the same kind: length, mass, "
            "temperature (°C, °F, K), speed, volume, area, energy, pressure, time, data.",
            parameters=units.PARAMETERS,
            timeout=5.0,  # the first call builds pint's unit registry (about half a second)
        ),
        Tool(
            "get_weather",
            the_weather.get_weather,
            description="Current weather and the daily forecast for a place: conditions, "
            "temperature, feels-like, humidity, wind, daily highs and lows and the chance of "
            "precipitation.",
            parameters=weather.PARAMETERS,
            # two requests (geocoding, forecast), each within weather_timeout, and a margin
            timeout=2 * options.weather_timeout + 1.0,
            acknowledgement="Let me check the weather.",
        ),
    ]


@hookimpl
def register_tools(register: Any, settings: Any) -> None:
    options = options_from(settings)
    tools = build_tools(options)
    if unknown := set(options.disabled) - {tool.name for tool in tools}:
        raise ValueError(
            f"[plugin_options.{PLUGIN_NAME}] disabled names unknown tools: "
            f"{', '.join(sorted(unknown))}"
        )
    for tool in tools:
        if tool.name not in options.disabled:
            register(tool)
