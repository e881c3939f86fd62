"""Step-Audio-TTS-3B's whole road on CPU through the openai SDK: our server builds the prompt,
the stand-in SGLang generates with the reference Step-1 on a tiny checkpoint, the codec
decodes the tokens as they come."""

from __future__ import annotations

import io
import time
import wave
from collections.abc import Iterator

import openai
import pytest
from step_audio_setup import DATA, TINGTING, YUQIAN, StepAudioRoad, step_audio_road

from stepaudio_api.audio.decode import decode_audio
from stepaudio_api.engines.codec import is_audio_id
from stepaudio_sglang.logit_processor import processor_string
from stepaudio_step_audio.prompts import (
    SYSTEM_HUM,
    SYSTEM_RAP,
    SYSTEM_WITHOUT_SPEAKER,
    tts_prompt_ids,
)


@pytest.fixture(scope="module")
def road(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepAudioRoad]:
    with step_audio_road(tmp_path_factory.mktemp("road")) as running:
        yield running


def sdk(road: StepAudioRoad) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{road.server.base_url}/v1", api_key="sk-test", max_retries=0)


def wav_seconds(data: bytes) -> tuple[float, int]:
    """Seconds decoded (a streamed wav's header leaves its length open) and the header's rate."""
    with wave.open(io.BytesIO(data)) as audio:
        rate = audio.getframerate()
    return decode_audio(data, rate).duration, rate


def tts_engine(road: StepAudioRoad, name: str = "tts"):  # type: ignore[no-untyped-def]
    return road.server.services.engines.engines[name]


def test_speech_length_matches_the_generated_codes(road: StepAudioRoad) -> None:
    audio = sdk(road).audio.speech.create(
        model="tts-1", voice="Tingting", input="你好", response_format="wav"
    )
    seconds, rate = wav_seconds(audio.read())
    generated = [i for i in road.tts.answers[-1]["output_ids"] if is_audio_id(i)]
    assert len(generated) > 20 and rate == 24000
    # 5 interleaved ids are 120 ms of audio; within one decoder hop of 22050 / 256 Hz frames
    assert abs(seconds - len(generated) / 5 * 0.12) < 0.05


def test_the_prompt_is_tts_3b_s_with_tags(road: StepAudioRoad) -> None:
    sdk(road).audio.speech.create(
        model="step-audio-tts", voice="Tingting", input="今天天气很好",
        response_format="wav", extra_body={"emotion": "happy", "dialect": "cantonese"},
    )  # fmt: skip
    sent = road.tts.received[-1]
    engine = tts_engine(road)
    prompt = engine._prompts["Tingting"]
    assert prompt.transcript == TINGTING and len(prompt.ids) % 5 == 0
    assert all(is_audio_id(i) for i in prompt.ids) and abs(len(prompt.ids) / 41.67 - 4.4) < 0.4
    expected = tts_prompt_ids(
        engine.tokenizer, "(高兴1)(粤语)今天天气很好", TINGTING, prompt.ids, "Tingting"
    )
    assert sent["input_ids"] == expected
    params = sent["sampling_params"]
    assert params["temperature"] == 0.7 and params["stop_token_ids"] == [3]
    assert params["custom_params"] == {"audio_only": True}
    assert sent["custom_logit_processor"] == processor_string() and sent["stream"] is True


def test_rap_uses_the_music_prompt_and_decoder(road: StepAudioRoad) -> None:
    audio = sdk(road).audio.speech.create(
        model="step-audio-tts", voice="Tingting", input="yo yo check it",
        response_format="wav", extra_body={"style": "rap"},
    )  # fmt: skip
    seconds, _ = wav_seconds(audio.read())
    sent = road.tts.received[-1]["input_ids"]
    engine = tts_engine(road)
    rap = engine._prompts["TingtingRAP"]
    expected = tts_prompt_ids(engine.tokenizer, "(RAP)yo yo check it", rap.transcript, rap.ids)
    assert sent == expected and seconds > 0.5
    system = engine.tokenizer.encode("system\n" + SYSTEM_RAP)
    assert sent[2 : 2 + len(system)] == system


def test_a_cloned_voice_speaks_from_its_stored_prompt(road: StepAudioRoad) -> None:
    answer = road.server.post(
        "/v1/audio/voices",
        data={"name": "yuqian", "transcript": YUQIAN},
        files={"audio_sample": ("yuqian.wav", (DATA / "zh_yuqian_prompt.wav").read_bytes())},
    )
    assert answer.status_code == 200, answer.text
    voice_id = answer.json()["id"]
    import asyncio

    stored = asyncio.run(road.server.services.voices.prompts.get(voice_id, "codec", YUQIAN))
    assert stored is not None and len(stored.ids) > 5 * 40
    audio = sdk(road).audio.speech.create(
        model="step-audio-tts", voice="yuqian", input="好", response_format="wav"
    )
    assert wav_seconds(audio.read())[0] > 0.5
    sent = road.tts.received[-1]["input_ids"]
    engine = tts_engine(road)
    assert sent == tts_prompt_ids(engine.tokenizer, "好", YUQIAN, stored.ids)
    system = engine.tokenizer.encode("system\n" + SYSTEM_WITHOUT_SPEAKER)
    assert sent[2 : 2 + len(system)] == system


def test_first_audio_long_before_the_end_and_a_client_that_leaves_aborts(
    road: StepAudioRoad,
) -> None:
    client = sdk(road)
    started = time.monotonic()
    with client.audio.speech.with_streaming_response.create(
        model="step-audio-tts-long", voice="Tingting", input="一个很长的句子",
        response_format="pcm",
    ) as response:  # fmt: skip
        first = next(response.iter_bytes(4096))
        first_at = time.monotonic()
        rid = road.tts.received[-1]["rid"]
    left_at = time.monotonic()
    assert len(first) > 0
    deadline = left_at + 1.0
    while time.monotonic() < deadline and not any(r == rid for r, _ in road.tts.aborts):
        time.sleep(0.02)
    aborted = [t for r, t in road.tts.aborts if r == rid]
    assert aborted and aborted[0] - left_at < 1.0
    # 3000 tokens were asked for; the first audio came after the decoder's first hop
    assert first_at - started < 30


def test_sglang_down_is_a_503_naming_it(road: StepAudioRoad) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(road).audio.speech.create(model="step-audio-tts-down", voice="Tingting", input="hi")
    assert caught.value.status_code == 503
    assert "SGLang server of 'tts-down'" in caught.value.message
    assert "127.0.0.1:9" in caught.value.message


def test_unknown_voice_names_the_speakers(road: StepAudioRoad) -> None:
    with pytest.raises(openai.BadRequestError, match="Tingting"):
        sdk(road).audio.speech.create(model="step-audio-tts", voice="nobody", input="hi")


def test_humming_uses_its_own_prompt_and_the_music_decoder(road: StepAudioRoad) -> None:
    audio = sdk(road).audio.speech.create(
        model="step-audio-tts", voice="Tingting", input="啦啦啦",
        response_format="wav", extra_body={"style": "hum"},
    )  # fmt: skip
    assert wav_seconds(audio.read())[0] > 0.5
    engine = tts_engine(road)
    tingting = engine._prompts["Tingting"]  # no 哼唱 clip here: the speaker's own
    sent = road.tts.received[-1]["input_ids"]
    assert sent == tts_prompt_ids(engine.tokenizer, "(哼唱)啦啦啦", TINGTING, tingting.ids)
    system = engine.tokenizer.encode("system\n" + SYSTEM_HUM)
    assert sent[2 : 2 + len(system)] == system


def test_a_preview_is_scored_against_the_reference_clip(road: StepAudioRoad) -> None:
    import asyncio

    import httpx

    from stepaudio_api.speakers.similarity import voice_similarity

    created = asyncio.run(road.server.services.keys.create("previewer", scope="admin"))
    headers = {"Authorization": f"Bearer {created.secret}"}
    with httpx.Client(base_url=road.server.base_url, headers=headers, timeout=120) as admin:
        with (DATA / "zh_yuqian_prompt.wav").open("rb") as sample:
            answer = admin.post("/admin/voices", data={"name": "scored", "transcript": YUQIAN},
                                files={"audio_sample": ("yuqian.wav", sample)})  # fmt: skip
        assert answer.status_code == 201, answer.text
        path = f"/admin/voices/{answer.json()['id']}"
        assert "preview_similarity" not in admin.get(path).json()  # none made yet

        before = int(time.time())
        preview = admin.post(f"{path}/preview", json={"input": "好", "response_format": "flac"})
        assert preview.status_code == 200, preview.text
        voice = admin.get(path).json()  # stored before the preview's last bytes left
        reference = decode_audio(admin.get(f"{path}/audio").content, 24000)
        spoken = decode_audio(preview.content, 24000)
        expected = voice_similarity((reference.samples, 24000), (spoken.samples, 24000))
        assert abs(voice["preview_similarity"] - expected) < 0.01, (voice, expected)
        assert voice["preview_model"] == "step-audio-tts"
        assert before <= voice["previewed_at"] <= time.time() + 1

        # a preview the admin leaves after its first bytes is not scored
        long = {"input": "一个很长的句子", "model": "step-audio-tts-long", "response_format": "pcm"}
        with admin.stream("POST", f"{path}/preview", json=long) as cut:
            assert cut.status_code == 200
            next(cut.iter_bytes(1024))
        time.sleep(0.5)
        assert admin.get(path).json()["previewed_at"] == voice["previewed_at"]
