"""The plugin as the server loads it: its entry point and hook, real espeak-ng speech in several
languages, Mandarin through pinyin, and a clear error when the program is missing."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest

from stepaudio_api.engines import PcmChunk, SynthesisOptions, WorkerPool
from stepaudio_api.engines.base import EngineTypes
from stepaudio_api.plugins import get_plugin_manager
from stepaudio_api.settings import load_settings
from stepaudio_espeak import register_engines
from stepaudio_espeak.japanese import to_kana
from stepaudio_espeak.mandarin import to_pinyin
from stepaudio_espeak.synthesizer import EspeakNotInstalled, EspeakSynthesizer, read_wav

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="the Debian package espeak-ng is not installed"
)


@pytest.fixture
def pool() -> Iterator[WorkerPool]:
    pool = WorkerPool(2, 4)
    yield pool
    pool.shutdown()


@pytest.fixture
def engine(pool: WorkerPool) -> EspeakSynthesizer:
    engine = EspeakSynthesizer("espeak", {}, pool)
    engine.load()
    engine.warm()
    return engine


def speak(engine: EspeakSynthesizer, voice: str, text: str) -> np.ndarray:
    async def collect() -> list[PcmChunk]:
        return [c async for c in engine.synthesize(text, SynthesisOptions(voice=voice))]

    chunks = asyncio.run(collect())
    assert all(c.sample_rate == engine.sample_rate == 22050 for c in chunks)
    return np.concatenate([c.samples for c in chunks])


def test_hook_register_engines() -> None:
    registered: list[type] = []
    register_engines(registered.append)
    assert registered == [EspeakSynthesizer]
    assert EspeakSynthesizer.type == "espeak-ng"


def test_the_entry_point_loads_the_plugin_as_espeak() -> None:
    plugins = get_plugin_manager()
    types = EngineTypes()
    plugins.register_all(
        "register_engines", "engines", types.register, settings=load_settings(environ={})
    )
    assert types.by_type["espeak-ng"] is EspeakSynthesizer
    (info,) = [p for p in plugins.describe() if p.name == "espeak"]
    assert info.distribution == "stepaudio-espeak" and not info.errors
    assert info.registered["engines"] == ["espeak-ng"]


@needs_espeak
def test_voices_and_languages(engine: EspeakSynthesizer) -> None:
    voices = {v.name: v for v in engine.voices}
    assert {"yue", "cmn", "en-us", "en-gb", "ja", "ko", "fr", "de", "es", "ru"} <= set(voices)
    assert voices["yue"].language == "yue" and voices["cmn"].language == "zh"
    assert voices["en-gb"].language == "en-GB"
    assert {"yue", "zh", "en", "ja", "ko", "fr", "de"} <= set(engine.languages)
    described = engine.describe()
    assert described["capability"] == "speech" and described["sample_rate"] == 22050
    assert described["speed"]["native"] is False


@needs_espeak
@pytest.mark.parametrize(
    ("voice", "text", "seconds"),
    [
        ("yue", "今日天氣好好，我哋去飲茶。", (1.5, 5.0)),
        ("cmn", "今天天气很好，我们去公园散步吧。", (2.0, 6.0)),
        ("en-us", "The quick brown fox jumps over the lazy dog.", (1.5, 5.0)),
        ("fr", "Bonjour, comment allez-vous aujourd'hui ?", (1.0, 4.0)),
        ("de", "Guten Morgen, wie geht es Ihnen?", (1.0, 4.0)),
        ("ko", "안녕하세요, 만나서 반갑습니다.", (1.0, 5.0)),
    ],
)
def test_each_language_is_spoken(
    engine: EspeakSynthesizer, voice: str, text: str, seconds: tuple[float, float]
) -> None:
    samples = speak(engine, voice, text)
    duration = len(samples) / engine.sample_rate
    assert seconds[0] < duration < seconds[1], duration
    assert np.sqrt(np.mean(samples**2)) > 0.02  # speech, not silence
    assert np.abs(samples).max() <= 1.0
    # espeak-ng's own trailing pause (0.3 s) is cut: serving adds its own between chunks
    last_sound = np.flatnonzero(np.abs(samples) > 0.002)[-1]
    assert (len(samples) - last_sound) / engine.sample_rate < 0.05


@needs_espeak
def test_languages_sound_different(engine: EspeakSynthesizer) -> None:
    """A voice name really selects espeak-ng's language, not a default voice."""
    english = speak(engine, "en-us", "ni hao")
    mandarin = speak(engine, "cmn", "ni hao")
    assert len(english) != len(mandarin) or not np.array_equal(english, mandarin)


def test_mandarin_goes_through_pinyin_with_tone_numbers() -> None:
    assert to_pinyin("我们明天去银行办事，好不好？") == (
        "wo3 men ming2 tian1 qu4 yin2 hang2 ban4 shi4, hao3 bu4 hao3?"
    )
    # the polyphones espeak-ng misreads from Hanzi: read by phrase
    returned = to_pinyin("请把这本书还给图书馆。")
    assert returned == "qing3 ba3 zhe4 ben3 shu1 huan2 gei3 tu2 shu1 guan3."
    assert to_pinyin("睡觉") == "shui4 jiao4" and to_pinyin("觉得") == "jue2 de"
    # Latin words and digits are left for espeak-ng to read
    assert to_pinyin("2024年的Hello大会") == "2024 nian2 de Hello da4 hui4"
    assert to_pinyin("Hello, world.") == "Hello, world."


def test_japanese_kanji_are_read_as_kana_as_spoken() -> None:
    """espeak-ng's ja voice says "Chinese letter" for a kanji; MeCab's readings are kana, the
    particle は said ワ and long vowels marked."""
    assert to_kana("今日は良い天気ですね。") == "キョーワヨイテンキデスネ。"
    assert to_kana("東京駅まで電車で行きます") == "トーキョーエキマデデンシャデイキマス"
    assert to_kana("私はiPhoneを使います") == "ワタクシワiPhoneオツカイマス"  # Latin as it is
    assert to_kana("Hello, world.") == "Hello, world."


@needs_espeak
def test_japanese_is_read_not_spelled() -> None:
    """espeak-ng's phonemes: kanji switch it to English ("(en)tS'aIni:z": "Chinese letter"),
    their kana do not."""

    def phonemes(text: str) -> str:
        command = ["espeak-ng", "-q", "-x", "-v", "ja", text]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    assert "(en)" in phonemes("今日は良い天気")
    assert "(en)" not in phonemes(to_kana("今日は良い天気"))


def test_a_missing_program_names_the_debian_package(pool: WorkerPool) -> None:
    engine = EspeakSynthesizer("espeak", {"command": "espeak-ng-not-here"}, pool)
    with pytest.raises(EspeakNotInstalled) as caught:
        engine.load()
    message = str(caught.value)
    assert "Debian package espeak-ng" in message and "apt-get install espeak-ng" in message


def test_the_server_marks_the_engine_failed_and_serves_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the program the registry records why, and the other engines still load."""
    from stepaudio_api.engines.registry import EngineRegistry

    monkeypatch.setenv("PATH", "/nonexistent")
    settings = load_settings(environ={})
    registry = EngineRegistry(settings, get_plugin_manager())
    try:
        asyncio.run(registry.start(only=["espeak", "piper-joe"]))
        assert registry.state["espeak"].startswith("failed: the espeak-ng program was not found")
        assert registry.is_ready("piper-joe")
    finally:
        registry.shutdown()


def test_read_wav_takes_the_data_to_the_end() -> None:
    # espeak-ng's header on a pipe: sizes it cannot know are placeholders
    header = (
        b"RIFF\xff\xff\xff\x7fWAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00"
        + (22050).to_bytes(4, "little")
        + (44100).to_bytes(4, "little")
        + b"\x02\x00\x10\x00data\xff\xff\xff\x7f"
    )
    samples, rate = read_wav(header + np.array([0, 16384, -32768], "<i2").tobytes() + b"\x01")
    assert rate == 22050
    assert samples.tolist() == [0.0, 0.5, -1.0]
    with pytest.raises(RuntimeError, match="did not write a WAV"):
        read_wav(b"not audio")
