"""A realtime session's settings, read from either generation's session object and written
back in the generation the client speaks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from stepaudio_api.protocol.realtime import BadEvent
from stepaudio_api.serving.realtime.audio_formats import FROM_GA_TYPE, RATES, RealtimeAudioFormat
from stepaudio_api.serving.realtime.turn_detection import TurnSettings

EAGERNESS = ("low", "medium", "high", "auto")
PCM16 = RealtimeAudioFormat("pcm16")


@dataclass(slots=True)
class TurnDetectionConfig:
    settings: TurnSettings = field(default_factory=TurnSettings)
    create_response: bool = True
    interrupt_response: bool = True
    idle_timeout_ms: int | None = None

    def wire(self, beta: bool) -> dict[str, Any]:
        s = self.settings
        out: dict[str, Any] = {"type": s.kind, "create_response": self.create_response,
                               "interrupt_response": self.interrupt_response}  # fmt: skip
        if s.kind == "server_vad":
            out |= {"threshold": s.threshold, "prefix_padding_ms": s.prefix_padding_ms,
                    "silence_duration_ms": s.silence_duration_ms}  # fmt: skip
            if not beta:
                out["idle_timeout_ms"] = self.idle_timeout_ms
        else:
            out["eagerness"] = s.eagerness
        out["speculate_after_ms"] = s.speculate_after_ms  # ours
        return out


@dataclass(slots=True)
class SessionConfig:
    model: str
    type: str = "realtime"
    id: str = field(default_factory=lambda: "sess_" + secrets.token_hex(12))
    instructions: str = ""
    audio_output: bool = True
    input_format: RealtimeAudioFormat = PCM16
    output_format: RealtimeAudioFormat = PCM16
    voice: str = "alloy"
    speed: float = 1.0
    turn_detection: TurnDetectionConfig | None = field(default_factory=TurnDetectionConfig)
    transcription: dict[str, Any] | None = None
    noise_reduction: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    temperature: float = 0.8
    max_output_tokens: int | str = "inf"

    def apply(self, update: dict[str, Any], beta: bool) -> None:
        """Merge a session.update's ``session`` (either generation's shape); a bad value is
        a BadEvent naming the field, and nothing is changed."""
        staged = replace(self)
        _apply(staged, update, beta)
        for name in self.__slots__:  # type: ignore[attr-defined]
            setattr(self, name, getattr(staged, name))

    def wire_beta_transcription(self) -> dict[str, Any]:
        """The session as beta's transcription_session.updated carries it."""
        session = self.wire(beta=True)
        keep = ("id", "object", "modalities", "input_audio_format", "input_audio_transcription",
                "input_audio_noise_reduction", "turn_detection")  # fmt: skip
        return {k: session[k] for k in keep} | {"client_secret": None}

    def wire(self, beta: bool) -> dict[str, Any]:
        detection = self.turn_detection.wire(beta) if self.turn_detection else None
        if beta:
            return {
                "id": self.id, "object": "realtime.session", "model": self.model,
                "modalities": ["text", "audio"] if self.audio_output else ["text"],
                "instructions": self.instructions, "voice": self.voice,
                "input_audio_format": self.input_format.name,
                "output_audio_format": self.output_format.name,
                "input_audio_transcription": self.transcription,
                "input_audio_noise_reduction": self.noise_reduction,
                "turn_detection": detection, "tools": self.tools, "tool_choice": self.tool_choice,
                "temperature": self.temperature,
                "max_response_output_tokens": self.max_output_tokens, "speed": self.speed,
                "tracing": None,
            }  # fmt: skip
        audio_input: dict[str, Any] = {"format": self.input_format.as_ga(),
                                       "transcription": self.transcription,
                                       "noise_reduction": self.noise_reduction,
                                       "turn_detection": detection}  # fmt: skip
        session: dict[str, Any] = {"type": self.type, "object": "realtime.session", "id": self.id}
        if self.type == "transcription":
            return session | {"audio": {"input": audio_input}, "include": None}
        return session | {
            "model": self.model, "output_modalities": ["audio" if self.audio_output else "text"],
            "instructions": self.instructions, "max_output_tokens": self.max_output_tokens,
            "tools": self.tools, "tool_choice": self.tool_choice, "tracing": None,
            "truncation": "auto", "prompt": None, "include": None,
            "audio": {"input": audio_input, "output": {"format": self.output_format.as_ga(),
                                                       "voice": self.voice, "speed": self.speed}},
        }  # fmt: skip


def _bad(param: str, message: str) -> BadEvent:
    return BadEvent(message, "invalid_value", f"session.{param}")


def _format(value: Any, param: str) -> RealtimeAudioFormat:
    if isinstance(value, str) and value in RATES:
        return RealtimeAudioFormat(value)  # type: ignore[arg-type]
    if isinstance(value, dict) and value.get("type") in FROM_GA_TYPE:
        name = FROM_GA_TYPE[value["type"]]
        if name == "pcm16" and value.get("rate", 24000) != 24000:
            raise _bad(param, "audio/pcm is supported at rate 24000")
        return RealtimeAudioFormat(name)  # type: ignore[arg-type]
    raise _bad(
        param,
        f"Invalid audio format {value!r}: use pcm16, g711_ulaw or g711_alaw "
        "(GA: {'type': 'audio/pcm', 'rate': 24000}, audio/pcmu, audio/pcma)",
    )


def _turn_detection(value: Any, current: TurnDetectionConfig | None,
                    param: str) -> TurnDetectionConfig | None:  # fmt: skip
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad(param, "turn_detection must be an object or null")
    kind = value.get("type", "server_vad")
    if kind not in ("server_vad", "semantic_vad"):
        raise _bad(f"{param}.type", f"Invalid turn detection '{kind}': server_vad or semantic_vad")
    base = current if current is not None and current.settings.kind == kind else None
    config = replace(base) if base else TurnDetectionConfig(TurnSettings(kind=kind))
    settings = config.settings
    numbers = {"threshold": (0.0, 1.0), "prefix_padding_ms": (0, 10000),
               "silence_duration_ms": (0, 10000), "speculate_after_ms": (0, 10000)}  # fmt: skip
    for key, (low, high) in numbers.items():
        if key in value and value[key] is not None:
            number = value[key]
            if (
                not isinstance(number, int | float)
                or isinstance(number, bool)
                or not (low <= number <= high)
            ):
                raise _bad(f"{param}.{key}", f"{key} must be a number from {low} to {high}")
            settings = replace(settings, **{key: number if key == "threshold" else int(number)})
    if "eagerness" in value and value["eagerness"] is not None:
        if value["eagerness"] not in EAGERNESS:
            raise _bad(f"{param}.eagerness", f"eagerness must be one of {', '.join(EAGERNESS)}")
        settings = replace(settings, eagerness=value["eagerness"])
    config.settings = settings
    for key in ("create_response", "interrupt_response"):
        if key in value and value[key] is not None:
            setattr(config, key, bool(value[key]))
    if value.get("idle_timeout_ms") is not None:
        config.idle_timeout_ms = int(value["idle_timeout_ms"])
    return config


def _apply(config: SessionConfig, update: dict[str, Any], beta: bool) -> None:
    if "type" in update and update["type"] not in ("realtime", "transcription"):
        raise _bad("type", "session.type must be 'realtime' or 'transcription'")
    config.type = update.get("type", config.type)
    for key in ("instructions", "voice", "model"):
        if key in update and update[key] is not None:
            value = update[key]
            value = value.get("id") if key == "voice" and isinstance(value, dict) else value
            if not isinstance(value, str):
                raise _bad(key, f"{key} must be a string")
            setattr(config, key, value)
    if update.get("modalities") is not None:  # beta
        config.audio_output = "audio" in update["modalities"]
    if update.get("output_modalities") is not None:  # GA: one of ["audio"], ["text"]
        config.audio_output = "audio" in update["output_modalities"]
    audio = update.get("audio") or {}
    audio_in, audio_out = audio.get("input") or {}, audio.get("output") or {}
    for param, value in (("input_audio_format", update.get("input_audio_format")),
                         ("audio.input.format", audio_in.get("format"))):  # fmt: skip
        if value is not None:
            config.input_format = _format(value, param)
    for param, value in (("output_audio_format", update.get("output_audio_format")),
                         ("audio.output.format", audio_out.get("format"))):  # fmt: skip
        if value is not None:
            config.output_format = _format(value, param)
    if audio_out.get("voice") is not None:
        voice = audio_out["voice"]
        config.voice = voice.get("id", "") if isinstance(voice, dict) else str(voice)
    for source, key in ((update, "speed"), (audio_out, "speed")):
        if source.get(key) is not None:
            if not 0.25 <= float(source[key]) <= 4.0:
                raise _bad("speed", "speed must be from 0.25 to 4.0")
            config.speed = float(source[key])
    for source, param in ((update, "turn_detection"), (audio_in, "audio.input.turn_detection")):
        if "turn_detection" in source:
            detection = _turn_detection(source["turn_detection"], config.turn_detection, param)
            config.turn_detection = detection
    for source, key in ((update, "input_audio_transcription"), (audio_in, "transcription")):
        if key in source:
            config.transcription = source[key]
    for source, key in ((update, "input_audio_noise_reduction"), (audio_in, "noise_reduction")):
        if key in source:
            config.noise_reduction = source[key]
    if update.get("tools") is not None:
        config.tools = [_tool(t, i) for i, t in enumerate(update["tools"])]
    if update.get("tool_choice") is not None:
        config.tool_choice = update["tool_choice"]
    if update.get("temperature") is not None:
        config.temperature = float(update["temperature"])
    for key in ("max_response_output_tokens", "max_output_tokens"):
        if update.get(key) is not None:
            config.max_output_tokens = update[key]


def _tool(tool: Any, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise _bad(f"tools[{index}]", "each tool needs a 'name' (function tools)")
    if tool.get("type", "function") != "function":
        raise _bad(f"tools[{index}].type", "only function tools are supported")
    parameters = tool.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "name": tool["name"],
            "description": tool.get("description", ""), "parameters": parameters}  # fmt: skip
