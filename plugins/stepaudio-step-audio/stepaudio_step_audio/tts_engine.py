"""Engine type ``step-audio-tts``: Step-Audio-TTS-3B generating audio tokens on SGLang, spoken
by Step-Audio's codec as they come.

Options: ``base_url`` (the SGLang server, or SGLang's router), ``model_dir`` (the
Step-Audio-TTS-3B folder: its ``tokenizer.model`` builds the prompts), ``codec`` (the name of
a ``step-audio-codec`` engine whose decoder folder is that same Step-Audio-TTS-3B),
``speakers_dir`` (built-in speakers in Step-Audio's ``speakers/`` layout), ``temperature``
(0.7, as released), ``max_new_tokens``, ``seed``, and the SGLang client's timeouts, retries and
breaker (``stepaudio_api.engines.sglang_generate.SGLangSettings``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from stepaudio_api.engines.base import (
    Engine,
    EngineNotConfigured,
    PcmChunk,
    SynthesisOptions,
    Synthesizer,
    VoiceInfo,
)
from stepaudio_api.engines.codec import Codec, CodecPrompt, is_audio_id
from stepaudio_api.engines.sglang_generate import SGLangGenerate
from stepaudio_api.serving.speech_style import SpeechStyle
from stepaudio_api.serving.step_audio_tags import step_audio_prefix
from stepaudio_step_audio.prompts import (
    EOT_ID,
    PromptTokenizer,
    is_music,
    leading_instruction,
    tts_prompt_ids,
)
from stepaudio_step_audio.sglang_options import (
    CLIENT_OPTIONS,
    REPETITION_PROCESSOR,
    folder_option,
    load_prompt_tokenizer,
    sglang_client,
)
from stepaudio_step_audio.speakers import (
    SpeakerClip,
    clip_for,
    load_clip,
    read_speakers,
    voice_names,
)

logger = logging.getLogger(__name__)

OPTIONS = CLIENT_OPTIONS | {"model_dir", "codec", "speakers_dir", "temperature",
                            "max_new_tokens", "seed"}  # fmt: skip


class StepAudioTTS(Synthesizer):
    type = "step-audio-tts"
    sample_rate = 22050
    native_speed = True  # 慢速1/2, 快速1/2 tags
    clones_voices = True
    emotions = ("happy", "angry", "sad", "coy")
    modes = ("speak", "sing", "rap", "hum")
    languages = ("zh", "en", "ja", "ko", "yue")
    polyglot_voices = True  # each speaker speaks every language above

    def __init__(self, name: str, options: dict[str, Any], pool: Any) -> None:
        super().__init__(name, options, pool)
        self.codec: Codec | None = None
        self.client: SGLangGenerate | None = None
        self.tokenizer: PromptTokenizer | None = None
        self.clips: dict[str, SpeakerClip] = {}
        self._prompts: dict[str, CodecPrompt] = {}
        self._prompt_lock = asyncio.Lock()

    def bind(self, engines: Mapping[str, Engine]) -> None:
        codec_name = self.options.get("codec")
        if not codec_name:
            return  # load says what is missing
        codec = engines.get(str(codec_name))
        if not isinstance(codec, Codec):
            raise ValueError(
                f"option codec = '{codec_name}' names no step-audio-codec engine "
                f"(configured: {', '.join(sorted(engines))})"
            )
        self.codec = codec

    def load(self) -> None:
        unknown = set(self.options) - OPTIONS
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
        if self.codec is None:
            raise EngineNotConfigured(
                f"set codec in [engines.{self.name}] to the step-audio-codec engine that decodes "
                "with the Step-Audio-TTS-3B folder"
            )
        model_dir = folder_option(
            self.name, self.options, "model_dir", "the Step-Audio-TTS-3B folder"
        )
        self.tokenizer = load_prompt_tokenizer(model_dir)
        speakers = self.options.get("speakers_dir")
        if speakers:
            self.clips = read_speakers(Path(str(speakers)).expanduser())
        self.voices = tuple(VoiceInfo(n, "zh") for n in voice_names(self.clips))
        self.client = sglang_client(self.name, self.options)
        self.temperature = float(self.options.get("temperature", 0.7))
        self.max_new_tokens = int(self.options.get("max_new_tokens", 4096))
        self.seed = int(self.options.get("seed", 0))

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        described["codec"] = self.options.get("codec")
        return described

    def text_with_tags(self, text: str, options: SynthesisOptions) -> str:
        style = options.style or SpeechStyle()
        return step_audio_prefix(dataclasses.replace(style, speed=options.speed)) + text

    async def prompt_for(
        self, options: SynthesisOptions, music_tag: str
    ) -> tuple[CodecPrompt, str]:
        """The voice's codec prompt and the speaker name the system prompt uses ("" for a
        cloned voice): a cloned voice's stored prompt (made at upload), else made now."""
        assert self.codec is not None
        reference = options.reference
        if reference is not None:
            stored = reference.codec_prompts.get(str(self.options["codec"]))
            if stored is not None:
                return stored, ""
            prompt = await self.codec.prepare_prompt(
                reference.samples, reference.sample_rate, reference.transcript
            )
            return prompt, ""
        if options.voice not in self.clips:
            raise EngineNotConfigured(f"voice {options.voice} has no prompt clip here")
        clip = clip_for(self.clips, options.voice, music_tag)
        async with self._prompt_lock:  # each built-in clip is prepared once
            if clip.speaker not in self._prompts:
                samples, rate = await self.pool.run(load_clip, clip.path)
                self._prompts[clip.speaker] = await self.codec.prepare_prompt(
                    samples, rate, clip.transcript
                )
        return self._prompts[clip.speaker], "" if music_tag else options.voice

    def sampling_params(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "max_new_tokens": self.max_new_tokens,
            "stop_token_ids": [EOT_ID],
            "custom_params": {"audio_only": True},
        }

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        assert self.codec is not None and self.client is not None and self.tokenizer is not None
        tagged = self.text_with_tags(text, options)
        music = is_music(tagged)
        prompt, speaker = await self.prompt_for(
            options, leading_instruction(tagged) if music else ""
        )
        input_ids = tts_prompt_ids(self.tokenizer, tagged, prompt.transcript, prompt.ids, speaker)
        generated = self._audio_ids(input_ids)
        chunks = self.codec.detokenize(
            generated, prompt, "music" if music else "speak", seed=self.seed
        )
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # type: ignore[attr-defined]
            await generated.aclose()

    async def _audio_ids(self, input_ids: list[int]) -> AsyncIterator[int]:
        assert self.client is not None
        async for _, new in self.client.stream(
            input_ids, self.sampling_params(), REPETITION_PROCESSOR
        ):
            for token_id in new:
                if is_audio_id(token_id):
                    yield token_id
                elif token_id != EOT_ID:
                    logger.warning("%s: SGLang generated a non-audio id %d", self.name, token_id)
