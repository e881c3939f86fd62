"""``stepaudio-api codec tokenize|detokenize`` and ``stepaudio-api dev tiny-checkpoints``."""

from __future__ import annotations

import json
import sys
import wave
from pathlib import Path
from typing import Any

import click
import numpy as np

from stepaudio_api.engines.codec import AudioTokens, CodecTokenError, text_to_ids


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


def _read_audio(path: Path, sample_rate: int) -> np.ndarray:
    from stepaudio_api.audio.decode import AudioDecodeError, decode_audio

    try:
        decoded = decode_audio(path.read_bytes(), sample_rate)
    except OSError as exc:
        _fail(f"{path}: {exc.strerror or exc}")
    except AudioDecodeError as exc:
        _fail(f"{path}: {exc.message}")
    if len(decoded.samples) < sample_rate // 10:
        _fail(f"{path}: {decoded.duration:.3f} s of audio; at least 0.1 s is needed")
    return decoded.samples


@click.group()
def codec() -> None:
    """Step-Audio's codec: audio to dual-codebook tokens and back (the stepaudio-codec plugin)."""


@codec.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tokenizer", "tokenizer_dir", required=True, type=click.Path(path_type=Path),
              help="The Step-Audio-Tokenizer folder.")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(["json", "text"]), default="json",
              help="json: codes, ids and times per file; text: the <audio_N> string.")  # fmt: skip
@click.option("--device", default="cpu", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "bfloat16"]), default="float32")
def tokenize(
    files: tuple[Path, ...], tokenizer_dir: Path, output_format: str, device: str, dtype: str
) -> None:
    """Tokenize audio files: one line per file on stdout (a progress bar on stderr for many)."""
    from stepaudio_codec.dual_tokenizer import DualTokenizer
    from stepaudio_codec.errors import CheckpointError
    from stepaudio_codec.folders import TokenizerFolder

    try:
        tokenizer = DualTokenizer.load(
            TokenizerFolder.check(tokenizer_dir), device, _torch_dtype(dtype)
        )
    except CheckpointError as exc:
        _fail(str(exc))
    with click.progressbar(
        files, label="tokenizing", file=sys.stderr, hidden=len(files) < 2
    ) as progress:
        for path in progress:
            tokens = tokenizer.tokenize(_read_audio(path, 16000))
            click.echo(_line(path, tokens, output_format))


def _line(path: Path, tokens: AudioTokens, output_format: str) -> str:
    if output_format == "text":
        return tokens.text()
    return json.dumps(
        {
            "file": str(path),
            "duration": round(tokens.duration, 3),
            "linguistic": tokens.linguistic.tolist(),
            "semantic": tokens.semantic.tolist(),
            "ids": tokens.ids.tolist(),
            "times": [round(t, 3) for t in tokens.times.tolist()],
            "text": tokens.text(),
        },
        ensure_ascii=False,
    )


def _read_ids(source: str) -> np.ndarray:
    """Ids from a tokenize output line (JSON with "ids"), an <audio_N> string, or numbers."""
    text = (sys.stdin.read() if source == "-" else Path(source).read_text()).strip()
    if not text:
        _fail(f"{source}: no tokens")
    if text.startswith("{"):
        try:
            return np.asarray(json.loads(text.splitlines()[0])["ids"], dtype=np.int64)
        except (ValueError, KeyError, TypeError) as exc:
            _fail(f"{source}: not a tokenize JSON line with 'ids' ({exc})")
    try:
        if text.startswith("<audio_"):
            return np.asarray(text_to_ids(text), dtype=np.int64)
        return np.asarray([int(t) for t in text.replace(",", " ").split()], dtype=np.int64)
    except (CodecTokenError, ValueError) as exc:
        _fail(f"{source}: {exc}")
    raise AssertionError  # unreachable: _fail exits


def write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())


@codec.command()
@click.option("--decoder", "decoder_dir", required=True, type=click.Path(path_type=Path),
              help="Step-Audio-TTS-3B/ (or one CosyVoice-300M-25Hz folder).")  # fmt: skip
@click.option("--tokens", "tokens_source", required=True,
              help="Ids: a tokenize JSON line, <audio_N> text, or numbers; -: stdin")  # fmt: skip
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path))
@click.option("--prompt-audio", type=click.Path(path_type=Path), default=None,
              help="A clip of the voice to speak in (needs --tokenizer).")  # fmt: skip
@click.option("--prompt-text", default="", help="What is said in the prompt clip.")
@click.option("--tokenizer", "tokenizer_dir", type=click.Path(path_type=Path), default=None)
@click.option("--mode", type=click.Choice(["speak", "music"]), default="speak")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--stream/--whole", default=False, help="Decode in windows, as a server streams.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--dtype", type=click.Choice(["float32", "bfloat16"]), default="float32")
def detokenize(
    decoder_dir: Path, tokens_source: str, output: Path, prompt_audio: Path | None,
    prompt_text: str, tokenizer_dir: Path | None, mode: str, seed: int, stream: bool,
    device: str, dtype: str,
) -> None:  # fmt: skip
    """Decode audio tokens to a 22.05 kHz WAV file."""
    from stepaudio_api.engines.codec import AudioTokens as Tokens
    from stepaudio_api.engines.codec import CodecPrompt
    from stepaudio_codec.dual_tokenizer import DualTokenizer
    from stepaudio_codec.errors import CheckpointError
    from stepaudio_codec.folders import DecoderFolders, TokenizerFolder
    from stepaudio_codec.token_decoder import CosyVoiceDecoder

    ids = _read_ids(tokens_source)
    try:
        Tokens.from_ids(ids)
    except CodecTokenError as exc:
        _fail(f"{tokens_source}: {exc}")
    if prompt_audio is not None and tokenizer_dir is None:
        _fail("--prompt-audio needs --tokenizer (the prompt clip is tokenized)")
    try:
        folders = DecoderFolders.check(decoder_dir)
        folder = folders.music if mode == "music" else folders.speak
        if folder is None:
            _fail(f"{decoder_dir}: no CosyVoice-300M-25Hz-Music folder for --mode music")
        decoder = CosyVoiceDecoder.load(folder, device, _torch_dtype(dtype))
        prompt = None
        if prompt_audio is not None and tokenizer_dir is not None:
            tokenizer = DualTokenizer.load(TokenizerFolder.check(tokenizer_dir), device)
            audio16k = _read_audio(prompt_audio, 16000)
            audio22k = _read_audio(prompt_audio, decoder.sample_rate)
            mel, speaker = decoder.prompt_parts(audio16k, audio22k)
            tokens = tokenizer.tokenize(audio16k)
            prompt = CodecPrompt(tokens.ids, mel, speaker, prompt_text)
    except CheckpointError as exc:
        _fail(str(exc))
    if stream:
        decoding = decoder.stream(prompt, seed)
        audio = np.concatenate([decoding.feed(ids), decoding.finish()])
    else:
        audio = decoder.decode(ids, prompt, seed)
    write_wav(output, audio, decoder.sample_rate)
    click.echo(f"{output}: {len(audio) / decoder.sample_rate:.3f} s at {decoder.sample_rate} Hz")


@click.group()
def dev() -> None:
    """Developer tools (the stepaudio-codec plugin)."""


@dev.command("tiny-checkpoints")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--real", is_flag=True, help="The released sizes (GBs; for a GPU machine).")
@click.option("--only", default="tokenizer,tts,chat", show_default=True,
              help="Which folders, comma-separated (Chat at --real is 260 GB).")  # fmt: skip
def tiny_checkpoints(directory: Path, seed: int, real: bool, only: str) -> None:
    """Write Step-Audio-Tokenizer/, Step-Audio-TTS-3B/ and Step-Audio-Chat/ in the released
    layouts and formats, with random weights (tiny unless --real), seeded."""
    from stepaudio_codec.tiny import write_tiny_checkpoints

    parts = tuple(p.strip() for p in only.split(",") if p.strip())
    try:
        folders = write_tiny_checkpoints(directory, seed=seed, real=real, only=parts)
    except ValueError as exc:
        _fail(str(exc))
    for folder in folders:
        click.echo(str(folder))
