"""session.update: the client's session object, in either generation's shape, checked field by
field into a copy of the session's settings. A value that cannot be used is an error event
naming its field, and the session keeps its settings as they were."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from stepaudio_api.serving.realtime import checks
from stepaudio_api.serving.realtime.audio_formats import FROM_GA_TYPE, RATES, RealtimeAudioFormat
from stepaudio_api.serving.realtime.checks import bad
from stepaudio_api.serving.realtime.session_config import SessionConfig, TurnDetectionConfig
from stepaudio_api.serving.realtime.turn_detection import TurnSettings

GA_FIELDS = ("type", "model", "instructions", "output_modalities", "audio", "include",
             "max_output_tokens", "tools", "tool_choice", "tracing", "truncation", "prompt",
             "parallel_tool_calls", "reasoning")  # fmt: skip
BETA_FIELDS = ("modalities", "voice", "input_audio_format", "output_audio_format",
               "input_audio_transcription", "turn_detection", "input_audio_noise_reduction",
               "temperature", "max_response_output_tokens", "speed", "client_secret")  # fmt: skip
READ_ONLY = ("id", "object", "expires_at")
"""Fields a client may send back from a session object it was given; they change nothing."""
SESSION_FIELDS = (*GA_FIELDS, *BETA_FIELDS, *READ_ONLY)
TURN_FIELDS = ("type", "threshold", "prefix_padding_ms", "silence_duration_ms",
               "create_response", "interrupt_response", "idle_timeout_ms", "eagerness",
               "speculate_after_ms")  # fmt: skip
EAGERNESS = ("low", "medium", "high", "auto")
INCLUDE = ("item.input_audio_transcription.logprobs",)
NOISE_REDUCTION = ("near_field", "far_field")
REASONING_EFFORT = ("minimal", "low", "medium", "high")


class SessionChecks(Protocol):
    """What only the server can tell: whether a model or a recogniser exists (a voice, which
    may be in the store, is checked by the session after these)."""

    def check_model(self, config: SessionConfig, param: str) -> None: ...
    def check_transcription(self, transcription: dict[str, Any], param: str) -> None: ...


def updated_config(config: SessionConfig, update: Any, server: SessionChecks) -> SessionConfig:
    """A copy of ``config`` with ``update`` (a session.update's session) merged in."""
    session = checks.an_object(update, "session")
    checks.known_fields(session, SESSION_FIELDS, "session")
    staged = replace(config)
    if session.get("type") is not None:
        staged.type = checks.one_of(session["type"], ("realtime", "transcription"),
                                    "session.type")  # fmt: skip
    if session.get("model") is not None:
        staged.model = checks.a_string(session["model"], "session.model")
        server.check_model(staged, "session.model")
    if session.get("instructions") is not None:
        staged.instructions = checks.a_string(session["instructions"], "session.instructions")
    for key in ("modalities", "output_modalities"):
        if session.get(key) is not None:
            staged.audio_output = checks.modalities(session[key], f"session.{key}")
    audio = checks.an_object(session.get("audio") or {}, "session.audio")
    checks.known_fields(audio, ("input", "output"), "session.audio")
    audio_in = checks.an_object(audio.get("input") or {}, "session.audio.input")
    checks.known_fields(audio_in, ("format", "noise_reduction", "transcription",
                                   "turn_detection"), "session.audio.input")  # fmt: skip
    audio_out = checks.an_object(audio.get("output") or {}, "session.audio.output")
    checks.known_fields(audio_out, ("format", "voice", "speed"), "session.audio.output")
    for value, param in ((session.get("input_audio_format"), "session.input_audio_format"),
                         (audio_in.get("format"), "session.audio.input.format")):  # fmt: skip
        if value is not None:
            staged.input_format = audio_format(value, param)
    for value, param in ((session.get("output_audio_format"), "session.output_audio_format"),
                         (audio_out.get("format"), "session.audio.output.format")):  # fmt: skip
        if value is not None:
            staged.output_format = audio_format(value, param)
    for value, param in ((session.get("voice"), "session.voice"),
                         (audio_out.get("voice"), "session.audio.output.voice")):  # fmt: skip
        if value is not None:
            staged.voice = checks.voice_name(value, param)
    for value, param in ((session.get("speed"), "session.speed"),
                         (audio_out.get("speed"), "session.audio.output.speed")):  # fmt: skip
        if value is not None:
            staged.speed = checks.a_number(value, param, 0.25, 4.0)
    for source, key, param in (
        (session, "turn_detection", "session.turn_detection"),
        (audio_in, "turn_detection", "session.audio.input.turn_detection"),
    ):  # fmt: skip
        if key in source:
            staged.turn_detection = turn_detection(source[key], staged.turn_detection, param)
    for source, key, param in (
        (session, "input_audio_transcription", "session.input_audio_transcription"),
        (audio_in, "transcription", "session.audio.input.transcription"),
    ):  # fmt: skip
        if key in source:
            staged.transcription = transcription(source[key], param)
            if staged.transcription is not None:
                server.check_transcription(staged.transcription, param)
    for source, key, param in (
        (session, "input_audio_noise_reduction", "session.input_audio_noise_reduction"),
        (audio_in, "noise_reduction", "session.audio.input.noise_reduction"),
    ):  # fmt: skip
        if key in source:
            staged.noise_reduction = noise_reduction(source[key], param)
    _conversation_fields(staged, session)
    return staged


def voice_param(update: dict[str, Any]) -> str:
    """Where an update gives the voice: beta's ``voice`` or GA's ``audio.output.voice``."""
    return "session.voice" if "voice" in update else "session.audio.output.voice"


def _conversation_fields(staged: SessionConfig, session: dict[str, Any]) -> None:
    """What a realtime session's responses take from it: tools, limits, sampling."""
    for name, value in checks.response_fields(session, "session").items():
        setattr(staged, name, value)
    if session.get("include") is not None:
        for index, value in enumerate(checks.a_list(session["include"], "session.include")):
            checks.one_of(value, INCLUDE, f"session.include[{index}]")
    if session.get("parallel_tool_calls") is not None:
        checks.a_bool(session["parallel_tool_calls"], "session.parallel_tool_calls")
    checks.no_prompt(session.get("prompt"), "session.prompt")
    if session.get("reasoning") is not None:
        reasoning = checks.an_object(session["reasoning"], "session.reasoning")
        checks.known_fields(reasoning, ("effort",), "session.reasoning")
        if reasoning.get("effort") is not None:
            checks.one_of(reasoning["effort"], REASONING_EFFORT, "session.reasoning.effort")
    tracing = session.get("tracing")
    if tracing is not None and tracing != "auto":
        checks.an_object(tracing, "session.tracing")
    truncation = session.get("truncation")
    if truncation is not None and truncation not in ("auto", "disabled"):
        checks.one_of(checks.an_object(truncation, "session.truncation").get("type"),
                      ("retention_ratio",), "session.truncation.type")  # fmt: skip


def audio_format(value: Any, param: str) -> RealtimeAudioFormat:
    if isinstance(value, str) and value in RATES:
        return RealtimeAudioFormat(value)  # type: ignore[arg-type]
    if isinstance(value, dict) and value.get("type") in FROM_GA_TYPE:
        checks.known_fields(value, ("type", "rate"), param)
        name = FROM_GA_TYPE[value["type"]]
        if name == "pcm16" and value.get("rate", 24000) != 24000:
            raise bad(f"{param}.rate", "audio/pcm is supported at rate 24000")
        return RealtimeAudioFormat(name)  # type: ignore[arg-type]
    raise bad(
        param,
        f"Invalid audio format {value!r}: use pcm16, g711_ulaw or g711_alaw "
        "(GA: {'type': 'audio/pcm', 'rate': 24000}, audio/pcmu, audio/pcma)",
    )


def turn_detection(value: Any, current: TurnDetectionConfig | None,
                   param: str) -> TurnDetectionConfig | None:  # fmt: skip
    if value is None:
        return None
    checks.an_object(value, param)
    checks.known_fields(value, TURN_FIELDS, param)
    kind = checks.one_of(value.get("type", "server_vad"), ("server_vad", "semantic_vad"),
                         f"{param}.type")  # fmt: skip
    base = current if current is not None and current.settings.kind == kind else None
    config = replace(base) if base else TurnDetectionConfig(TurnSettings(kind=kind))  # type: ignore[arg-type]
    settings = config.settings
    if value.get("threshold") is not None:
        threshold = checks.a_number(value["threshold"], f"{param}.threshold", 0.0, 1.0)
        settings = replace(settings, threshold=threshold)
    for key in ("prefix_padding_ms", "silence_duration_ms", "speculate_after_ms"):
        if value.get(key) is not None:
            number = checks.an_integer(value[key], f"{param}.{key}", 0, 10_000)
            settings = replace(settings, **{key: number})
    if value.get("eagerness") is not None:
        eagerness = checks.one_of(value["eagerness"], EAGERNESS, f"{param}.eagerness")
        settings = replace(settings, eagerness=eagerness)
    config.settings = settings
    for key in ("create_response", "interrupt_response"):
        if value.get(key) is not None:
            setattr(config, key, checks.a_bool(value[key], f"{param}.{key}"))
    if value.get("idle_timeout_ms") is not None:
        timeout = checks.an_integer(value["idle_timeout_ms"], f"{param}.idle_timeout_ms",
                                    1, 3_600_000)  # fmt: skip
        config.idle_timeout_ms = timeout
    return config


def transcription(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    checks.an_object(value, param)
    checks.known_fields(value, ("model", "language", "prompt"), param)
    for key in ("model", "language", "prompt"):
        if value.get(key) is not None:
            checks.a_string(value[key], f"{param}.{key}")
    return {k: v for k, v in value.items() if v is not None}


def noise_reduction(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    checks.an_object(value, param)
    checks.known_fields(value, ("type",), param)
    checks.one_of(value.get("type"), NOISE_REDUCTION, f"{param}.type")
    return dict(value)
