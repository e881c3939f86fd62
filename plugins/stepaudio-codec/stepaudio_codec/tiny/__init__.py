"""Random checkpoints in the released layouts and formats: tiny (tests, benchmarks, anyone
without the weights) or at the released sizes (``real``, for a GPU machine)."""

from __future__ import annotations

from pathlib import Path

from stepaudio_codec.folders import MUSIC_DIR, SPEAK_DIR


def write_tokenizer_folder(folder: Path, seed: int = 0, real: bool = False) -> Path:
    from stepaudio_codec.tiny.semantic_onnx import write_tiny_semantic_onnx
    from stepaudio_codec.tiny.tokenizer_paraformer import write_tiny_paraformer

    folder.mkdir(parents=True, exist_ok=True)
    write_tiny_paraformer(folder, seed=seed, real=real)
    write_tiny_semantic_onnx(folder / "speech_tokenizer_v1.onnx", seed=seed, real=real)
    return folder


def write_cosyvoice_folder(folder: Path, seed: int = 0, real: bool = False) -> Path:
    """One CosyVoice-300M-25Hz folder: cosyvoice.yaml, flow.pt, hift.pt, campplus.onnx and
    speech_tokenizer_v1.onnx (the same tokenizer as Step-Audio-Tokenizer's, as released)."""
    from stepaudio_codec.tiny.campplus_onnx import write_tiny_campplus
    from stepaudio_codec.tiny.flow_checkpoint import write_tiny_flow
    from stepaudio_codec.tiny.hift_checkpoint import tiny_hift_kwargs, write_tiny_hift
    from stepaudio_codec.tiny.semantic_onnx import write_tiny_semantic_onnx

    folder.mkdir(parents=True, exist_ok=True)
    hift_kwargs = tiny_hift_kwargs(real=real)
    write_tiny_flow(folder, seed=seed, real=real, hift_kwargs=hift_kwargs)
    write_tiny_hift(folder / "hift.pt", hift_kwargs, seed=seed + 1)
    write_tiny_campplus(folder / "campplus.onnx", seed=seed + 2)
    write_tiny_semantic_onnx(folder / "speech_tokenizer_v1.onnx", seed=seed, real=real)
    return folder


PARTS = ("tokenizer", "tts", "chat")


def write_tiny_checkpoints(
    directory: Path, seed: int = 0, real: bool = False, only: tuple[str, ...] = PARTS
) -> list[Path]:
    """Step-Audio-Tokenizer/, Step-Audio-TTS-3B/ (its LLM, CosyVoice-300M-25Hz/ and -Music/)
    and Step-Audio-Chat/ under ``directory`` (or the parts named in ``only``); the same seed
    writes the same files. At the real sizes Step-Audio-Chat is 260 GB of random weights:
    leave it out unless that is what you want."""
    from stepaudio_codec.tiny.step1_llm import write_tiny_step1

    unknown = set(only) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; the parts are {', '.join(PARTS)}")
    directory = Path(directory)
    written = []
    if "tokenizer" in only:
        written.append(write_tokenizer_folder(directory / "Step-Audio-Tokenizer", seed, real))
    if "tts" in only:
        tts = directory / "Step-Audio-TTS-3B"
        write_tiny_step1(tts, "tts-3b", seed=seed, real=real)
        write_cosyvoice_folder(tts / SPEAK_DIR, seed=seed, real=real)
        write_cosyvoice_folder(tts / MUSIC_DIR, seed=seed + 100, real=real)
        written.append(tts)
    if "chat" in only:
        chat = directory / "Step-Audio-Chat"
        write_tiny_step1(chat, "chat", seed=seed, real=real)
        written.append(chat)
    return written
