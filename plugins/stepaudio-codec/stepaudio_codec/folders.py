"""The released model folders, file by file: where each part of the codec lives.

Step-Audio-Tokenizer/
    linguistic_tokenizer.npy              vq02 k-means centroids (1024 x 512)
    speech_tokenizer_v1.onnx              vq06, CosyVoice's 25 Hz tokenizer
    dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online/
        model.pt  config.yaml  am.mvn ...  FunASR's streaming Paraformer (its encoder)
Step-Audio-TTS-3B/
    config.json, model-*.safetensors, tokenizer.model ...   the 3B LLM (not the codec's)
    CosyVoice-300M-25Hz/                  the decoder for speech
    CosyVoice-300M-25Hz-Music/            the decoder for RAP and humming
        cosyvoice.yaml  flow.pt  hift.pt  campplus.onnx  speech_tokenizer_v1.onnx
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepaudio_codec.errors import CheckpointError

PARAFORMER_DIR = "dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online"
TOKENIZER_FILES = ("linguistic_tokenizer.npy", "speech_tokenizer_v1.onnx")
PARAFORMER_FILES = ("model.pt", "config.yaml", "am.mvn")
DECODER_FILES = ("cosyvoice.yaml", "flow.pt", "hift.pt", "campplus.onnx")
SPEAK_DIR = "CosyVoice-300M-25Hz"
MUSIC_DIR = "CosyVoice-300M-25Hz-Music"

TOKENIZER_LAYOUT = (
    f"Step-Audio-Tokenizer/ with {', '.join(TOKENIZER_FILES)} and "
    f"{PARAFORMER_DIR}/{{{','.join(PARAFORMER_FILES)}}}"
)
DECODER_LAYOUT = (
    f"Step-Audio-TTS-3B/ with {SPEAK_DIR}/ (and {MUSIC_DIR}/), each holding "
    f"{', '.join(DECODER_FILES)}; or one such CosyVoice folder"
)


def _require(folder: Path, names: tuple[str, ...], layout: str) -> None:
    if not folder.is_dir():
        raise CheckpointError(folder, "no such folder", layout)
    for name in names:
        path = folder / name
        if not path.is_file():
            raise CheckpointError(path, "missing", layout)
        if path.stat().st_size == 0:
            raise CheckpointError(path, "empty file", layout)


@dataclass(frozen=True, slots=True)
class TokenizerFolder:
    root: Path

    @classmethod
    def check(cls, root: Path | str) -> TokenizerFolder:
        folder = cls(Path(root))
        _require(folder.root, TOKENIZER_FILES, TOKENIZER_LAYOUT)
        _require(folder.paraformer, PARAFORMER_FILES, TOKENIZER_LAYOUT)
        return folder

    @property
    def paraformer(self) -> Path:
        return self.root / PARAFORMER_DIR

    @property
    def semantic_onnx(self) -> Path:
        return self.root / "speech_tokenizer_v1.onnx"


@dataclass(frozen=True, slots=True)
class DecoderFolders:
    """The CosyVoice folders of a decoder: one per mode that is there."""

    speak: Path
    music: Path | None

    @classmethod
    def check(cls, root: Path | str) -> DecoderFolders:
        root = Path(root)
        if (root / "cosyvoice.yaml").exists():  # a CosyVoice folder given directly
            _require(root, DECODER_FILES, DECODER_LAYOUT)
            return cls(root, None)
        speak = root / SPEAK_DIR
        if not speak.is_dir():
            raise CheckpointError(speak, "no such folder", DECODER_LAYOUT)
        _require(speak, DECODER_FILES, DECODER_LAYOUT)
        music = root / MUSIC_DIR
        if music.exists():
            _require(music, DECODER_FILES, DECODER_LAYOUT)
            return cls(speak, music)
        return cls(speak, None)
