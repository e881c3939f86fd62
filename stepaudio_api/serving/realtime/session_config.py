"""A realtime session's settings, read from either generation's session object and written
back in the generation the client speaks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from stepaudio_api.serving.realtime.audio_formats import RealtimeAudioFormat
from stepaudio_api.serving.realtime.turn_detection import TurnSettings

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

    def adopt(self, other: SessionConfig) -> None:
        """Take every setting of ``other`` (a checked update of this one)."""
        for name in self.__slots__:  # type: ignore[attr-defined]
            setattr(self, name, getattr(other, name))

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
