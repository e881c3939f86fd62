"""Chinese through the server: Mandarin recordings recognised by the multilingual model (whisper
base), Cantonese and Mandarin spoken by espeak-ng (the stepaudio-espeak plugin), and Mandarin
speech recognised back; character error rates after removing punctuation, in simplified script
(whisper writes either script)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import jiwer
import numpy as np
import openai
import pytest
from audio_checks import decode
from conftest import ServerProcess
from voice_helpers import TINGTING, new_consent, unique
from zhconv import convert

ASR = "step-audio-asr-multilingual"
TTS = "step-audio-tts-espeak"
RECORDINGS = {
    "zh_tingting_prompt.wav": TINGTING,
    "zh_yuqian_prompt.wav": "叫做秋风起蟹脚痒，啊，什么意思呢？"
    "就是说这秋风一起啊，螃蟹就该上市了。",
}
# Measured here: tingting 0.00, yuqian 0.13 (蟹脚痒 heard as 泄脚扬, two 啊 left out).
RECORDING_MAX_CER = 0.25
CANTONESE = "今日天氣好好，我哋去飲茶。"
# Spoken a paragraph at a time: a single short sentence of espeak-ng's Mandarin is too little
# for whisper base to tell the language (13 of 20 came out zh); four sentences always do.
MANDARIN_PARAGRAPHS = [
    "我们明天去银行办事，好不好？他长得很高，头发也长了。这个问题我还没有想好。"
    "今天天气很好，我们去公园散步吧。",
    "你好，很高兴认识你。我每天早上七点起床。这家饭店的菜很好吃。请问火车站怎么走？",
    "我们下个星期一起去上海旅行。他的中文说得非常流利。周末我喜欢在家看电影。这件衣服多少钱？",
]
# Measured here: 0.23 over the 20 sentences of 5 such paragraphs (0.57 sentence by sentence
# with language=zh). Loose, so that it fails when Mandarin breaks, not when a syllable drifts:
# espeak-ng's plain `cmn` voice, or Hanzi read without pinyin by the wrong voice, gives > 1.
MANDARIN_MAX_CER = 0.6


def hanzi_only(text: str) -> str:
    return re.sub(r"[\W_]+", "", convert(text, "zh-cn"))


def character_error_rate(reference: str, hypothesis: str) -> float:
    return jiwer.cer(hanzi_only(reference), hanzi_only(hypothesis))


def test_the_multilingual_model_has_chinese_and_no_cantonese_token(server: ServerProcess) -> None:
    """Whisper base's vocabulary has 99 language tokens; "yue" came with large-v3, so
    Cantonese is recognised as zh (written Chinese) and asking for yue is refused."""
    model = httpx.get(f"{server.base_url}/v1/models/{ASR}").json()
    languages = model["capabilities"]["languages"]
    assert {"zh", "en", "ja", "ko"} <= set(languages) and "yue" not in languages
    assert len(languages) == 99 and model["capabilities"]["translation"] is True
    speech = httpx.get(f"{server.base_url}/v1/models/{TTS}").json()["capabilities"]
    assert {"yue", "cmn", "en-us"} <= set(speech["voices"])
    assert {"yue", "zh", "en"} <= set(speech["languages"])


def test_cantonese_is_refused_by_name_with_the_languages_it_can(
    client: openai.OpenAI, testdata: Path
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            model=ASR, file=(testdata / "zh_tingting_prompt.wav").open("rb"), language="yue"
        )
    assert caught.value.body["code"] == "unsupported_language"  # type: ignore[index]
    assert "zh" in caught.value.body["message"]  # type: ignore[index]


@pytest.mark.parametrize("file_name", list(RECORDINGS))
def test_mandarin_recordings_are_transcribed(
    client: openai.OpenAI, testdata: Path, file_name: str
) -> None:
    with (testdata / file_name).open("rb") as audio:
        result = client.audio.transcriptions.create(
            model=ASR, file=audio, response_format="verbose_json"
        )
    cer = character_error_rate(RECORDINGS[file_name], result.text)
    print(f"{file_name}: CER {cer:.3f} {result.text}")
    assert result.language == "chinese"
    assert cer <= RECORDING_MAX_CER, (cer, result.text)


def test_a_chinese_clip_without_a_transcript_gets_a_chinese_one(
    client: openai.OpenAI, testdata: Path
) -> None:
    """[voices] transcription_model is the multilingual model, so a cloned voice's transcript
    of a Mandarin clip is Mandarin."""
    with (testdata / "zh_tingting_prompt.wav").open("rb") as audio:
        voice = client.audio.voices.create(
            name=unique("婷婷"), audio_sample=audio, consent=new_consent(client, testdata)
        )
    extra = voice.model_extra or {}
    assert extra["transcript_source"] == "recognized"
    assert character_error_rate(TINGTING, extra["transcript"]) <= RECORDING_MAX_CER, extra


def test_cantonese_speech_from_espeak(client: openai.OpenAI) -> None:
    data = client.audio.speech.create(
        model=TTS, voice="yue", input=CANTONESE, response_format="wav"
    ).read()
    audio = decode(data, "wav")
    characters = len(hanzi_only(CANTONESE))
    # espeak-ng speaks about 0.2 s per Cantonese syllable at its default rate
    assert 0.1 < audio.duration / characters < 0.5, audio.duration
    assert np.sqrt(np.mean(audio.samples**2)) > 0.03  # speech, not silence
    assert np.mean(np.abs(audio.samples) > 0.01) > 0.5  # sound most of the time


def test_an_espeak_voice_unknown_to_the_model_lists_those_it_has(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model=TTS, voice="klingon", input="Qapla'")
    assert caught.value.body["code"] == "voice_not_found"  # type: ignore[index]
    assert "yue" in caught.value.body["message"]  # type: ignore[index]


@pytest.mark.slow
def test_mandarin_through_pinyin_is_recognised_as_mandarin(client: openai.OpenAI) -> None:
    references, hypotheses = [], []
    for paragraph in MANDARIN_PARAGRAPHS:
        data = client.audio.speech.create(
            model=TTS, voice="cmn", input=paragraph, response_format="wav"
        ).read()
        result = client.audio.transcriptions.create(
            model=ASR, file=("cmn.wav", data), response_format="verbose_json"
        )
        assert result.language == "chinese", result.text
        references.append(hanzi_only(paragraph))
        hypotheses.append(hanzi_only(result.text))
    cer = jiwer.cer(references, hypotheses)
    print(f"Mandarin through espeak-ng's pinyin voice and whisper base: CER {cer:.3f}")
    assert cer < MANDARIN_MAX_CER, list(zip(references, hypotheses, strict=True))
