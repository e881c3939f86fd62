"""The weather tool: a place name is geocoded, then its current conditions and daily forecast
are read, both from Open-Meteo's APIs (or any server that answers as they do)."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from stepaudio_api import ToolError, ToolTimeout

logger = logging.getLogger(__name__)

# WMO weather interpretation codes, as Open-Meteo documents them
WMO_CODES = {
    0: "clear sky", 1: "mainly clear", 2: "partly cloudy", 3: "overcast",
    45: "fog", 48: "depositing rime fog",
    51: "light drizzle", 53: "moderate drizzle", 55: "dense drizzle",
    56: "light freezing drizzle", 57: "dense freezing drizzle",
    61: "slight rain", 63: "moderate rain", 65: "heavy rain",
    66: "light freezing rain", 67: "heavy freezing rain",
    71: "slight snowfall", 73: "moderate snowfall", 75: "heavy snowfall", 77: "snow grains",
    80: "slight rain showers", 81: "moderate rain showers", 82: "violent rain showers",
    85: "slight snow showers", 86: "heavy snow showers",
    95: "thunderstorm", 96: "thunderstorm with slight hail", 99: "thunderstorm with heavy hail",
}  # fmt: skip
CURRENT = "temperature_2m,apparent_temperature,relative_humidity_2m,weather_code,wind_speed_10m"
DAILY = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max"
IMPERIAL = {"temperature_unit": "fahrenheit", "wind_speed_unit": "mph",
            "precipitation_unit": "inch"}  # fmt: skip
MAX_DAYS = 16  # Open-Meteo forecasts 16 days ahead


def describe_code(code: Any) -> str:
    return WMO_CODES.get(code, f"unknown conditions (WMO code {code})")


class Weather:
    """`get_weather` against the configured geocoding and forecast services."""

    def __init__(
        self,
        weather_base_url: str,
        geocoding_base_url: str,
        timeout: float,
        language: str = "en",
        api_key: str = "",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.weather_base_url = weather_base_url.rstrip("/")
        self.geocoding_base_url = geocoding_base_url.rstrip("/")
        self.timeout = timeout
        self.language = language
        self.api_key = api_key
        self.transport = transport

    async def get_weather(
        self, location: str, days: int = 3, units: str = "metric"
    ) -> dict[str, Any]:
        async with httpx.AsyncClient(
            timeout=self.timeout,
            transport=self.transport,
            headers={"User-Agent": "stepaudio-tools"},
        ) as client:
            place = await self._place(client, location)
            forecast = await self._forecast(client, place, days, units)
        return _report(place, forecast)

    async def _get(
        self, client: httpx.AsyncClient, service: str, url: str, params: dict[str, Any]
    ) -> Any:
        if self.api_key:
            params = {**params, "apikey": self.api_key}
        try:
            response = await client.get(url, params=params)
        except httpx.TimeoutException:
            logger.warning("the %s service did not answer within %g s", service, self.timeout)
            raise ToolTimeout(
                f"the {service} service did not answer within {self.timeout:g} s; try again later"
            ) from None
        except httpx.TransportError as exc:
            logger.warning("the %s service cannot be reached: %r", service, exc)
            raise ToolError(f"the {service} service cannot be reached; try again later") from None
        if response.status_code >= 500:
            logger.warning("the %s service answered HTTP %d", service, response.status_code)
            raise ToolError(
                f"the {service} service is unavailable (HTTP {response.status_code}); try "
                "again later"
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            reason = body.get("reason") if isinstance(body, dict) else None
            raise ToolError(
                f"the {service} service refused the request (HTTP {response.status_code})"
                + (f": {reason}" if reason else "")
            )
        if not isinstance(body, dict):
            raise ToolError(f"the {service} service sent an answer that cannot be read")
        return body

    async def _place(self, client: httpx.AsyncClient, location: str) -> dict[str, Any]:
        # "Paris, Texas": search the name, then keep the result in that region or country
        name, _, qualifier = (part.strip() for part in location.partition(","))
        if not name:
            raise ToolError("the location is empty; give a place name such as 'Berlin'")
        params = {
            "name": name,
            "count": 10 if qualifier else 1,
            "language": self.language,
            "format": "json",
        }
        url = f"{self.geocoding_base_url}/v1/search"
        found = (await self._get(client, "geocoding", url, params)).get("results") or []
        found = [p for p in found if isinstance(p, dict) and "latitude" in p and "longitude" in p]
        if not found:
            raise ToolError(
                f"no place named '{name}' was found; check the spelling or name a nearby city"
            )
        if not qualifier:
            return found[0]
        wanted = qualifier.casefold()
        for place in found:
            fields = ("country", "country_code", "admin1", "admin2", "admin3")
            if any(str(place.get(f, "")).casefold() == wanted for f in fields):
                return place
        others = "; ".join(_place_name(p) for p in found[:5])
        raise ToolError(f"no place named '{name}' was found in '{qualifier}' (found: {others})")

    async def _forecast(
        self, client: httpx.AsyncClient, place: dict[str, Any], days: int, units: str
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            "current": CURRENT,
            "daily": DAILY,
            "timezone": "auto",
            "forecast_days": days,
            **(IMPERIAL if units == "imperial" else {}),
        }
        url = f"{self.weather_base_url}/v1/forecast"
        return await self._get(client, "weather", url, params)


def _place_name(place: dict[str, Any]) -> str:
    parts = [place.get("name"), place.get("admin1"), place.get("country")]
    unique = [p for i, p in enumerate(parts) if p and p not in parts[:i]]
    return ", ".join(str(p) for p in unique)


def _report(place: dict[str, Any], forecast: dict[str, Any]) -> dict[str, Any]:
    try:
        now, now_units = forecast["current"], forecast.get("current_units", {})
        daily, daily_units = forecast["daily"], forecast.get("daily_units", {})
        current = {
            "time": now["time"],
            "conditions": describe_code(now["weather_code"]),
            "weather_code": now["weather_code"],
            "temperature": now["temperature_2m"],
            "feels_like": now.get("apparent_temperature"),
            "humidity": now.get("relative_humidity_2m"),
            "wind_speed": now.get("wind_speed_10m"),
        }
        chances = daily.get("precipitation_probability_max") or []
        days = [
            {
                "date": date,
                "conditions": describe_code(daily["weather_code"][i]),
                "weather_code": daily["weather_code"][i],
                "high": daily["temperature_2m_max"][i],
                "low": daily["temperature_2m_min"][i],
                "precipitation_probability": chances[i] if i < len(chances) else None,
            }
            for i, date in enumerate(daily["time"])
        ]
    except (KeyError, IndexError, TypeError):
        raise ToolError("the weather service sent an answer that cannot be read") from None
    units = {
        "temperature": now_units.get("temperature_2m") or daily_units.get("temperature_2m_max"),
        "wind_speed": now_units.get("wind_speed_10m"),
        "humidity": now_units.get("relative_humidity_2m", "%"),
        "precipitation_probability": daily_units.get("precipitation_probability_max", "%"),
    }
    name = _place_name(place)
    return {
        "location": {
            "name": name,
            "latitude": place["latitude"],
            "longitude": place["longitude"],
            "timezone": forecast.get("timezone") or place.get("timezone"),
        },
        "current": current,
        "daily": days,
        "units": units,
        "summary": _summary(name, current, days, units),
    }


def _summary(
    name: str, current: dict[str, Any], days: list[dict[str, Any]], units: dict[str, Any]
) -> str:
    degrees = units["temperature"] or ""
    text = f"{name}: {current['conditions']}, {current['temperature']} {degrees}"
    if current["feels_like"] is not None:
        text += f" (feels like {current['feels_like']} {degrees})"
    if current["wind_speed"] is not None:
        text += f", wind {current['wind_speed']} {units['wind_speed'] or ''}".rstrip()
    text += "."
    if days:
        today = days[0]
        text += f" Today: {today['conditions']}, {today['low']} to {today['high']} {degrees}"
        if today["precipitation_probability"] is not None:
            text += f", {today['precipitation_probability']}% chance of precipitation"
        text += "."
    return text


PARAMETERS = {
    "type": "object",
    "properties": {
        "location": {
            "type": "string",
            "minLength": 1,
            "maxLength": 100,
            "description": "A place name, e.g. 'Berlin', optionally with its region or country "
            "after a comma to tell places apart: 'Paris, Texas', 'London, Canada'.",
        },
        "days": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_DAYS,
            "default": 3,
            "description": "Days of daily forecast, today first (default 3).",
        },
        "units": {
            "type": "string",
            "enum": ["metric", "imperial"],
            "default": "metric",
            "description": "metric: °C and km/h; imperial: °F and mph.",
        },
    },
    "required": ["location"],
    "additionalProperties": False,
}
