"""Audio tokens to a 22.05 kHz waveform through one CosyVoice folder: flow matching to mel,
HiFT to audio; whole, or streaming as the tokens arrive.

Streaming follows the design CosyVoice uses for this flow model: the tokens are decoded in
windows of ``hop + overlap`` tokens, each with the voice prompt as its condition; the mel of the
overlap is cross-faded (Hamming) with the previous window's, and the vocoder streams the mel
with its own state. The starting noise of every mel frame depends only on the seed and the
frame's place in the utterance, so an overlap is decoded from the same noise twice, and the
same tokens, prompt and seed give the same audio.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stepaudio_api.engines.codec import AUDIO_TOKEN_BASE, CodecPrompt
from stepaudio_codec.decoder.cosyvoice_yaml import load_cosyvoice_yaml
from stepaudio_codec.decoder.flow import FlowDecoder
from stepaudio_codec.decoder.hift import HiftVocoder
from stepaudio_codec.decoder.speaker import SpeakerEmbedder


@dataclass(frozen=True, slots=True)
class StreamShape:
    """How a streaming decode cuts the tokens (counts of interleaved tokens)."""

    first_hop: int = 50
    """The first window's new tokens: 1.2 s of audio, so the first audio leaves early."""
    hop: int = 100
    overlap: int = 20


class CosyVoiceDecoder:
    """One released CosyVoice folder (``CosyVoice-300M-25Hz`` or its ``-Music`` twin)."""

    def __init__(
        self,
        flow: FlowDecoder,
        vocoder: HiftVocoder,
        speaker: SpeakerEmbedder,
        sample_rate: int,
    ) -> None:
        self.flow = flow
        self.vocoder = vocoder
        self.speaker = speaker
        self.sample_rate = sample_rate

    @classmethod
    def load(
        cls, folder: Path, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> CosyVoiceDecoder:
        config = load_cosyvoice_yaml(folder / "cosyvoice.yaml")
        flow = FlowDecoder.load(folder, device=device, dtype=dtype)
        # the released decoder runs HiFT in float32 whatever the flow's dtype
        vocoder = HiftVocoder.load(folder / "hift.pt", config["hift"], device=device)
        speaker = SpeakerEmbedder.load(folder / "campplus.onnx")
        return cls(flow, vocoder, speaker, int(config.get("sample_rate", 22050)))

    @property
    def device(self) -> torch.device:
        return next(self.flow.parameters()).device

    @torch.inference_mode()
    def prompt_parts(
        self, audio16k: np.ndarray, audio22k: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The mel (frames, 80) of the clip at 22.05 kHz and its speaker embedding (192,)."""
        mel = self.flow.prompt_mel(audio22k)[0].float().cpu().numpy()
        return mel, self.speaker.embed(audio16k)

    def _condition(
        self, prompt: CodecPrompt | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        device, dtype = self.device, next(self.flow.parameters()).dtype
        if prompt is None:
            return (
                torch.zeros(1, 0, dtype=torch.long, device=device),
                torch.zeros(1, 0, 80, dtype=dtype, device=device),
                torch.zeros(1, 192, dtype=dtype, device=device),
            )
        tokens = torch.as_tensor(np.asarray(prompt.ids) - AUDIO_TOKEN_BASE, device=device)
        mel = torch.as_tensor(prompt.mel, device=device, dtype=dtype)
        speaker = torch.as_tensor(prompt.speaker, device=device, dtype=dtype)
        return tokens.long()[None], mel[None], speaker[None]

    def frames_at(self, n_tokens: int) -> int:
        """The mel frame where token ``n_tokens`` begins (the flow's own rounding)."""
        return self.flow.frames_for_tokens(n_tokens)

    def _mel(
        self, ids: np.ndarray, start: int, prompt: CodecPrompt | None, seed: int
    ) -> torch.Tensor:
        """Mel (80, frames) of the tokens ``ids`` that begin at token ``start`` of the
        utterance; frames and noise placed by their absolute position."""
        prompt_tokens, prompt_mel_t, speaker = self._condition(prompt)
        first, last = self.frames_at(start), self.frames_at(start + len(ids))
        noise = frame_noise(seed, first, last, prompt_mel_t.shape[1], self.device)
        tokens = torch.as_tensor(np.asarray(ids) - AUDIO_TOKEN_BASE, device=self.device)
        mel = self.flow.mel(
            tokens.long()[None],
            prompt_tokens,
            prompt_mel_t,
            speaker,
            frames=last - first,
            noise=noise.to(prompt_mel_t.dtype),
        )
        return mel[0].float()

    @torch.inference_mode()
    def decode(
        self, ids: np.ndarray, prompt: CodecPrompt | None = None, seed: int = 0
    ) -> np.ndarray:
        """All tokens at once, as the released decoder does."""
        if len(ids) == 0:
            return np.zeros(0, dtype=np.float32)
        mel = self._mel(np.asarray(ids), 0, prompt, seed)
        generator = torch.Generator(device="cpu").manual_seed(seed)
        audio = self.vocoder.forward_offline(mel[None], generator=generator)
        return audio.float().cpu().numpy()

    def stream(
        self, prompt: CodecPrompt | None = None, seed: int = 0, shape: StreamShape | None = None
    ) -> DecodeStream:
        return DecodeStream(self, prompt, seed, shape or StreamShape())


def frame_noise(
    seed: int, first: int, last: int, prompt_frames: int, device: torch.device
) -> torch.Tensor:
    """The flow's starting noise (1, 80, prompt + frames): the prompt's frames from the seed
    alone, each utterance frame from the seed and its absolute index, so two windows that
    share frames start them from the same noise."""

    def block(key: int, count: int) -> torch.Tensor:
        generator = torch.Generator(device="cpu").manual_seed(key)
        return torch.randn(80, count, generator=generator)

    blocks = [block(seed * 1_000_003 + 7, prompt_frames)] if prompt_frames else []
    block_frames = 64
    pieces = []
    for index in range(first // block_frames, (last + block_frames - 1) // block_frames):
        pieces.append(block(seed * 1_000_003 + 11 + index, block_frames))
    if pieces:
        frames = torch.cat(pieces, dim=1)
        offset = (first // block_frames) * block_frames
        blocks.append(frames[:, first - offset : last - offset])
    noise = torch.cat(blocks, dim=1) if blocks else torch.zeros(80, 0)
    return noise[None].to(device)


class DecodeStream:
    """Feed interleaved ids as an LLM makes them; get audio as soon as a window is ready."""

    def __init__(
        self, decoder: CosyVoiceDecoder, prompt: CodecPrompt | None, seed: int, shape: StreamShape
    ) -> None:
        self.decoder = decoder
        self.prompt = prompt
        self.seed = seed
        self.shape = shape
        self._ids: list[int] = []
        self._start = 0  # the first token of the next window
        self._hop = shape.first_hop
        self._tail: torch.Tensor | None = None  # the last window's overlap mel, to fade from
        generator = torch.Generator(device="cpu").manual_seed(seed)
        self._vocoder = decoder.vocoder.stream(generator=generator)

    def _window(self, end: int, final: bool) -> np.ndarray:
        decoder = self.decoder
        mel = decoder._mel(
            np.asarray(self._ids[self._start : end]), self._start, self.prompt, self.seed
        )
        if self._tail is not None:
            fade = self._tail.shape[1]
            window = torch.from_numpy(np.hamming(2 * fade)).to(mel)
            mel[:, :fade] = mel[:, :fade] * window[:fade] + self._tail * window[fade:]
        if final:
            self._tail = None
            return self._audio(mel, final=True)
        keep = decoder.frames_at(end) - decoder.frames_at(end - self.shape.overlap)
        self._tail = mel[:, -keep:].clone()
        return self._audio(mel[:, :-keep], final=False)

    def _audio(self, mel: torch.Tensor, final: bool) -> np.ndarray:
        pieces = [self._vocoder.feed(mel[None])] if mel.shape[1] else []
        if final:
            pieces.append(self._vocoder.finish())
        audio = torch.cat(pieces) if pieces else torch.zeros(0)
        return audio.float().cpu().numpy()

    @torch.inference_mode()
    def feed(self, ids: list[int] | np.ndarray) -> np.ndarray:
        self._ids.extend(int(i) for i in ids)
        out = []
        while len(self._ids) - self._start >= self._hop + self.shape.overlap:
            end = self._start + self._hop + self.shape.overlap
            out.append(self._window(end, final=False))
            self._start = end - self.shape.overlap
            self._hop = self.shape.hop
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    @torch.inference_mode()
    def finish(self) -> np.ndarray:
        if len(self._ids) == self._start and self._tail is None:
            return self._audio(torch.zeros(80, 0), final=True)
        return self._window(len(self._ids), final=True)
