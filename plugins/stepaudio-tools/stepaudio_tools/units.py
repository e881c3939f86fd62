"""The unit conversion tool, on pint's unit registry (offset temperatures included)."""

from __future__ import annotations

import functools
import math
import re
import threading
from typing import Any

from stepaudio_api import ToolError

# Spoken or written names pint does not know, or reads otherwise ("C" alone is a coulomb).
ALIASES = {
    "c": "degC", "°c": "degC", "celsius": "degC", "centigrade": "degC", "deg c": "degC",
    "degree celsius": "degC", "degrees celsius": "degC", "degrees c": "degC",
    "f": "degF", "°f": "degF", "fahrenheit": "degF", "deg f": "degF",
    "degree fahrenheit": "degF", "degrees fahrenheit": "degF", "degrees f": "degF",
    "kelvins": "kelvin", "degrees kelvin": "kelvin",
    "fl oz": "fluid_ounce", "fl. oz.": "fluid_ounce", "fluid ounce": "fluid_ounce",
    "fluid ounces": "fluid_ounce", "mpg": "mile / gallon", "miles per gallon": "mile / gallon",
    "kmh": "km/h", "kph": "km/h",
}  # fmt: skip
MAX_UNIT_LENGTH = 64
_lock = threading.Lock()  # pint's registry caches are not safe to fill from several threads


@functools.cache
def registry() -> Any:
    import pint  # half a second to build: only when the tool is first used

    return pint.UnitRegistry()


def _unit(text: str) -> Any:
    name = re.sub(r"\s+", " ", text.strip())
    name = ALIASES.get(name.casefold(), name)
    if not name:
        raise ToolError("a unit is empty")
    units = registry()
    for candidate in (name, name.replace(" ", "_")):
        try:
            return units.Unit(candidate)
        except Exception:  # undefined, or one of the assorted errors of pint's parser
            continue
    raise ToolError(
        f"unknown unit '{text}'; use names or symbols such as 'km', 'mile', 'kg', 'lb', "
        "'degC', 'degF', 'kelvin', 'km/h', 'mph', 'liter', 'gallon', 'm^2', 'acre', 'kWh'"
    )


def _dimension(unit: Any) -> str:
    names = {
        "[length]": "length", "[mass]": "mass", "[temperature]": "temperature",
        "[time]": "time", "[length] ** 3": "volume", "[length] ** 2": "area",
        "[length] / [time]": "speed", "[mass] / [length] / [time] ** 2": "pressure",
        "[length] ** 2 * [mass] / [time] ** 2": "energy",
        "[length] ** 2 * [mass] / [time] ** 3": "power", "dimensionless": "dimensionless",
    }  # fmt: skip
    dimensionality = str(unit.dimensionality)
    return names.get(dimensionality, dimensionality)


def _significant(value: float) -> float | int:
    value = float(f"{value:.10g}")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    import pint

    if not math.isfinite(value):
        raise ToolError("the value must be a finite number")
    with _lock:
        source, target = _unit(from_unit), _unit(to_unit)
        try:
            converted = registry().Quantity(value, source).to(target).magnitude
        except pint.DimensionalityError:
            raise ToolError(
                f"cannot convert {_dimension(source)} ({source}) to {_dimension(target)} ({target})"
            ) from None
        except pint.OffsetUnitCalculusError as exc:
            raise ToolError(f"cannot convert {from_unit} to {to_unit}: {exc}") from None
        source_symbol, target_symbol = f"{source:~P}", f"{target:~P}"
    result = _significant(converted)
    return {
        "value": value,
        "from_unit": str(source),
        "result": result,
        "to_unit": str(target),
        "text": f"{_significant(value):.10g} {source_symbol} = {result:.10g} {target_symbol}",
    }


PARAMETERS = {
    "type": "object",
    "properties": {
        "value": {"type": "number", "description": "The quantity to convert, e.g. 12.5."},
        "from_unit": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_UNIT_LENGTH,
            "description": "The unit of value: a name or symbol, e.g. 'km', 'mile', 'kg', "
            "'pound', 'degC', 'degF', 'kelvin', 'km/h', 'mph', 'knot', 'liter', 'gallon', "
            "'cup', 'm^2', 'acre', 'kWh', 'psi'. 'C' and 'F' alone mean degrees Celsius and "
            "Fahrenheit.",
        },
        "to_unit": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_UNIT_LENGTH,
            "description": "The unit to convert to, of the same kind (length, mass, "
            "temperature, speed, volume, area, energy, pressure, time, ...).",
        },
    },
    "required": ["value", "from_unit", "to_unit"],
    "additionalProperties": False,
}
