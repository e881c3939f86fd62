"""Test helpers: the plugin's tools in a registry as the server holds them, and a stand-in for
Open-Meteo's geocoding and forecast APIs: a real HTTP server on 127.0.0.1 (a thread) that
answers `/v1/search` and `/v1/forecast` in the real APIs' shapes, refuses unknown variables as
they do, and can be told to fail or hang.

    with OpenMeteoStandIn() as open_meteo:
        tools = tool_registry(weather_base_url=open_meteo.url,
                              geocoding_base_url=open_meteo.url)
        report = call_tool(tools, "get_weather", location="Berlin")
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from stepaudio_api.extensions.tools import ToolRegistry
from stepaudio_api.settings import load_settings
from stepaudio_tools import build_tools, options_from

# Records as the real geocoding API returns them (a subset of their fields).
PLACES: list[dict[str, Any]] = [
    {"id": 2950159, "name": "Berlin", "latitude": 52.52437, "longitude": 13.41053,
     "elevation": 74.0, "feature_code": "PPLC", "country_code": "DE", "timezone": "Europe/Berlin",
     "population": 3426354, "country": "Germany", "admin1": "Land Berlin"},
    {"id": 2988507, "name": "Paris", "latitude": 48.85341, "longitude": 2.3488,
     "elevation": 42.0, "feature_code": "PPLC", "country_code": "FR", "timezone": "Europe/Paris",
     "population": 2138551, "country": "France", "admin1": "Île-de-France"},
    {"id": 4717560, "name": "Paris", "latitude": 33.66094, "longitude": -95.55551,
     "elevation": 183.0, "feature_code": "PPLA2", "country_code": "US",
     "timezone": "America/Chicago", "population": 24782, "country": "United States",
     "admin1": "Texas", "admin2": "Lamar"},
    {"id": 1850147, "name": "Tokyo", "latitude": 35.6895, "longitude": 139.69171,
     "elevation": 44.0, "feature_code": "PPLC", "country_code": "JP", "timezone": "Asia/Tokyo",
     "population": 8336599, "country": "Japan", "admin1": "Tokyo"},
    {"id": 2643743, "name": "London", "latitude": 51.50853, "longitude": -0.12574,
     "elevation": 25.0, "feature_code": "PPLC", "country_code": "GB", "timezone": "Europe/London",
     "population": 8961989, "country": "United Kingdom", "admin1": "England"},
]  # fmt: skip
CURRENT_UNITS = {"time": "iso8601", "interval": "seconds", "temperature_2m": "°C",
                 "apparent_temperature": "°C", "relative_humidity_2m": "%",
                 "weather_code": "wmo code", "wind_speed_10m": "km/h", "precipitation": "mm",
                 "cloud_cover": "%", "is_day": ""}  # fmt: skip
DAILY_UNITS = {"time": "iso8601", "temperature_2m_max": "°C", "temperature_2m_min": "°C",
               "weather_code": "wmo code", "precipitation_probability_max": "%",
               "precipitation_sum": "mm", "sunrise": "iso8601", "sunset": "iso8601"}  # fmt: skip
CODES = [0, 1, 2, 3, 45, 61, 63, 80, 71, 95]


def tool_registry(**options: str) -> ToolRegistry:
    """The plugin's tools, with options given as the variables
    STEPAUDIO_PLUGIN_OPTIONS__TOOLS__<NAME> would give them."""
    environ = {f"STEPAUDIO_PLUGIN_OPTIONS__TOOLS__{k.upper()}": v for k, v in options.items()}
    tools = ToolRegistry()
    for tool in build_tools(options_from(load_settings(environ=environ))):
        tools.register(tool, plugin="tools")
    return tools


def call_tool(tools: ToolRegistry, name: str, **arguments: Any) -> Any:
    """Call a tool as a model's tool call is run: arguments checked, within its timeout."""
    return asyncio.run(tools.call(name, arguments))


class _Refusal(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class OpenMeteoStandIn:
    def __init__(self, places: list[dict[str, Any]] | None = None) -> None:
        self.places = PLACES if places is None else places
        self.fail_status: int | None = None
        """Answer every request with this HTTP status (500: the service is down)."""
        self.delay = 0.0
        """Seconds to wait before answering (longer than a client's timeout: a hang)."""
        self.requests: list[tuple[str, dict[str, str]]] = []
        """(path, query) of every request, in order."""
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> OpenMeteoStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()  # releases hanging requests
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                stand_in.requests.append((url.path, query))
                if stand_in.delay:
                    stand_in._closing.wait(stand_in.delay)
                if stand_in.fail_status:
                    return self._send(stand_in.fail_status, {"error": True, "reason": "down"})
                routes = {"/v1/search": stand_in.search, "/v1/forecast": stand_in.forecast}
                if url.path not in routes:
                    return self._send(404, {"error": True, "reason": "Not Found"})
                try:
                    self._send(200, routes[url.path](query))
                except _Refusal as refusal:
                    self._send(400, {"error": True, "reason": refusal.reason})

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def search(self, query: dict[str, str]) -> dict[str, Any]:
        """`/v1/search?name=...&count=...`: places whose name starts with `name`; no
        `results` key at all when none does, as the real API."""
        name = query.get("name")
        if name is None:
            raise _Refusal("Parameter 'name' is required")
        count = int(query.get("count", "10"))
        if not 1 <= count <= 100:
            raise _Refusal("Parameter count must be between 1 and 100.")
        wanted = name.strip().casefold()
        found = [p for p in self.places if wanted and p["name"].casefold().startswith(wanted)]
        answer: dict[str, Any] = {"generationtime_ms": 0.4}
        if found:
            answer["results"] = found[:count]
        return answer

    def _nearest_zone(self, latitude: float, longitude: float) -> str:
        """The time zone of the nearest known place (the real API looks it up by position)."""

        def distance(place: dict[str, Any]) -> float:
            return (place["latitude"] - latitude) ** 2 + (place["longitude"] - longitude) ** 2

        known = [p for p in self.places if isinstance(p.get("latitude"), float)]
        return min(known, key=distance)["timezone"] if known else "GMT"

    def forecast(self, query: dict[str, str]) -> dict[str, Any]:
        """`/v1/forecast`: made-up but well-formed figures for the requested variables."""
        try:
            latitude, longitude = float(query["latitude"]), float(query["longitude"])
        except KeyError:
            raise _Refusal(
                "Parameter 'latitude' and 'longitude' must have the same number of elements"
            ) from None
        except ValueError:
            raise _Refusal("Latitude must be a number") from None
        current = [v for v in query.get("current", "").split(",") if v]
        daily = [v for v in query.get("daily", "").split(",") if v]
        for kind, names, known in (
            ("current", current, CURRENT_UNITS),
            ("daily", daily, DAILY_UNITS),
        ):
            for name in names:
                if name not in known:
                    raise _Refusal(
                        f"Cannot initialize {kind.capitalize()}Variable from invalid "
                        f"String value {name} for key {kind}"
                    )
        days = int(query.get("forecast_days", "7"))
        if not 0 <= days <= 16:
            raise _Refusal("Forecast days is invalid. Allowed range 0 to 16.")
        fahrenheit = query.get("temperature_unit") == "fahrenheit"
        wind = query.get("wind_speed_unit", "kmh")
        zone_name = query.get("timezone") or "GMT"
        if zone_name == "auto":
            zone_name = self._nearest_zone(latitude, longitude)
        zone = zoneinfo.ZoneInfo(zone_name)
        now = dt.datetime.now(zone)
        seed = int(abs(latitude * 100 + longitude * 10))

        def temperature(celsius: float) -> float:
            return round(celsius * 9 / 5 + 32 if fahrenheit else celsius, 1)

        figures = {
            "temperature_2m": temperature(10 + seed % 15),
            "apparent_temperature": temperature(8 + seed % 15),
            "relative_humidity_2m": 40 + seed % 50,
            "weather_code": CODES[seed % len(CODES)],
            "wind_speed_10m": round(
                (12.0 + seed % 20) / {"kmh": 1, "mph": 1.609344, "ms": 3.6, "kn": 1.852}[wind],
                1,
            ),
            "precipitation": 0.0,
            "cloud_cover": seed % 100,
            "is_day": 1,
        }
        degrees = "°F" if fahrenheit else "°C"
        units = {
            "temperature_2m": degrees,
            "apparent_temperature": degrees,
            "temperature_2m_max": degrees,
            "temperature_2m_min": degrees,
            # sic: Open-Meteo's own label for miles per hour
            "wind_speed_10m": {"kmh": "km/h", "mph": "mp/h", "ms": "m/s", "kn": "kn"}[wind],
        }
        dates = [(now.date() + dt.timedelta(days=i)).isoformat() for i in range(days)]
        daily_values = {
            "weather_code": [CODES[(seed + i) % len(CODES)] for i in range(days)],
            "temperature_2m_max": [temperature(15 + (seed + i) % 12) for i in range(days)],
            "temperature_2m_min": [temperature(3 + (seed + i) % 9) for i in range(days)],
            "precipitation_probability_max": [(seed * 7 + i * 13) % 101 for i in range(days)],
            "precipitation_sum": [0.0] * days,
            "sunrise": [f"{d}T06:00" for d in dates],
            "sunset": [f"{d}T20:00" for d in dates],
        }
        offset = int((now.utcoffset() or dt.timedelta(0)).total_seconds())
        answer: dict[str, Any] = {
            "latitude": round(latitude, 4),
            "longitude": round(longitude, 4),
            "generationtime_ms": 0.1,
            "utc_offset_seconds": offset,
            "timezone": zone_name,
            "timezone_abbreviation": now.tzname(),
            "elevation": 40.0,
        }
        if current:
            quarter = now.replace(minute=now.minute // 15 * 15, second=0, microsecond=0)
            answer["current_units"] = {
                "time": "iso8601",
                "interval": "seconds",
                **{n: units.get(n, CURRENT_UNITS[n]) for n in current},
            }
            answer["current"] = {
                "time": quarter.strftime("%Y-%m-%dT%H:%M"),
                "interval": 900,
                **{n: figures[n] for n in current},
            }
        if daily:
            answer["daily_units"] = {
                "time": "iso8601",
                **{n: units.get(n, DAILY_UNITS[n]) for n in daily},
            }
            answer["daily"] = {"time": dates, **{n: daily_values[n] for n in daily}}
        return answer
