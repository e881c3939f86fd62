"""The whole road on CPU: tiny Step-Audio folders in the released layouts, stand-in SGLang
servers generating with the reference Step-1 on them, and our server configured with the
codec and the Step-Audio engines."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepaudio_api.testing import TestServer, running_server
from stepaudio_sglang.standin import StandinOptions, StandinServer

REPOSITORY = Path(__file__).resolve().parents[3]
DATA = REPOSITORY / "tests" / "data"
TINGTING = "那等我们到海洋馆之后，给妈妈买个礼物，好不好呀？"
YUQIAN = "叫做秋风起蟹脚痒，啊，什么意思呢？就是说这秋风一起啊，螃蟹就该上市了。"


def write_models(directory: Path) -> Path:
    """Step-Audio-Tokenizer/, Step-Audio-TTS-3B/, Step-Audio-Chat/ (tiny) and Step-Audio's
    speakers/ layout with Tingting's clip (its RAP clip is the same recording here)."""
    from stepaudio_codec.tiny import write_tiny_checkpoints

    write_tiny_checkpoints(directory, seed=0)
    speakers = directory / "speakers"
    speakers.mkdir()
    shutil.copy(DATA / "zh_tingting_prompt.wav", speakers / "Tingting_prompt.wav")
    shutil.copy(DATA / "zh_tingting_prompt.wav", speakers / "TingtingRAP_prompt.wav")
    info = {"Tingting": TINGTING, "TingtingRAP": "（RAP）" + TINGTING}
    (speakers / "speakers_info.json").write_text(json.dumps(info, ensure_ascii=False))
    return directory


@dataclass
class StepAudioRoad:
    server: TestServer
    tts: StandinServer
    chat: StandinServer
    chat_incremental: StandinServer
    """A stand-in started with --incremental-streaming-output."""
    models: Path


def engines_config(models: Path, tts_url: str, chat_url: str, incremental_url: str) -> str:
    tts = models / "Step-Audio-TTS-3B"
    common = f'model_dir = "{tts}"\ncodec = "codec"\nspeakers_dir = "{models / "speakers"}"\n'
    return f"""
[engines.codec]
type = "step-audio-codec"
tokenizer_dir = "{models / "Step-Audio-Tokenizer"}"
decoder_dir = "{tts}"

[engines.tts]
type = "step-audio-tts"
base_url = "{tts_url}"
max_new_tokens = 60
{common}
[engines.tts-long]
type = "step-audio-tts"
base_url = "{tts_url}"
max_new_tokens = 3000
{common}
[engines.tts-down]
type = "step-audio-tts"
base_url = "http://127.0.0.1:9"
max_retries = 0
{common}
[engines.chat]
type = "step-audio-chat"
base_url = "{chat_url}"
model_dir = "{models / "Step-Audio-Chat"}"
codec = "codec"
max_new_tokens = 40

[engines.chat-incremental]
type = "step-audio-chat"
base_url = "{incremental_url}"
model_dir = "{models / "Step-Audio-Chat"}"
codec = "codec"
max_new_tokens = 40

[[models]]
id = "step-audio-realtime"
engine = "chat"

[[models]]
id = "step-audio-asr"
engine = "whisper-tiny-en"

[realtime]
transcription_model = "step-audio-asr"
speech_model = "step-audio-tts"

[[models]]
id = "step-audio-chat-incremental"
engine = "chat-incremental"

[[models]]
id = "step-audio-tts"
engine = "tts"
aliases = ["tts-1"]

[[models]]
id = "step-audio-tts-long"
engine = "tts-long"

[[models]]
id = "step-audio-tts-down"
engine = "tts-down"

[[models]]
id = "step-audio-chat"
engine = "chat"
aliases = ["gpt-4o-audio-preview"]
"""


@contextmanager
def step_audio_road(directory: Path) -> Iterator[StepAudioRoad]:
    models = write_models(directory / "models")
    options: dict[str, Any] = {"skip_tokenizer_init": True, "random_seed": 7}
    tts = StandinServer(models / "Step-Audio-TTS-3B",
                        StandinOptions(enable_custom_logit_processor=True, **options))  # fmt: skip
    chat = StandinServer(models / "Step-Audio-Chat", StandinOptions(**options))
    incremental = StandinServer(
        models / "Step-Audio-Chat", StandinOptions(incremental_streaming_output=True, **options)
    )
    with ExitStack() as stack:
        tts_url = stack.enter_context(tts.serving())
        chat_url = stack.enter_context(chat.serving())
        incremental_url = stack.enter_context(incremental.serving())
        config = directory / "step-audio.toml"
        config.write_text(engines_config(models, tts_url, chat_url, incremental_url))
        engines = ["codec", "tts", "tts-long", "tts-down", "chat", "chat-incremental",
                   "whisper-tiny-en"]  # fmt: skip
        server = stack.enter_context(
            running_server(directory, engines=engines, environ={"STEPAUDIO_CONFIG": str(config)})
        )
        yield StepAudioRoad(server, tts, chat, incremental, models)
