"""What a chat request asks of its reply, checked before any work: whether it is spoken and
how it sounds, and which of the server's tools the model is offered."""

from __future__ import annotations

from dataclasses import replace

from stepaudio_api.errors import InvalidRequest
from stepaudio_api.extensions.tools import ToolRegistry
from stepaudio_api.protocol.chat import ChatAudioOptions, ChatCompletionRequest
from stepaudio_api.serving.chat_turn import ToolPolicy
from stepaudio_api.serving.speech_style import SpeechStyle, StyleResolver
from stepaudio_api.settings import ChatSettings


def spoken_reply_options(request: ChatCompletionRequest) -> ChatAudioOptions | None:
    if "audio" not in (request.modalities or ()):
        return None
    if request.audio is None:
        raise InvalidRequest(
            "modalities includes 'audio', so 'audio' is required: {\"voice\": ..., "
            '"format": "wav" | "mp3" | "flac" | "opus" | "aac" | "pcm16"}',
            param="audio",
        )
    if request.stream and request.audio.format != "pcm16":
        raise InvalidRequest(
            f"Streamed audio is sent as pcm16, not {request.audio.format}: set audio.format "
            "to 'pcm16', or stream=false for the other formats",
            param="audio.format",
            code="unsupported_value",
        )
    return request.audio


def tool_policy(
    settings: ChatSettings, tools: ToolRegistry, request: ChatCompletionRequest, spoken: bool
) -> ToolPolicy:
    declared = {t.function.name for t in request.tools or []}
    return server_tool_policy(settings, tools, declared, spoken, request.server_tools)


def server_tool_policy(
    settings: ChatSettings, tools: ToolRegistry, declared: set[str], spoken: bool,
    requested: list[str] | None = None,
) -> ToolPolicy:  # fmt: skip
    """The plugin tools offered beside the client's ``declared`` functions (a name the client
    declares is the client's): those configured, narrowed to ``requested`` when given."""
    configured = settings.server_tools
    available = {
        name: tool for name, tool in tools.tools.items() if "*" in configured or name in configured
    }
    if requested is not None:
        unknown = [n for n in requested if n not in available]
        if unknown:
            raise InvalidRequest(
                f"Unknown server tool(s) {', '.join(unknown)}; this server offers: "
                + (", ".join(sorted(available)) or "none"),
                param="server_tools",
            )
        available = {n: available[n] for n in requested}
    offered = {n: t for n, t in available.items() if n not in declared}
    return ToolPolicy(
        server_tools=offered,
        timeout_seconds=settings.tool_timeout_seconds,
        max_rounds=settings.max_tool_rounds,
        acknowledge_after=settings.acknowledgement_after_seconds if spoken else None,
    )


def explicit_style(styles: StyleResolver, audio: ChatAudioOptions) -> SpeechStyle:
    return styles.resolve(
        instructions=audio.instructions, emotion=audio.emotion,
        emotion_intensity=audio.emotion_intensity, dialect=audio.dialect, speed=audio.speed,
    )  # fmt: skip


def reply_style(styles: StyleResolver, audio: ChatAudioOptions, user_text: str) -> SpeechStyle:
    """The audio options' style; what they leave open, the user's last words may set
    ("tell me in Cantonese with a cheerful tone"): emotion, dialect and speed."""
    style = explicit_style(styles, audio)
    return with_words_heard(styles, style, user_text, audio.emotion is None, audio.speed is None)


def with_words_heard(
    styles: StyleResolver, style: SpeechStyle, text: str, emotion_open: bool = True,
    speed_open: bool = True,
) -> SpeechStyle:  # fmt: skip
    """``style`` with the emotion, dialect and speed that words in ``text`` ask for, where
    ``style`` leaves them open; contradictions in the words are ignored (they are not a
    request's fields)."""
    if not text:
        return style
    heard = styles.parser.parse(text)
    if emotion_open and style.emotion is None and heard.emotion is not None:
        if "emotion" not in heard.problems:
            style = replace(style, emotion=heard.emotion, intensity=heard.intensity or 3)  # type: ignore[arg-type]
    if style.dialect is None and heard.dialect is not None and "dialect" not in heard.problems:
        style = replace(style, dialect=heard.dialect, dialect_tag=heard.dialect_tag)
    if speed_open and style.speed == 1.0 and heard.speed is not None:
        if "speed" not in heard.problems:
            style = replace(style, speed=heard.speed)
    return style
