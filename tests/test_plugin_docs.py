"""Meta-tests, datasette's: every hook has a section with its exact signature in the plugin
author's guide, and a `test_hook_<name>` test somewhere in the suite."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from stepaudio_api import hookspecs

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "plugins" / "README.md"
HOOKS = [
    (name, function)
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(function, "stepaudio_api_spec")
]


def test_the_hooks_are_found() -> None:
    names = {name for name, _ in HOOKS}
    assert {"register_engines", "register_voices", "register_tools", "register_dialects",
            "startup", "shutdown"} <= names  # fmt: skip


@pytest.mark.parametrize(("name", "function"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hook_is_documented_with_its_exact_signature(name: str, function: object) -> None:
    arguments = ", ".join(inspect.signature(function).parameters)  # type: ignore[arg-type]
    assert f"### `{name}({arguments})`" in GUIDE.read_text(encoding="utf-8")


@pytest.mark.parametrize(("name", "function"), HOOKS, ids=[name for name, _ in HOOKS])
def test_every_hook_has_a_test(name: str, function: object) -> None:
    pattern = re.compile(rf"^\s*(async\s+)?def test_hook_{name}\b", re.MULTILINE)
    test_files = [*ROOT.glob("tests/test_*.py"), *ROOT.glob("plugins/*/tests/test_*.py")]
    assert any(pattern.search(path.read_text(encoding="utf-8")) for path in test_files)


def test_every_hook_has_a_one_line_docstring() -> None:
    for name, function in HOOKS:
        doc = (function.__doc__ or "").strip()
        assert doc and "\n" not in doc, name
