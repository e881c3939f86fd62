"""Chunked HiFT synthesis that reproduces the offline output sample for sample.

Every operation of HiFT is local except the source's running phase, so a stream can recompute
each new stretch of audio from a window of mel holding enough context on both sides (the
receptive field) and get the offline samples. The phase is carried exactly: F0 is committed
frame by frame once its own context (5 frames) has arrived, the excitation of committed frames
is cached, and the noise is keyed by absolute sample position (nsf_source.py). Only the last
few uncommitted frames use a provisional F0, and those lie in the context that is thrown away.

A lookahead shorter than the receptive field trades exactness for latency; a cross-fade of
`crossfade_frames` then blends the provisional tail of one emission into the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from stepaudio_codec.decoder.hift_blocks import F0_CONV_LAYERS, resblock_radius
from stepaudio_codec.decoder.hift_config import HiftConfig

if TYPE_CHECKING:
    from stepaudio_codec.decoder.hift import HiftVocoder


@dataclass(frozen=True)
class ReceptiveField:
    """Mel frames of context HiFT needs either side of an output frame (upper bounds)."""

    network_frames: int  # mel frames the upsampling network sees, given the excitation
    source_frames: int  # excitation frames (256 samples each) the network sees
    f0_frames: int  # mel frames the F0 predictor sees

    @property
    def left(self) -> int:
        """Past context: the excitation of the past is cached, so F0 context is not needed."""
        return max(self.network_frames, self.source_frames)

    @property
    def lookahead(self) -> int:
        """Future mel needed before an output frame is final (its future F0 too)."""
        return max(self.network_frames, self.source_frames + self.f0_frames)


def receptive_field(config: HiftConfig) -> ReceptiveField:
    """Walk back from the output samples through iSTFT, convs and upsamplers (rounding up)."""
    hop, spf = config.hop_len, config.samples_per_frame
    stages = len(config.upsample_rates)
    res = max(
        resblock_radius(k, d)
        for k, d in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True)
    )
    radius = math.ceil(config.n_fft / (2 * hop)) + 1 + 3  # iSTFT overlap, conv_post kernel 7
    fusion_radius = [0] * stages  # at each stage's source fusion, in that stage's rate
    for i in reversed(range(stages)):
        radius += res
        fusion_radius[i] = radius
        if i == stages - 1:
            radius += 1  # the one-sample reflection pad
        rate, kernel = config.upsample_rates[i], config.upsample_kernel_sizes[i]
        radius = math.ceil(radius / rate) + math.ceil(kernel / rate) + 1
    network = radius + 3  # conv_pre, kernel 7
    source = 0
    for i in range(stages):
        stride = config.source_strides[i]
        kernel = 1 if stride == 1 else 2 * stride
        at_stage = fusion_radius[i] + resblock_radius(
            config.source_resblock_kernel_sizes[i], config.source_resblock_dilation_sizes[i]
        )
        samples = (at_stage * stride + kernel) * hop + config.n_fft // 2 + hop
        source = max(source, math.ceil(samples / spf) + 1)
    return ReceptiveField(network, source, F0_CONV_LAYERS)


class VocoderStream:
    """feed(mel chunk) -> new samples; finish() -> the rest. Concatenated: the offline output."""

    def __init__(
        self,
        vocoder: HiftVocoder,
        seed: int,
        lookahead_frames: int | None = None,
        crossfade_frames: int = 0,
    ) -> None:
        field = receptive_field(vocoder.config)
        self._vocoder = vocoder
        self._seed = seed
        self._hop = vocoder.samples_per_frame
        self._left = field.left
        self._f0_context = field.f0_frames
        self.lookahead_frames = field.lookahead if lookahead_frames is None else lookahead_frames
        self.crossfade_frames = crossfade_frames
        if self.lookahead_frames < 0 or crossfade_frames < 0:
            raise ValueError("lookahead_frames and crossfade_frames must be >= 0")
        device = vocoder.device
        channels = vocoder.config.in_channels
        self._mel = torch.zeros(1, channels, 0, device=device)
        self._mel_origin = 0  # absolute frame index of self._mel[..., 0]
        self._frames = 0  # mel frames received
        self._f0_done = 0  # frames whose F0 (hence excitation) is final
        self._phase = torch.zeros(vocoder.m_source.channels, dtype=torch.float64, device=device)
        self._source = torch.zeros(0, device=device)  # excitation of final frames
        self._source_origin = 0
        self._emitted = 0  # frames whose samples were returned
        self._pending = torch.zeros(0, device=device)  # held samples, cross-faded next time
        self._finished = False

    @property
    def latency_frames(self) -> int:
        """Mel frames received but not yet returned once the stream runs steadily."""
        return self.lookahead_frames + self.crossfade_frames

    @property
    def buffered_frames(self) -> int:
        """Mel frames held for context (bounded: older ones are dropped as the stream runs)."""
        return self._mel.shape[2]

    @torch.inference_mode()
    def feed(self, mel_chunk: Tensor) -> Tensor:
        """Append mel frames [1, 80, f]; return the samples that became ready (maybe none)."""
        if self._finished:
            raise RuntimeError("the stream is finished")
        self._vocoder.check_mel(mel_chunk)
        chunk = mel_chunk.to(self._vocoder.device, torch.float32)
        self._mel = torch.cat([self._mel, chunk], dim=2)
        self._frames += chunk.shape[2]
        self._commit_f0(final=False)
        ready = self._frames - self.lookahead_frames
        if ready - self.crossfade_frames <= self._emitted:
            return torch.zeros(0, device=self._vocoder.device)
        return self._emit(ready, final=False)

    @torch.inference_mode()
    def finish(self) -> Tensor:
        """The end of the mel: return every remaining sample (the utterance's right edge)."""
        if self._finished:
            raise RuntimeError("the stream is finished")
        self._finished = True
        self._commit_f0(final=True)
        if self._frames == self._emitted:
            return self._pending
        return self._emit(self._frames, final=True)

    def _mel_between(self, start: int, stop: int) -> Tensor:
        return self._mel[:, :, start - self._mel_origin : stop - self._mel_origin]

    def _f0_from(self, start: int) -> Tensor:
        """F0 of frames [start, received) computed with all the mel context there is."""
        origin = max(0, start - self._f0_context)
        return self._vocoder.predict_f0(self._mel_between(origin, self._frames))[start - origin :]

    def _commit_f0(self, final: bool) -> None:
        """Fix F0 and excitation of the frames whose F0 context has fully arrived."""
        target = self._frames if final else self._frames - self._f0_context
        if target <= self._f0_done:
            return
        f0 = self._f0_from(self._f0_done)[: target - self._f0_done]
        source, self._phase = self._vocoder.m_source(f0, self._f0_done, self._phase, self._seed)
        self._source = torch.cat([self._source, source])
        self._f0_done = target

    def _source_between(self, start: int) -> Tensor:
        """Excitation of frames [start, received): cached where final, provisional after."""
        final = self._source[(start - self._source_origin) * self._hop :]
        if self._f0_done == self._frames:
            return final
        f0 = self._f0_from(self._f0_done)
        provisional, _ = self._vocoder.m_source(f0, self._f0_done, self._phase, self._seed)
        if start > self._f0_done:
            provisional = provisional[(start - self._f0_done) * self._hop :]
        return torch.cat([final, provisional])

    def _emit(self, stop: int, final: bool) -> Tensor:
        """Render frames [emitted, stop), blend the held overlap in, hold a new one back."""
        window_start = max(0, self._emitted - self._left)
        mel = self._mel_between(window_start, self._frames)
        wav = self._vocoder.synthesize(mel, self._source_between(window_start))
        offset = (self._emitted - window_start) * self._hop
        rendered = wav[offset : offset + (stop - self._emitted) * self._hop]
        overlap = self._pending.shape[0]
        if overlap:
            ramp = (torch.arange(overlap, device=rendered.device) + 0.5) / overlap
            fade_in = 0.5 - 0.5 * torch.cos(math.pi * ramp)
            rendered = rendered.clone()
            rendered[:overlap] = self._pending * (1.0 - fade_in) + rendered[:overlap] * fade_in
        hold = 0 if final else self.crossfade_frames
        cut = rendered.shape[0] - hold * self._hop
        out, self._pending = rendered[:cut], rendered[cut:]
        self._emitted = stop - hold
        self._trim()
        return out

    def _trim(self) -> None:
        """Drop mel and excitation no later window can reach."""
        keep_mel = max(0, min(self._emitted - self._left, self._f0_done - self._f0_context))
        if keep_mel > self._mel_origin:
            self._mel = self._mel_between(keep_mel, self._frames)
            self._mel_origin = keep_mel
        keep_source = max(0, min(self._emitted - self._left, self._f0_done))
        if keep_source > self._source_origin:
            self._source = self._source[(keep_source - self._source_origin) * self._hop :]
            self._source_origin = keep_source
