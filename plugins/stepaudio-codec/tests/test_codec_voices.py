"""A cloned voice uploaded while a codec engine is configured keeps its cloning prompt (tokens,
mel, speaker embedding) in the store, computed once at upload."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import torch
from codec_checkpoints import JFK, write_codec_folders

from stepaudio_api.testing import running_server


def test_a_voice_upload_stores_the_codec_prompt(tmp_path: Path) -> None:
    tokenizer_dir, decoder_dir = write_codec_folders(tmp_path / "models")
    config = tmp_path / "codec.toml"
    config.write_text(
        f'[engines.codec]\ntype = "step-audio-codec"\ntokenizer_dir = "{tokenizer_dir}"\n'
        f'decoder_dir = "{decoder_dir}"\n'
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with running_server(
            tmp_path, engines=["codec", "piper-joe"], environ={"STEPAUDIO_CONFIG": str(config)}
        ) as server:
            ready = server.get("/ready").json()
            assert "codec" in str(ready)
            answer = server.post(
                "/v1/audio/voices",
                data={"name": "jfk", "transcript": "And so my fellow Americans"},
                files={"audio_sample": ("jfk.flac", JFK.read_bytes(), "audio/flac")},
            )
            assert answer.status_code == 200, answer.text
            voice_id = answer.json()["id"]
            voices = server.services.voices
            assert voices.prompts is not None
            prompt = asyncio.run(voices.prompts.get(voice_id, "codec", "x"))
    finally:
        torch.set_num_threads(threads)
    assert prompt is not None
    assert len(prompt.ids) % 5 == 0 and len(prompt.ids) > 5 * 80  # about 11 s of tokens
    # the stored clip is the prepared one (trimmed to its speech): mel and tokens cover it alike
    token_seconds, mel_seconds = len(prompt.ids) / 5 * 0.12, prompt.mel.shape[0] * 256 / 22050
    assert prompt.mel.shape[1] == 80 and abs(mel_seconds - token_seconds) < 0.25
    assert prompt.speaker.shape == (192,) and np.isfinite(prompt.speaker).all()
    assert prompt.transcript == "x"
