"""The realtime pieces on their own: G.711, turn detection, conversation items, session
settings in both generations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from stepaudio_api.audio.g711 import decode_alaw, decode_ulaw, encode_alaw, encode_ulaw
from stepaudio_api.protocol.realtime import BadEvent, parse_client_event, wire_name
from stepaudio_api.serving.realtime.conversation import Conversation, Item, Part, item_from_client
from stepaudio_api.serving.realtime.session_config import SessionConfig
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


def test_session_settings_in_both_generations() -> None:
    config = SessionConfig(model="gpt-realtime")
    config.apply({"input_audio_format": "g711_ulaw", "voice": "alloy",
                  "turn_detection": {"type": "server_vad", "silence_duration_ms": 700}},
                 beta=True)  # fmt: skip
    ga = config.wire(beta=False)
    assert ga["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert ga["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700
    config.apply({"type": "realtime", "output_modalities": ["text"],
                  "audio": {"output": {"format": {"type": "audio/pcma"}}}}, beta=False)  # fmt: skip
    beta = config.wire(beta=True)
    assert beta["modalities"] == ["text"] and beta["output_audio_format"] == "g711_alaw"
    with pytest.raises(BadEvent) as caught:
        config.apply({"voice": "alloy", "input_audio_format": "mp3"}, beta=True)
    assert caught.value.param == "session.input_audio_format"
    assert config.input_format.name == "g711_ulaw"  # a refused update changes nothing


def test_event_names_and_parsing() -> None:
    assert wire_name("response.output_audio.delta", beta=True) == "response.audio.delta"
    assert wire_name("conversation.item.done", beta=True) is None
    assert wire_name("response.output_audio.delta", beta=False) == "response.output_audio.delta"
    with pytest.raises(BadEvent) as caught:
        parse_client_event(b'{"type": "input_audio_buffer.append"}')
    assert caught.value.code == "invalid_value"
