"""Every model name the installed openai SDK knows for speech, transcription, audio chat and
realtime is a name of ours, serving what the SDK means by it: a new name in a new SDK shows up
here as a failing test, not as a user's 404."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import httpx
import openai
from conftest import ServerProcess
from openai.types.audio.speech_model import SpeechModel
from openai.types.audio_model import AudioModel
from openai.types.realtime.audio_transcription import AudioTranscription
from openai.types.realtime.realtime_session_create_request import RealtimeSessionCreateRequest
from openai.types.shared.chat_model import ChatModel
from realtime_helpers import sessions_closed

AUDIO_WORDS = re.compile(r"audio|realtime|tts|transcribe|whisper")


def literals(annotation: Any) -> set[str]:
    """The string values of the Literals inside a type (through unions and aliases)."""
    if typing.get_origin(annotation) is typing.Literal:
        return {a for a in typing.get_args(annotation) if isinstance(a, str)}
    return {value for arg in typing.get_args(annotation) for value in literals(arg)}


def field_literals(model: Any, name: str) -> set[str]:
    return literals(model.model_fields[name].annotation)


def sdk_names() -> dict[str, set[str]]:
    """What each kind of model may be called, by the SDK's own types."""
    realtime = field_literals(RealtimeSessionCreateRequest, "model")
    return {
        "speech": literals(SpeechModel),
        "transcription": literals(AudioModel) | field_literals(AudioTranscription, "model"),
        "chat": {m for m in literals(ChatModel) if "audio" in m} | realtime,
    }


def every_audio_name_in_the_sdk() -> set[str]:
    """Every quoted model name anywhere in the SDK's types that is about audio."""
    types = Path(openai.__file__).parent / "types"
    quoted = re.compile(r'"((?:gpt|tts|whisper)-[a-z0-9.\-]+)"')
    found = {m for f in types.rglob("*.py") for m in quoted.findall(f.read_text("utf-8"))}
    return {name for name in found if AUDIO_WORDS.search(name)}


def test_the_sdk_types_still_hold_names() -> None:
    names = sdk_names()
    assert {"tts-1", "whisper-1", "gpt-realtime", "gpt-4o-audio-preview"} <= set().union(
        *names.values()
    ), names
    assert all(names.values()), names


def test_every_sdk_audio_model_name_is_served_for_its_kind(server: ServerProcess) -> None:
    listed = httpx.get(f"{server.base_url}/v1/models").json()["data"]
    capability = {m["id"]: m["capabilities"]["capability"] for m in listed}
    wrong = {
        name: capability.get(name, "missing")
        for kind, names in sdk_names().items()
        for name in names
        if capability.get(name) != kind
    }
    assert not wrong, f"SDK model names we do not serve as the SDK means them: {wrong}"
    unknown = every_audio_name_in_the_sdk() - set(capability)
    assert not unknown, f"audio model names in the SDK that are not ours: {sorted(unknown)}"


def test_realtime_model_names_open_conversations(chat_server: ServerProcess) -> None:
    """A realtime name opens a conversation on our realtime model; a transcription name opens
    a transcription session (what the SDK's clients ask for by default)."""
    client = openai.OpenAI(base_url=f"{chat_server.base_url}/v1", api_key="sk-test")
    for name in ("gpt-realtime-2.1", "gpt-realtime-mini-2025-12-15", "gpt-audio-1.5"):
        with client.realtime.connect(model=name) as connection:
            created = connection.recv()
            assert created.type == "session.created", created
            assert created.session.type == "realtime" and created.session.model == name
        sessions_closed(chat_server)  # within the key's four sessions
    for name in ("gpt-realtime-whisper", "gpt-live-transcribe"):
        with client.realtime.connect(model=name) as connection:
            created = connection.recv()
            assert created.type == "session.created" and created.session.type == "transcription"
        sessions_closed(chat_server)
