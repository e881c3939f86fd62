"""get_weather against a stand-in Open-Meteo on 127.0.0.1 (stepaudio_tools.testing), and, when
STEPAUDIO_TEST_OPEN_METEO=1, the stand-in checked against the real service."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest

from stepaudio_api import ToolError, ToolTimeout
from stepaudio_api.extensions.tools import ToolRegistry
from stepaudio_tools.testing import OpenMeteoStandIn, call_tool, tool_registry
from stepaudio_tools.weather import CURRENT, DAILY, WMO_CODES, describe_code


@pytest.fixture
def open_meteo() -> Iterator[OpenMeteoStandIn]:
    with OpenMeteoStandIn() as stand_in:
        yield stand_in


def tools_for(stand_in: OpenMeteoStandIn, timeout: str = "2") -> ToolRegistry:
    return tool_registry(
        weather_base_url=stand_in.url, geocoding_base_url=stand_in.url, weather_timeout=timeout
    )


def test_get_weather(open_meteo: OpenMeteoStandIn) -> None:
    report = call_tool(tools_for(open_meteo), "get_weather", location="Berlin")
    assert report["location"] == {
        "name": "Berlin, Land Berlin, Germany",
        "latitude": 52.52437,
        "longitude": 13.41053,
        "timezone": "Europe/Berlin",
    }
    current = report["current"]
    assert set(current) == {
        "time",
        "conditions",
        "weather_code",
        "temperature",
        "feels_like",
        "humidity",
        "wind_speed",
    }
    assert current["conditions"] == describe_code(current["weather_code"])
    assert len(report["daily"]) == 3
    today = report["daily"][0]
    assert today["date"] == dt.datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
    assert today["low"] <= today["high"] and 0 <= today["precipitation_probability"] <= 100
    assert report["units"] == {
        "temperature": "°C",
        "wind_speed": "km/h",
        "humidity": "%",
        "precipitation_probability": "%",
    }
    summary = report["summary"]
    assert summary.startswith(
        f"Berlin, Land Berlin, Germany: {current['conditions']}, "
        f"{current['temperature']} °C (feels like"
    )
    assert f"Today: {today['conditions']}, {today['low']} to {today['high']} °C" in summary


def test_the_requests_are_the_real_apis(open_meteo: OpenMeteoStandIn) -> None:
    call_tool(tools_for(open_meteo), "get_weather", location="Tokyo", days=5)
    (search_path, search), (forecast_path, forecast) = open_meteo.requests
    assert search_path == "/v1/search"
    assert search == {"name": "Tokyo", "count": "1", "language": "en", "format": "json"}
    assert forecast_path == "/v1/forecast"
    assert forecast == {
        "latitude": "35.6895",
        "longitude": "139.69171",
        "current": CURRENT,
        "daily": DAILY,
        "timezone": "auto",
        "forecast_days": "5",
    }


def test_imperial_units(open_meteo: OpenMeteoStandIn) -> None:
    report = call_tool(
        tools_for(open_meteo), "get_weather", location="London", units="imperial", days=1
    )
    assert report["units"]["temperature"] == "°F" and report["units"]["wind_speed"] == "mp/h"
    assert len(report["daily"]) == 1 and "°F" in report["summary"]
    forecast = open_meteo.requests[-1][1]
    assert (forecast["temperature_unit"], forecast["wind_speed_unit"]) == ("fahrenheit", "mph")


def test_a_region_after_a_comma_tells_places_apart(open_meteo: OpenMeteoStandIn) -> None:
    tools = tools_for(open_meteo)
    assert call_tool(tools, "get_weather", location="Paris")["location"]["name"] == (
        "Paris, Île-de-France, France"
    )
    texas = call_tool(tools, "get_weather", location="Paris, Texas")
    assert texas["location"]["name"] == "Paris, Texas, United States"
    assert texas["location"]["timezone"] == "America/Chicago"
    assert open_meteo.requests[-2][1]["count"] == "10"
    assert call_tool(tools, "get_weather", location="paris, fr")["location"]["longitude"] == 2.3488
    with pytest.raises(
        ToolError,
        match="no place named 'Paris' was found in 'Spain' "
        r"\(found: Paris, Île-de-France, France; Paris, Texas",
    ):
        call_tool(tools, "get_weather", location="Paris, Spain")


def test_an_unknown_place(open_meteo: OpenMeteoStandIn) -> None:
    with pytest.raises(ToolError, match="no place named 'Atlantis' was found; check the spell"):
        call_tool(tools_for(open_meteo), "get_weather", location="Atlantis")
    assert len(open_meteo.requests) == 1  # no forecast asked


def test_the_service_down(open_meteo: OpenMeteoStandIn) -> None:
    open_meteo.fail_status = 500
    with pytest.raises(
        ToolError,
        match=r"the geocoding service is unavailable \(HTTP 500\); "
        "try again later",
    ):
        call_tool(tools_for(open_meteo), "get_weather", location="Berlin")


def test_the_forecast_service_down(open_meteo: OpenMeteoStandIn) -> None:
    with OpenMeteoStandIn() as broken:
        broken.fail_status = 503
        tools = tool_registry(weather_base_url=broken.url, geocoding_base_url=open_meteo.url)
        with pytest.raises(ToolError, match=r"the weather service is unavailable \(HTTP 503\)"):
            call_tool(tools, "get_weather", location="Berlin")


def test_a_hang_beyond_the_timeout(open_meteo: OpenMeteoStandIn) -> None:
    open_meteo.delay = 10
    started = time.monotonic()
    with pytest.raises(ToolTimeout, match=r"the geocoding service did not answer within 0\.3 s"):
        call_tool(tools_for(open_meteo, timeout="0.3"), "get_weather", location="Berlin")
    assert time.monotonic() - started < 2


def test_the_tools_own_timeout_is_a_backstop(open_meteo: OpenMeteoStandIn) -> None:
    tools = tools_for(open_meteo, timeout="5")
    assert tools.get("get_weather").timeout == 11
    tool = tools.tools["get_weather"]
    object.__setattr__(tool, "timeout", 0.2)  # shorter than the HTTP timeout
    open_meteo.delay = 10
    with pytest.raises(ToolTimeout, match=r"the tool 'get_weather' did not answer within 0\.2 s"):
        call_tool(tools, "get_weather", location="Berlin")


def test_the_service_unreachable() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tools = tool_registry(weather_base_url=url, geocoding_base_url=url)
    with pytest.raises(ToolError, match="the geocoding service cannot be reached; try again"):
        call_tool(tools, "get_weather", location="Berlin")


def test_a_refusal_and_an_unreadable_answer(open_meteo: OpenMeteoStandIn) -> None:
    # a "weather service" that is not one: its 404 and its answers are reported, not raised
    tools = tool_registry(
        weather_base_url=f"{open_meteo.url}/elsewhere", geocoding_base_url=open_meteo.url
    )
    with pytest.raises(
        ToolError,
        match=r"the weather service refused the request \(HTTP 404\)"
        ": Not Found",
    ):
        call_tool(tools, "get_weather", location="Berlin")
    odd_place = {"name": "Nowhere", "latitude": "north", "longitude": 0.0}
    with OpenMeteoStandIn(places=[odd_place]) as odd:
        tools = tool_registry(weather_base_url=odd.url, geocoding_base_url=odd.url)
        with pytest.raises(ToolError, match=r"refused the request \(HTTP 400\): Latitude must"):
            call_tool(tools, "get_weather", location="Nowhere")


def test_the_arguments_are_checked_before_any_request(open_meteo: OpenMeteoStandIn) -> None:
    tools = tools_for(open_meteo)
    with pytest.raises(ToolError, match="days: 30 is greater than the maximum of 16"):
        call_tool(tools, "get_weather", location="Berlin", days=30)
    with pytest.raises(ToolError, match="units: 'kelvin' is not one of"):
        call_tool(tools, "get_weather", location="Berlin", units="kelvin")
    with pytest.raises(ToolError, match="the location is empty"):
        call_tool(tools, "get_weather", location=" , Texas")
    assert open_meteo.requests == []


def test_the_stand_in_refuses_what_open_meteo_refuses(open_meteo: OpenMeteoStandIn) -> None:
    misspelt = {"latitude": 1, "longitude": 2, "current": "temprature_2m"}
    answer = httpx.get(f"{open_meteo.url}/v1/forecast", params=misspelt)
    assert answer.status_code == 400 and answer.json()["error"] is True
    assert "invalid String value temprature_2m" in answer.json()["reason"]
    assert httpx.get(f"{open_meteo.url}/v1/search").status_code == 400


def test_every_wmo_code_has_words() -> None:
    assert describe_code(0) == "clear sky" and describe_code(95) == "thunderstorm"
    assert describe_code(42) == "unknown conditions (WMO code 42)"
    assert len(WMO_CODES) == 28
