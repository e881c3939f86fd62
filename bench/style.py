"""Benchmark: what reading a speech request's style costs, per request.

Run: python bench/style.py [--repeat N]
Prints the median microseconds of instruction parsing + style resolution over the phrasings of
tests/test_speech_style.py, of a request with only explicit fields, and of one with neither;
the Step-Audio tag prefix is built each time too, as the GPU engine would.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_speech_style import INSTRUCTIONS  # noqa: E402

from stepaudio_api.extensions.dialects import DialectRegistry  # noqa: E402
from stepaudio_api.plugins import get_plugin_manager  # noqa: E402
from stepaudio_api.serving.speech_style import StyleResolver  # noqa: E402
from stepaudio_api.serving.step_audio_tags import step_audio_prefix  # noqa: E402
from stepaudio_api.settings import load_settings  # noqa: E402

EXPLICIT = {"emotion": "happy", "emotion_intensity": 4, "dialect": "粤语", "style": "speak",
            "speed": 1.2}  # fmt: skip


def median_us(resolver: StyleResolver, requests: list[dict[str, Any]], repeat: int) -> float:
    timings: list[float] = []
    for _ in range(repeat):
        for fields in requests:
            started = time.perf_counter()
            step_audio_prefix(resolver.resolve(**fields))
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    registry = DialectRegistry()
    get_plugin_manager().register_all(
        "register_dialects", "dialects", registry.register, settings=load_settings(environ={})
    )
    resolver = StyleResolver(registry)
    resolver.resolve(instructions="warm up")  # the parser is compiled once, at the first use
    phrasings = [{"instructions": text} for text, _ in INSTRUCTIONS]
    rows = [
        (f"instructions ({len(phrasings)} phrasings, EN + ZH)", phrasings),
        ("explicit fields only", [EXPLICIT]),
        ("no style at all", [{}]),
    ]
    print(f"dialects registered: {', '.join(sorted(registry.dialects)) or 'none'}")
    print(f"{'request':44} median per request")
    for label, requests in rows:
        print(f"{label:44} {median_us(resolver, requests, args.repeat):8.1f} us")


if __name__ == "__main__":
    main()
