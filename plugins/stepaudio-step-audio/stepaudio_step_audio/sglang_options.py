"""What the Step-Audio engines share: their SGLang client from options, the LLM tokenizer
from a released folder, and the logit processor string SGLang loads."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from stepaudio_api.engines.base import EngineNotConfigured
from stepaudio_api.engines.sglang_generate import SGLangGenerate, SGLangSettings
from stepaudio_step_audio.prompts import PromptTokenizer

CLIENT_OPTIONS = {f.name for f in dataclasses.fields(SGLangSettings)} - {"name"}

# SGLang loads a request's processor as dill.loads(bytes.fromhex(...)) and instantiates it; a
# pickled reference to stepaudio_sglang.logit_processor.Step1RepetitionBan (the package is
# installed where SGLang runs) needs neither SGLang nor the package here.
REPETITION_PROCESSOR = json.dumps(
    {"callable": (b"\x80\x02cstepaudio_sglang.logit_processor\nStep1RepetitionBan\nq\x00.").hex()}
)


def sglang_client(engine: str, options: dict[str, Any]) -> SGLangGenerate:
    if not options.get("base_url"):
        raise EngineNotConfigured(
            f"set base_url in [engines.{engine}] to the SGLang server that runs the model "
            "(started with python -m stepaudio_sglang.launch_server, e.g. http://gpu-1:30000)"
        )
    picked = {k: v for k, v in options.items() if k in CLIENT_OPTIONS}
    return SGLangGenerate(SGLangSettings(**picked, name=f"SGLang server of '{engine}'"))


def folder_option(engine: str, options: dict[str, Any], key: str, what: str) -> Path:
    value = options.get(key)
    if not value:
        raise EngineNotConfigured(f"set {key} in [engines.{engine}] to {what}")
    path = Path(str(value)).expanduser()
    if not path.is_dir():
        raise EngineNotConfigured(f"{key} {path} is not a folder ({what})")
    return path


def load_prompt_tokenizer(folder: Path) -> PromptTokenizer:
    """The folder's ``tokenizer.model``, checked to have the ids Step-Audio hard-wires."""
    import sentencepiece

    from stepaudio_codec.step1_folder import check_step1_tokenizer

    path = folder / "tokenizer.model"
    check_step1_tokenizer(path, vocab_size=74752)
    processor = sentencepiece.SentencePieceProcessor(model_file=str(path))
    return PromptTokenizer(lambda text: list(processor.encode(text)), processor.decode)
