"""The realtime pieces on their own: G.711, turn detection, conversation items, session
settings in both generations."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from stepaudio_api.audio.g711 import decode_alaw, decode_ulaw, encode_alaw, encode_ulaw
from stepaudio_api.protocol.realtime import BadEvent, parse_client_event, wire_name
from stepaudio_api.serving.realtime.conversation import Conversation, Item, Part, item_from_client
from stepaudio_api.serving.realtime.response_options import response_options
from stepaudio_api.serving.realtime.session_config import SessionConfig
from stepaudio_api.serving.realtime.session_update import updated_config
from stepaudio_api.serving.realtime.turn_detection import (
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    TurnSettings,
    sounds_finished,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the reference G.711 (Sun's g711.c), in the standard library until 3.13


def test_g711_matches_the_reference_on_every_sample() -> None:
    every = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
    assert encode_ulaw(every) == audioop.lin2ulaw(every.tobytes(), 2)
    assert encode_alaw(every) == audioop.lin2alaw(every.tobytes(), 2)
    codes = bytes(range(256))
    assert decode_ulaw(codes).tobytes() == audioop.ulaw2lin(codes, 2)
    assert decode_alaw(codes).tobytes() == audioop.alaw2lin(codes, 2)


def _run(detector: TurnDetector, probabilities: list[float]) -> list[object]:
    return [event for p in probabilities for event in detector.window(p)]


def test_turn_detection_offsets_pause_resume_and_stop() -> None:
    detector = TurnDetector(TurnSettings(prefix_padding_ms=300, silence_duration_ms=500,
                                         speculate_after_ms=160))  # fmt: skip
    speech, quiet = [0.9] * 30, [0.05]
    events = _run(detector, [0.05] * 20 + speech + quiet * 8 + speech + quiet * 20)
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechPaused, SpeechResumed, SpeechPaused, SpeechStopped]
    started = events[0]
    assert isinstance(started, SpeechStarted) and started.audio_start_ms == 20 * 32 - 300
    stopped = events[-1]
    assert isinstance(stopped, SpeechStopped)
    speech_end = (20 + 30 + 8 + 30) * 32
    assert stopped.speech_end_ms == speech_end
    assert speech_end + 500 <= stopped.audio_end_ms <= speech_end + 500 + 32


def test_the_turn_ends_where_the_sound_does_not_where_silero_fades() -> None:
    """Silero stays above the threshold for a few windows after the last sound: the silence
    that ends the turn is counted from the last window that is also loud (5% of the turn's
    loudest), so the turn ends that much sooner; a quiet pause is no resumption."""
    detector = TurnDetector(TurnSettings(silence_duration_ms=500, speculate_after_ms=160))
    speech = [(0.95, 0.1)] * 20
    hangover = [(0.9, 0.002), (0.8, 0.001), (0.7, 0.0005)]  # Silero fades, the sound is gone
    quiet = [(0.05, 0.0)] * 25
    events = [e for p, rms in [(0.05, 0.0)] * 5 + speech + hangover + quiet
              for e in detector.window(p, rms)]  # fmt: skip
    assert [type(e) for e in events] == [SpeechStarted, SpeechPaused, SpeechStopped]
    stopped = events[-1]
    assert isinstance(stopped, SpeechStopped) and stopped.speech_end_ms == (5 + 20) * 32
    assert stopped.audio_end_ms <= (5 + 20) * 32 + 500 + 32


def test_one_loud_window_is_not_speech() -> None:
    assert _run(TurnDetector(TurnSettings()), [0.05, 0.95, 0.05, 0.05]) == []


def test_semantic_vad_waits_longer_after_unfinished_words() -> None:
    settings = TurnSettings(kind="semantic_vad", eagerness="medium", speculate_after_ms=0)
    assert settings.silence_ms(True) == 500 and settings.silence_ms(False) == 1500
    assert sounds_finished("Tell me a joke about cats.")
    assert not sounds_finished("I want to go to the park and.")
    assert not sounds_finished("Well, um")
    assert not sounds_finished("")


def test_truncate_keeps_the_words_heard() -> None:
    conversation = Conversation()
    part = Part("output_audio", transcript="The first sentence. The second one is longer.",
                marks=[(1000, 20), (3000, 46)])  # fmt: skip
    item = Item("message", role="assistant", content=[part])
    conversation.add(item)
    conversation.truncate(item.id, 0, 2000)
    assert part.transcript == "The first sentence. The second"
    with pytest.raises(BadEvent) as caught:
        conversation.truncate(item.id, 0, 9000)
    assert caught.value.param == "audio_end_ms"


def test_items_from_either_generation_become_chat_messages() -> None:
    conversation = Conversation()
    for raw in (
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Hello"}]},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "42"},
    ):
        conversation.add(item_from_client(raw))
    assert conversation.chat_messages("Be kind.") == [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]  # fmt: skip
    assert conversation.items[1].wire(beta=True)["content"][0]["type"] == "text"
    assert conversation.items[1].wire(beta=False)["content"][0]["type"] == "output_text"
    with pytest.raises(BadEvent) as caught:
        item_from_client({"type": "message", "role": "robot", "content": []})
    assert caught.value.param == "item.role"


class AcceptsEverything:
    """The server's checks (models, voices, recognisers) passing: these tests are of parsing."""

    def check_model(self, config: SessionConfig, param: str) -> None:
        pass

    def check_transcription(self, transcription: dict[str, Any], param: str) -> None:
        pass


def test_session_settings_in_both_generations() -> None:
    config, server = SessionConfig(model="gpt-realtime"), AcceptsEverything()
    config = updated_config(config, {"input_audio_format": "g711_ulaw", "voice": "alloy",
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 700}},
                            server)  # fmt: skip
    ga = config.wire(beta=False)
    assert ga["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert ga["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700
    config = updated_config(config, {"type": "realtime", "output_modalities": ["text"],
                            "audio": {"output": {"format": {"type": "audio/pcma"}}}},
                            server)  # fmt: skip
    beta = config.wire(beta=True)
    assert beta["modalities"] == ["text"] and beta["output_audio_format"] == "g711_alaw"
    with pytest.raises(BadEvent) as caught:
        updated_config(config, {"voice": "alloy", "input_audio_format": "mp3"}, server)
    assert caught.value.param == "session.input_audio_format"
    assert config.input_format.name == "g711_ulaw"  # a refused update changes nothing


BAD_SESSIONS: list[tuple[dict[str, Any], str, str]] = [
    # (session, the param named, the code)
    ({"output_modalities": ["smell"]}, "session.output_modalities[0]", "invalid_value"),
    ({"output_modalities": []}, "session.output_modalities", "invalid_value"),
    ({"modalities": "audio"}, "session.modalities", "invalid_type"),
    ({"max_output_tokens": -5}, "session.max_output_tokens", "invalid_value"),
    ({"max_output_tokens": 10**20}, "session.max_output_tokens", "invalid_value"),
    ({"max_response_output_tokens": "lots"}, "session.max_response_output_tokens",
     "invalid_value"),
    ({"audio": {"output": {"speed": "fast"}}}, "session.audio.output.speed", "invalid_type"),
    ({"audio": {"output": {"speed": 9}}}, "session.audio.output.speed", "invalid_value"),
    ({"speed": float("nan")}, "session.speed", "invalid_type"),
    ({"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
     "session.audio.input.format.rate", "invalid_value"),
    ({"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 2}}}},
     "session.audio.input.turn_detection.threshold", "invalid_value"),
    ({"turn_detection": {"type": "server_vad", "idle_timeout_ms": "soon"}},
     "session.turn_detection.idle_timeout_ms", "invalid_type"),
    ({"turn_detection": {"type": "server_vad", "create_response": "yes"}},
     "session.turn_detection.create_response", "invalid_type"),
    ({"turn_detection": {"type": "server_vad", "bogus": 1}}, "session.turn_detection.bogus",
     "unknown_parameter"),
    ({"turn_detection": {"type": "psychic"}}, "session.turn_detection.type", "invalid_value"),
    ({"temperature": "warm"}, "session.temperature", "invalid_type"),
    ({"tools": [{"type": "mcp", "name": "x"}]}, "session.tools[0].type", "invalid_value"),
    ({"tools": [{"type": "function"}]}, "session.tools[0].name", "invalid_type"),
    ({"tool_choice": "sometimes"}, "session.tool_choice", "invalid_value"),
    ({"input_audio_transcription": {"model": 7}}, "session.input_audio_transcription.model",
     "invalid_type"),
    ({"audio": {"input": {"noise_reduction": {"type": "loud"}}}},
     "session.audio.input.noise_reduction.type", "invalid_value"),
    ({"include": ["everything"]}, "session.include[0]", "invalid_value"),
    ({"prompt": {"id": "pmpt_1"}}, "session.prompt", "unsupported_value"),
    ({"voice": {"name": "x"}}, "session.voice.name", "unknown_parameter"),
    ({"instructions": 5}, "session.instructions", "invalid_type"),
    ({"colour": "blue"}, "session.colour", "unknown_parameter"),
    ({"type": "karaoke"}, "session.type", "invalid_value"),
]  # fmt: skip


@pytest.mark.parametrize(("session", "param", "code"), BAD_SESSIONS)
def test_a_bad_session_value_names_its_field(session: dict[str, Any], param: str,
                                             code: str) -> None:  # fmt: skip
    config = SessionConfig(model="gpt-realtime")
    before = config.wire(beta=False)
    with pytest.raises(BadEvent) as caught:
        updated_config(config, session, AcceptsEverything())
    assert (caught.value.param, caught.value.code) == (param, code), caught.value.message
    assert param.split(".")[-1].split("[")[0] in caught.value.message
    assert config.wire(beta=False) == before


BAD_RESPONSES: list[tuple[dict[str, Any], str]] = [
    ({"output_modalities": ["smell"]}, "response.output_modalities[0]"),
    ({"max_output_tokens": 0}, "response.max_output_tokens"),
    ({"conversation": "maybe"}, "response.conversation"),
    ({"metadata": {"k": 1}}, "response.metadata.k"),
    ({"metadata": {str(i): "v" for i in range(17)}}, "response.metadata"),
    ({"input": [{"type": "item_reference", "id": "item_nope"}]}, "item_id"),
    ({"input": [{"type": "message", "role": "robot", "content": []}]}, "response.input[0].role"),
    ({"audio": {"output": {"format": "mp3"}}}, "response.audio.output.format"),
    ({"voice": 3}, "response.voice"),
    ({"tools": "all"}, "response.tools"),
    ({"stream": True}, "response.stream"),
]  # fmt: skip


@pytest.mark.parametrize(("response", "param"), BAD_RESPONSES)
def test_a_bad_response_override_names_its_field(response: dict[str, Any], param: str) -> None:
    with pytest.raises(BadEvent) as caught:
        response_options(response, Conversation())
    assert caught.value.param == param, caught.value.message


def test_response_overrides_in_both_generations() -> None:
    conversation = Conversation()
    asked = Item("message", role="user", content=[Part("input_text", text="Hi")])
    conversation.add(asked)
    options = response_options({"modalities": ["text"], "voice": "ash",
                                "output_audio_format": "g711_ulaw",
                                "max_response_output_tokens": "inf",
                                "input": [{"type": "item_reference", "id": asked.id}]},
                               conversation)  # fmt: skip
    assert (options.audio, options.voice, options.voice_param) == (False, "ash", "response.voice")
    assert options.output_format is not None and options.output_format.name == "g711_ulaw"
    assert options.max_output_tokens == "inf" and options.input == [asked]
    options = response_options({"output_modalities": ["audio"], "conversation": "none",
                                "audio": {"output": {"voice": {"id": "voice_1"}}},
                                "metadata": {"topic": "weather"}}, conversation)  # fmt: skip
    assert options.audio and not options.in_conversation and options.voice == "voice_1"
    assert options.metadata == {"topic": "weather"}


def test_event_names_and_parsing() -> None:
    assert wire_name("response.output_audio.delta", beta=True) == "response.audio.delta"
    assert wire_name("conversation.item.done", beta=True) is None
    assert wire_name("response.output_audio.delta", beta=False) == "response.output_audio.delta"
    with pytest.raises(BadEvent) as caught:
        parse_client_event(b'{"type": "input_audio_buffer.append"}')
    assert caught.value.code == "invalid_value"
