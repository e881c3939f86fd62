"""convert_units: pint's conversions, spoken unit names, and clear refusals."""

from __future__ import annotations

import pytest

from stepaudio_api import ToolError
from stepaudio_tools.testing import call_tool, tool_registry
from stepaudio_tools.units import convert_units


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "result", "text"),
    [
        (10, "km", "mile", 6.213711922, "10 km = 6.213711922 mi"),
        (1, "mile", "meter", 1609.344, "1 mi = 1609.344 m"),
        (5, "feet", "cm", 152.4, "5 ft = 152.4 cm"),
        (2.5, "kg", "pound", 5.511556555, "2.5 kg = 5.511556555 lb"),
        (100, "degC", "degF", 212, "100 °C = 212 °F"),
        (-40, "fahrenheit", "celsius", -40, "-40 °F = -40 °C"),
        (30, "C", "F", 86, "30 °C = 86 °F"),
        (0, "degrees Celsius", "kelvin", 273.15, "0 °C = 273.15 K"),
        (300, "K", "°C", 26.85, "300 K = 26.85 °C"),
        (60, "mph", "km/h", 96.56064, "60 mph = 96.56064 km/h"),
        (100, "kph", "m/s", 27.77777778, "100 km/h = 27.77777778 m/s"),
        (20, "knots", "km/h", 37.04, "20 kn = 37.04 km/h"),
        (2, "liters", "gallon", 0.5283441047, "2 l = 0.5283441047 gal"),
        (8, "fl oz", "ml", 236.5882365, "8 floz = 236.5882365 ml"),
        (1, "cubic meter", "liter", 1000, "1 m³ = 1000 l"),
        (1, "acre", "square meter", 4046.872610, "1 acre = 4046.87261 m²"),
        (1, "kWh", "MJ", 3.6, "1 kWh = 3.6 MJ"),
        (30, "psi", "bar", 2.068427188, "30 psi = 2.068427188 bar"),
        (90, "minutes", "hours", 1.5, "90 min = 1.5 h"),
        (30, "mpg", "km/l", 12.75431122, "30 mi/gal = 12.75431122 km/l"),
    ],
)
def test_convert_units(
    value: float, from_unit: str, to_unit: str, result: float, text: str
) -> None:
    converted = convert_units(value, from_unit, to_unit)
    assert converted["result"] == pytest.approx(result, rel=1e-9)
    assert converted["text"] == text and converted["value"] == value


def test_the_result_names_the_units_in_full() -> None:
    result = convert_units(100, "degC", "degF")
    assert (result["from_unit"], result["to_unit"]) == ("degree_Celsius", "degree_Fahrenheit")


@pytest.mark.parametrize(
    ("from_unit", "to_unit", "message"),
    [
        ("meter", "kilogram", r"cannot convert length \(meter\) to mass \(kilogram\)"),
        ("degC", "km/h", r"cannot convert temperature \(degree_Celsius\) to speed"),
        ("liter", "square meter", "cannot convert volume .* to area"),
        ("parsec", "smoot", "unknown unit 'smoot'; use names or symbols such as"),
        ("furlongs per fortnight", "m/s", None),
        ("((", "m", "unknown unit '\\(\\('"),
        ("__import__('os')", "m", "unknown unit"),
    ],
)
def test_incompatible_or_unknown_units(from_unit: str, to_unit: str, message: str | None) -> None:
    if message is None:  # pint knows furlongs and fortnights
        assert convert_units(1, from_unit, to_unit)["result"] == pytest.approx(1.663e-4, rel=1e-3)
        return
    with pytest.raises(ToolError, match=message):
        convert_units(1, from_unit, to_unit)


def test_convert_units_through_the_registry() -> None:
    tools = tool_registry()
    result = call_tool(tools, "convert_units", value=26.2, from_unit="miles", to_unit="km")
    assert result["result"] == pytest.approx(42.16481)
    with pytest.raises(ToolError, match="'ten' is not of type 'number'"):
        call_tool(tools, "convert_units", value="ten", from_unit="m", to_unit="ft")
    with pytest.raises(ToolError, match="'to_unit' is a required property"):
        call_tool(tools, "convert_units", value=1, from_unit="m")
