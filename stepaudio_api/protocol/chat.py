"""POST /v1/chat/completions: the request as OpenAI's SDK sends it, checked field by field.

Fields not named here are passed to the upstream as they came (temperature, top_p, seed,
stop, response_format, ...): the brain decides what they mean.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from stepaudio_api.protocol.speech import VoiceId

UNSET = msgspec.UNSET
Unset = msgspec.UnsetType
ChatAudioFormat = Literal["wav", "aac", "mp3", "flac", "opus", "pcm16"]


class TextPart(msgspec.Struct, tag="text", tag_field="type"):
    text: str


class ImageUrlPart(msgspec.Struct, tag="image_url", tag_field="type"):
    image_url: dict[str, Any]


class InputAudio(msgspec.Struct):
    data: str
    """Base64 encoded audio."""
    format: str
    """OpenAI names wav and mp3; anything PyAV decodes is accepted (flac, ogg, m4a, webm...)."""


class InputAudioPart(msgspec.Struct, tag="input_audio", tag_field="type"):
    input_audio: InputAudio


class FilePart(msgspec.Struct, tag="file", tag_field="type"):
    file: dict[str, Any]


class RefusalPart(msgspec.Struct, tag="refusal", tag_field="type"):
    refusal: str


UserPart = TextPart | ImageUrlPart | InputAudioPart | FilePart
AssistantPart = TextPart | RefusalPart


class FunctionCall(msgspec.Struct):
    name: str
    arguments: str


class ToolCall(msgspec.Struct):
    id: str
    function: FunctionCall
    type: Literal["function"] = "function"


class AudioReference(msgspec.Struct):
    id: str
    """An earlier reply's ``message.audio.id``."""


class SystemMessage(msgspec.Struct, tag="system", tag_field="role"):
    content: str | list[TextPart]
    name: str | Unset = UNSET


class DeveloperMessage(msgspec.Struct, tag="developer", tag_field="role"):
    content: str | list[TextPart]
    name: str | Unset = UNSET


class UserMessage(msgspec.Struct, tag="user", tag_field="role"):
    content: str | list[UserPart]
    name: str | Unset = UNSET


class AssistantMessage(msgspec.Struct, tag="assistant", tag_field="role"):
    content: str | list[AssistantPart] | None = None
    audio: AudioReference | None = None
    tool_calls: list[ToolCall] | Unset = UNSET
    refusal: str | None = None
    name: str | Unset = UNSET


class ToolMessage(msgspec.Struct, tag="tool", tag_field="role"):
    content: str | list[TextPart]
    tool_call_id: str


class FunctionMessage(msgspec.Struct, tag="function", tag_field="role"):
    content: str | None
    name: str


Message = (
    SystemMessage
    | DeveloperMessage
    | UserMessage
    | AssistantMessage
    | ToolMessage
    | FunctionMessage
)


class ChatAudioOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    voice: str | VoiceId
    format: ChatAudioFormat
    # ours, as on /v1/audio/speech: how the reply sounds
    instructions: str | None = None
    emotion: str | None = None
    emotion_intensity: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None
    dialect: str | None = None
    speed: Annotated[float, msgspec.Meta(ge=0.25, le=4.0)] | None = None


class FunctionDefinition(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | Unset = UNSET
    parameters: dict[str, Any] | Unset = UNSET
    strict: bool | Unset | None = UNSET


class ToolDefinition(msgspec.Struct):
    function: FunctionDefinition
    type: Literal["function"] = "function"


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class ChatCompletionRequest(msgspec.Struct, kw_only=True):
    model: Annotated[str, msgspec.Meta(examples=["gpt-4o-audio-preview", "step-audio-chat"])]
    messages: Annotated[list[Message], msgspec.Meta(min_length=1)]
    modalities: list[Literal["text", "audio"]] | None = None
    audio: ChatAudioOptions | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    n: Annotated[int, msgspec.Meta(ge=1, le=128)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    max_completion_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    server_tools: list[str] | None = None
    """Ours: the plugin tools offered to the model on this request (a subset of the server's
    ``chat.server_tools``); [] offers none."""


OUR_FIELDS = ("modalities", "audio", "stream", "stream_options", "server_tools", "messages", "n")
"""Request fields serving rewrites or removes before the body goes upstream."""
