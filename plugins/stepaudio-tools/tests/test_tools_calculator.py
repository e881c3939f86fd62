"""calculate: arithmetic only, with limits, and errors a model can act on."""

from __future__ import annotations

import time

import pytest

from stepaudio_api import ToolError
from stepaudio_tools.calculator import calculate
from stepaudio_tools.testing import call_tool, tool_registry


@pytest.mark.parametrize(
    ("expression", "result"),
    [
        ("1 + 2 * 3", 7),
        ("(3 + 4.5) * 2", 15),
        ("0.1 + 0.2", 0.3),
        ("10 / 4", 2.5),
        ("10 / 2", 5),
        ("7 // 2", 3),
        ("15 % 4", 3),
        ("-2 ** 2", -4),
        ("2 ** -1", 0.5),
        ("2^10", 1024),
        ("(2 + 3) * 2^3", 40),
        ("2^3^2", 512),
        ("-2^2", -4),
        ("3²", 9),
        ("2 × 3 ÷ 4", 1.5),
        ("√(16)", 4),
        ("√16 + 1", 5),
        ("√pi * √pi", 3.14159265359),
        ("sqrt(2)", 1.41421356237),
        ("log(8, 2)", 3),
        ("ln(e)", 1),
        ("log10(1000)", 3),
        ("sin(pi / 2)", 1),
        ("round(2.675, 1)", 2.7),
        ("max(3, 9, 4)", 9),
        ("factorial(10)", 3628800),
        ("hypot(3, 4)", 5),
        ("  12  ", 12),
    ],
)
def test_calculate(expression: str, result: float) -> None:
    assert calculate(expression) == {"expression": expression.strip(), "result": result}


def test_an_integer_beyond_a_double_comes_with_its_exact_digits() -> None:
    result = calculate("2 ** 100")
    assert result["result"] == 2.0**100 and result["exact"] == str(2**100)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("1 / 0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("0 ** -1", "division by zero"),
        ("2 +", "is not an arithmetic expression"),
        ("x + 1", "unknown name 'x'; the constants are pi, e, tau"),
        ("foo(2)", "unknown function 'foo'; available: abs, round"),
        ("sqrt(-1)", "outside a function's domain"),
        ("log(0)", "outside a function's domain"),
        ("sqrt(1, 2)", "cannot evaluate 'sqrt.1, 2.'"),
        ("(-8) ** (1 / 3)", "no real result"),
        ("10 ** 400", "too large"),
        ("9 ** 9 ** 9", "too large"),
        ("1e300 * 1e10", "too large"),
        ("exp(1000)", "too large"),
        ("factorial(167)", "factorial is limited to n <= 166"),
        ("factorial(2.5)", "factorial needs a whole number"),
        ("1,000 + 1", "numbers without thousands separators"),
        ("'a' * 3", "numbers only"),
        ("True + 1", "numbers only"),
        ("sqrt", "numbers only"),
        ("1j * 2", "numbers only"),
        ("1 < 2", "only numbers, \\+ - \\* /"),
        ("x = 1", "is not an arithmetic expression"),
        ("[1, 2]", "only numbers"),
        ("1 << 10", "only numbers"),
        ("", "the expression is empty"),
        ("1+" * 300 + "1", "longer than 500 characters"),
    ],
)
def test_errors_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        calculate(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('true')",
        "().__class__.__bases__[0].__subclasses__()",
        "(lambda: 1)()",
        "sqrt.__globals__",
        "[x for x in (1, 2)]",
        "open('/etc/passwd')",
        "eval('1')",
        "e.real",
    ],
)
def test_nothing_but_arithmetic_is_evaluated(expression: str) -> None:
    with pytest.raises(ToolError):
        calculate(expression)


def test_huge_powers_are_refused_at_once() -> None:
    started = time.perf_counter()
    for expression in ("2 ** 2 ** 2 ** 2 ** 2", "999999 ** 999999", "1.0000001 ** 1e10"):
        with pytest.raises(ToolError, match="too large"):
            calculate(expression)
    assert time.perf_counter() - started < 0.5


def test_calculate_through_the_registry() -> None:
    tools = tool_registry()
    answer = call_tool(tools, "calculate", expression="6 * 7")
    assert answer == {"expression": "6 * 7", "result": 42}
    message = "bad arguments for 'calculate': expression: 42 is not of type 'string'"
    with pytest.raises(ToolError, match=message):
        call_tool(tools, "calculate", expression=42)
    with pytest.raises(ToolError, match="'expression' is a required property"):
        call_tool(tools, "calculate")
