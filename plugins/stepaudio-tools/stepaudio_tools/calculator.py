"""The calculator tool: one arithmetic expression, evaluated by simpleeval with only numbers,
operators and math functions allowed (no names but constants, no attributes, no strings)."""

from __future__ import annotations

import ast
import math
import operator
import re
from typing import Any

import simpleeval

from stepaudio_api import ToolError

MAX_EXPRESSION_LENGTH = 500
MAX_MAGNITUDE = 1e300
"""Results (and intermediate powers) beyond this are refused: a float cannot hold them and an
exact integer that long helps no one listening."""
MAX_FACTORIAL = 166  # the largest whose factorial is under MAX_MAGNITUDE


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolError("the calculator works on numbers only")
    if isinstance(value, float) and math.isnan(value):
        raise ToolError("the result is not a number")
    if abs(value) > MAX_MAGNITUDE:  # infinity too
        raise ToolError("the result is too large (beyond 1e300)")
    return value


def _power(base: Any, exponent: Any) -> int | float:
    base, exponent = _number(base), _number(exponent)
    if base == 0 and exponent < 0:
        raise ZeroDivisionError
    if abs(base) > 1 and exponent * math.log10(abs(base)) > 300:
        raise ToolError("the result is too large (beyond 1e300)")
    result = base**exponent
    if isinstance(result, complex):
        raise ToolError("a negative number to a fractional power has no real result")
    return _number(result)


def _checked(op: Any) -> Any:
    return lambda *args: _number(op(*(_number(a) for a in args)))


def _factorial(n: Any) -> int:
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ToolError("factorial needs a whole number >= 0")
    if n > MAX_FACTORIAL:
        raise ToolError(f"factorial is limited to n <= {MAX_FACTORIAL}")
    return math.factorial(n)


def _log(x: Any, base: Any = math.e) -> float:
    return math.log(x, base)


OPERATORS = {
    ast.Add: _checked(operator.add),
    ast.Sub: _checked(operator.sub),
    ast.Mult: _checked(operator.mul),
    ast.Div: _checked(operator.truediv),
    ast.FloorDiv: _checked(operator.floordiv),
    ast.Mod: _checked(operator.mod),
    ast.Pow: _power,
    ast.USub: _checked(operator.neg),
    ast.UAdd: _checked(operator.pos),
}
FUNCTIONS = {
    name: _checked(function)
    for name, function in {
        "abs": abs, "round": round, "min": min, "max": max, "sqrt": math.sqrt,
        "cbrt": math.cbrt, "exp": math.exp, "ln": math.log, "log": _log, "log10": math.log10,
        "log2": math.log2, "floor": math.floor, "ceil": math.ceil, "sin": math.sin,
        "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
        "atan": math.atan, "atan2": math.atan2, "sinh": math.sinh, "cosh": math.cosh,
        "tanh": math.tanh, "degrees": math.degrees, "radians": math.radians,
        "hypot": math.hypot, "factorial": _factorial,
    }.items()
}  # fmt: skip
NAMES = {"pi": math.pi, "e": math.e, "tau": math.tau}
# what a typed or spoken expression may contain besides Python's own operators
# (^ becomes ** before parsing, so that it binds as a power does: 2*3^2 is 18, not 6 xor 2)
_SPELLINGS = {"^": "**", "×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "π": "pi",
              "²": "**2", "³": "**3"}  # fmt: skip
_ROOT = re.compile(r"√\s*(\d+(?:\.\d*)?|[a-z]+)?")


def _evaluator() -> simpleeval.SimpleEval:
    evaluator = simpleeval.SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names=NAMES)
    # numbers, operators, constants and calls of FUNCTIONS by name: nothing else is evaluated
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Call)
    evaluator.nodes = {k: v for k, v in evaluator.nodes.items() if k in allowed}
    return evaluator


def _tidy(value: int | float) -> int | float:
    """12 significant digits (0.1 + 0.2 is 0.3), and whole numbers as integers."""
    if isinstance(value, float):
        value = float(f"{value:.12g}")
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def calculate(expression: str) -> dict[str, Any]:
    text = expression.strip()
    if not text:
        raise ToolError("the expression is empty")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ToolError(f"the expression is longer than {MAX_EXPRESSION_LENGTH} characters")
    source = _ROOT.sub(lambda m: f"sqrt({m[1]})" if m[1] else "sqrt", text)  # √2, √(2)
    for spelling, python in _SPELLINGS.items():
        source = source.replace(spelling, python)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError:
        raise ToolError(f"'{text}' is not an arithmetic expression") from None
    if isinstance(tree.body, ast.Tuple):
        raise ToolError("write one expression, and numbers without thousands separators")
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ToolError("the calculator works on numbers only")
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            raise ToolError("the calculator works on numbers only")
    evaluator = _evaluator()
    try:
        value = evaluator.eval(source, previously_parsed=tree.body)
    except ToolError:
        raise
    except ZeroDivisionError:
        raise ToolError("division by zero") from None
    except simpleeval.NameNotDefined as exc:
        known = ", ".join(NAMES)
        raise ToolError(f"unknown name '{exc.name}'; the constants are {known}") from None
    except simpleeval.FunctionNotDefined as exc:
        known = ", ".join(FUNCTIONS)
        raise ToolError(f"unknown function '{exc.func_name}'; available: {known}") from None
    except simpleeval.InvalidExpression:
        raise ToolError(
            "only numbers, + - * / // % ** (or ^), parentheses, the constants pi, e, tau and "
            "the calculator's functions are allowed"
        ) from None
    except OverflowError:
        raise ToolError("the result is too large") from None
    except ValueError as exc:
        if "domain" in str(exc):
            raise ToolError(
                f"'{text}' is outside a function's domain (such as the square root or "
                "logarithm of a negative number)"
            ) from None
        raise ToolError(f"cannot evaluate '{text}': {exc}") from None
    except TypeError as exc:  # a function given the wrong number of arguments
        raise ToolError(f"cannot evaluate '{text}': {exc}") from None
    value = _number(value)
    result: dict[str, Any] = {"expression": text, "result": _tidy(value)}
    if isinstance(value, int) and abs(value) >= 2**53:
        # beyond what a JSON number (a double) holds exactly
        result["result"] = float(value)
        result["exact"] = str(value)
    return result


PARAMETERS = {
    "type": "object",
    "properties": {
        "expression": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_EXPRESSION_LENGTH,
            "description": "One arithmetic expression, e.g. '(3 + 4.5) * 2', '2^10', "
            "'sqrt(2) / 3', '15 % 4', 'log(8, 2)'. Operators: + - * / // % ** (^ is also a "
            "power). Functions: " + ", ".join(FUNCTIONS) + "; trigonometry in radians. "
            "Constants: pi, e, tau.",
        }
    },
    "required": ["expression"],
    "additionalProperties": False,
}
