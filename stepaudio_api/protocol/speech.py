"""POST /v1/audio/speech: the request and the SSE events."""

from typing import Annotated, Literal

import msgspec

ResponseFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class VoiceId(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    """A custom voice's ID."""


class SpeechRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    model: Annotated[str, msgspec.Meta(examples=["tts-1", "step-audio-tts"])]
    """One of the available TTS models: our step-audio-tts, or tts-1, tts-1-hd, gpt-4o-mini-tts."""
    input: Annotated[str, msgspec.Meta(examples=["Hello from Step-Audio!"])]
    """The text to generate audio for. The maximum length is 4096 characters."""
    voice: Annotated[str, msgspec.Meta(examples=["alloy", "joe"])] | VoiceId
    """The voice to use: a built-in voice name, an OpenAI voice name, or {"id": custom voice}."""
    instructions: str | None = None
    """Control the voice of your generated audio with additional instructions."""
    response_format: ResponseFormat = "mp3"
    """The format to return audio in."""
    speed: Annotated[float, msgspec.Meta(ge=0.25, le=4.0)] | msgspec.UnsetType = msgspec.UNSET
    """The speed of the generated audio, 0.25 to 4.0 (default 1.0; unset, speed words in
    ``instructions`` may set it)."""
    stream_format: Literal["sse", "audio"] = "audio"
    """The format to stream the audio in: raw audio bytes, or server-sent events."""
    emotion: str | None = None
    """Ours: happy, angry, sad, coy or neutral (or 高兴, 生气, 悲伤, 撒娇)."""
    emotion_intensity: Annotated[int, msgspec.Meta(ge=1, le=5)] | None = None
    """Ours: how strongly, 1 to 5 (default 3 when an emotion is given)."""
    dialect: str | None = None
    """Ours: a language or dialect by name or alias: cantonese, 粤语, sichuanese, en, ..."""
    style: str | None = None
    """Ours: speak, sing, rap or hum (default speak)."""
    sample_rate: int | None = None
    """Ours: the output sample rate (default 24000, as OpenAI's)."""


class SpeechUsage(msgspec.Struct):
    input_tokens: int
    output_tokens: int
    total_tokens: int
    # ours: what speech is metered by
    input_characters: int = 0
    output_audio_seconds: float = 0.0


class SpeechAudioDelta(msgspec.Struct, tag="speech.audio.delta", tag_field="type"):
    audio: str


class SpokenVoice(msgspec.Struct, frozen=True):
    """Ours: a voice that spoke (some of) the input."""

    model: str
    voice: str
    language: str = ""
    """BCP 47; empty for a cloned voice."""


class SpeechAudioDone(msgspec.Struct, tag="speech.audio.done", tag_field="type"):
    usage: SpeechUsage
    voices: list[SpokenVoice] = msgspec.field(default_factory=list)
    """Ours: the voices that spoke, in order of first use: the requested one, or the voice of
    another language that the server chose for text the requested one cannot read (the same
    as the X-Stepaudio-Voice header of the response)."""
