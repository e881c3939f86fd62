"""The step-audio-codec engine on tiny checkpoints: tokenize (whole and streaming), detokenize
(whole and streaming, with and without a voice prompt), and what a broken folder does."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from codec_checkpoints import jfk, write_codec_folders

from stepaudio_api.engines.base import EngineNotConfigured
from stepaudio_api.engines.codec import (
    AUDIO_TOKEN_BASE,
    SEMANTIC_BASE,
    AudioTokens,
    CodecTokenError,
)
from stepaudio_api.engines.worker_pool import WorkerPool
from stepaudio_codec.engine import StepAudioCodec

HOP = 256
RATE = 22050


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_codec_folders(tmp_path_factory.mktemp("step-audio"))


def new_engine(options: dict[str, object]) -> StepAudioCodec:
    return StepAudioCodec("codec", options, WorkerPool(2, 8, 1.0))


@pytest.fixture(scope="module")
def engine(folders: tuple[Path, Path]) -> StepAudioCodec:
    codec = new_engine({"tokenizer_dir": str(folders[0]), "decoder_dir": str(folders[1])})
    codec.load()
    return codec


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


async def decode(engine: StepAudioCodec, ids: list[int], **options: object) -> np.ndarray:
    chunks = [chunk async for chunk in engine.detokenize(ids, **options)]  # type: ignore[arg-type]
    assert all(chunk.sample_rate == RATE for chunk in chunks)
    return np.concatenate([c.samples for c in chunks]) if chunks else np.zeros(0)


def test_tokenizes_eleven_seconds_into_both_codebooks(engine: StepAudioCodec) -> None:
    tokens = run(engine.tokenize(jfk()))
    assert 180 <= len(tokens.linguistic) <= 186  # 16.7 Hz
    assert 272 <= len(tokens.semantic) <= 278  # 25 Hz
    ids = tokens.ids
    assert len(ids) == 5 * tokens.groups and tokens.groups >= 90
    groups = ids.reshape(-1, 5)
    assert ((groups[:, :2] >= AUDIO_TOKEN_BASE) & (groups[:, :2] < SEMANTIC_BASE)).all()
    assert ((groups[:, 2:] >= SEMANTIC_BASE) & (groups[:, 2:] < SEMANTIC_BASE + 4096)).all()
    assert tokens.text().startswith(f"<audio_{ids[0] - AUDIO_TOKEN_BASE}>")
    assert len(np.unique(tokens.semantic)) > 10  # not a constant code


def test_streaming_tokenization_equals_the_whole_clip(engine: StepAudioCodec) -> None:
    audio = jfk()
    whole = run(engine.tokenize(audio, normalize=False))

    async def streamed() -> tuple[list[int], AudioTokens]:
        stream = engine.tokenize_stream()
        rng = np.random.default_rng(5)
        ids: list[int] = []
        at = 0
        while at < len(audio):
            size = int(rng.integers(640, 3201))  # 40-200 ms
            ids += (await stream.feed(audio[at : at + size])).tolist()
            at += size
        final = await stream.finish()
        return ids, final

    ids, final = run(streamed())
    assert final.linguistic.tolist() == whole.linguistic.tolist()
    assert final.semantic.tolist() == whole.semantic.tolist()
    # vq06 is final per 30 s window (its attention spans the window), so under 30 s the ids
    # come at the end; what came earlier is the start of the same stream
    assert ids == final.ids.tolist()[: len(ids)]


def random_ids(groups: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    tokens = AudioTokens(rng.integers(0, 1024, 2 * groups), rng.integers(0, 4096, 3 * groups))
    return tokens.ids.tolist()


@pytest.mark.parametrize("groups", [10, 60])
def test_detokenized_audio_lasts_as_long_as_the_semantic_codes(
    engine: StepAudioCodec, groups: int
) -> None:
    audio = run(decode(engine, random_ids(groups)))
    expected = 3 * groups / 25 * RATE  # N vq06 codes last N / 25 s
    assert abs(len(audio) - expected) <= HOP
    assert np.isfinite(audio).all() and np.abs(audio).max() <= 0.99


def test_the_same_seed_gives_the_same_audio(engine: StepAudioCodec) -> None:
    ids = random_ids(12, seed=2)
    first, again = run(decode(engine, ids, seed=3)), run(decode(engine, ids, seed=3))
    other = run(decode(engine, ids, seed=4))
    assert np.array_equal(first, again)
    assert np.abs(first - other).max() > 1e-3


def test_streaming_decode_has_no_jump_at_window_boundaries(engine: StepAudioCodec) -> None:
    decoder = engine.decoders["speak"]
    ids = random_ids(60, seed=9)  # 300 tokens: four windows
    stream = decoder.stream(None, 0, engine.shape)
    pieces = [stream.feed(ids[i : i + 17]) for i in range(0, len(ids), 17)]
    streamed = np.concatenate([*pieces, stream.finish()])
    whole = decoder.decode(np.asarray(ids))
    assert len(streamed) == len(whole)
    steps = np.abs(np.diff(streamed))
    typical = np.percentile(steps, 99.9)
    boundaries = np.cumsum([len(p) for p in pieces if len(p)])[:-1]
    for at in boundaries:
        assert steps[at - 1] <= 2 * typical + 1e-6


def test_a_short_stream_decodes_as_the_whole(engine: StepAudioCodec) -> None:
    # fewer tokens than one window: one flow pass, the vocoder streamed
    decoder = engine.decoders["speak"]
    ids = np.asarray(random_ids(10, seed=4))
    stream = decoder.stream(None, 0, engine.shape)
    streamed = np.concatenate([stream.feed(ids[:20]), stream.feed(ids[20:]), stream.finish()])
    assert np.abs(streamed - decoder.decode(ids)).max() <= 1e-4


def test_a_voice_prompt_changes_the_voice_and_not_the_length(engine: StepAudioCodec) -> None:
    prompt = run(engine.prepare_prompt(jfk(24000)[: 24000 * 3], 24000, "and so my fellow"))
    assert prompt.speaker.shape == (192,) and np.isfinite(prompt.speaker).all()
    assert prompt.mel.shape[1] == 80 and abs(prompt.mel.shape[0] - 3 * RATE / HOP) <= 2
    assert len(prompt.ids) % 5 == 0 and len(prompt.ids) >= 5 * 23
    ids = random_ids(15, seed=6)
    plain, cloned = run(decode(engine, ids)), run(decode(engine, ids, prompt=prompt))
    assert len(plain) == len(cloned)
    assert np.abs(plain - cloned).max() > 1e-3


def test_music_mode_uses_the_music_folder(engine: StepAudioCodec) -> None:
    ids = random_ids(10, seed=1)
    speak, music = run(decode(engine, ids)), run(decode(engine, ids, mode="music"))
    assert len(speak) == len(music) and np.abs(speak - music).max() > 1e-3


def test_ids_that_are_not_audio_tokens_are_refused(engine: StepAudioCodec) -> None:
    with pytest.raises(CodecTokenError, match="not an audio token"):
        run(decode(engine, [1, 2, 3]))


def test_a_missing_file_names_itself_and_the_layout(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "Step-Audio-TTS-3B"
    shutil.copytree(folders[1], broken)
    (broken / "CosyVoice-300M-25Hz" / "flow.pt").unlink()
    codec = new_engine({"decoder_dir": str(broken)})
    with pytest.raises(EngineNotConfigured, match=r"CosyVoice-300M-25Hz/flow\.pt: missing"):
        codec.load()


def test_a_tensor_of_the_wrong_shape_names_the_tensor(
    folders: tuple[Path, Path], tmp_path: Path
) -> None:
    broken = tmp_path / "Step-Audio-TTS-3B"
    shutil.copytree(folders[1], broken)
    path = broken / "CosyVoice-300M-25Hz" / "hift.pt"
    state = torch.load(path, weights_only=True)
    name = next(iter(state))
    state[name] = torch.zeros(3, 3)
    torch.save(state, path)
    with pytest.raises(EngineNotConfigured, match=name.replace(".", r"\.")):
        new_engine({"decoder_dir": str(broken)}).load()


def test_an_engine_without_folders_is_not_configured() -> None:
    with pytest.raises(EngineNotConfigured, match="tokenizer_dir"):
        new_engine({}).load()
