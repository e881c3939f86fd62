"""Check the weather tests' stand-in against the real Open-Meteo (needs internet, so it is a
command, not a test): `python plugins/stepaudio-tools/check_real_open_meteo.py`. It asks both
for the same places and fails when their answers differ in shape."""

from __future__ import annotations

from stepaudio_api import ToolError
from stepaudio_tools.testing import OpenMeteoStandIn, call_tool, tool_registry


def main() -> None:
    real = tool_registry()
    with OpenMeteoStandIn() as stand_in:
        fake = tool_registry(weather_base_url=stand_in.url, geocoding_base_url=stand_in.url)
        for arguments in ({"location": "Berlin"},
                          {"location": "Paris, Texas", "units": "imperial"}):  # fmt: skip
            expected = call_tool(real, "get_weather", **arguments)
            got = call_tool(fake, "get_weather", **arguments)
            assert expected["location"]["name"] == got["location"]["name"], arguments
            assert set(expected["current"]) == set(got["current"]), arguments
            assert expected["units"] == got["units"], arguments
            assert [set(d) for d in expected["daily"]] == [set(d) for d in got["daily"]]
    try:
        call_tool(real, "get_weather", location="Xqzwvy Atlantis")
    except ToolError as refused:
        assert "no place named" in str(refused)
    else:
        raise AssertionError("the real service found a place that does not exist")
    print("the stand-in answers as the real Open-Meteo does")


if __name__ == "__main__":
    main()
