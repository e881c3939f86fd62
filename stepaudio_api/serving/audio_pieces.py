"""A recording cut into pieces at pauses, as it is decoded, so that a long one is recognised a
piece at a time and never held whole. The pauses are found as realtime's server_vad finds the
end of a turn (Silero every 32 ms, serving/realtime/turn_detection.py); what lies between two
pieces is silence, and is dropped."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from stepaudio_api.audio.vad import MIN_SILENCE_MS, SPEECH_PAD_MS, WINDOW, SpeechProbabilities
from stepaudio_api.serving.realtime.turn_detection import (
    WINDOW_MS,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    TurnSettings,
)

RATE = 16000
SAMPLES_PER_MS = RATE // 1000
BATCH_SAMPLES = 5 * RATE
"""Silero is run over this much audio at once: decoders give a thousand samples or so a frame,
and a run of the model for every two windows cost 14 of the 24 s an hour took."""
CUT_SEARCH_SECONDS = 10.0
"""A piece that reaches its longest without a pause is cut at the quietest window (lowest speech
probability) of its last this many seconds."""


@dataclass(frozen=True, slots=True)
class PieceRule:
    """Where pieces may be cut: after ``silence_duration_ms`` without speech (a window is
    speech above ``threshold``), beginning ``prefix_padding_ms`` before the speech that follows;
    a piece is cut only once it holds ``min_seconds`` of audio, and at ``max_seconds``
    whatever it holds."""

    threshold: float = 0.5
    prefix_padding_ms: int = SPEECH_PAD_MS
    silence_duration_ms: int = MIN_SILENCE_MS
    min_seconds: float = 30.0
    max_seconds: float = 60.0
    """Whisper's features and the VAD that hearing.py runs cost about 1.5 MB a second of
    piece (300 s pieces of unbroken speech took the server past 1 GB; with the Mandarin
    voice loaded too, 120 s pieces took an hour's transcription to 1030 MB)."""


WHOLE = PieceRule()
"""No chunking_strategy (or "auto"): cut only where memory needs it, at a pause that
recognition would take out anyway (hearing.py)."""


def server_vad(threshold: float = 0.5, prefix_padding_ms: int = 300,
               silence_duration_ms: int = 500) -> PieceRule:  # fmt: skip
    """chunking_strategy server_vad: a piece for every turn, with OpenAI's realtime defaults."""
    return PieceRule(threshold, prefix_padding_ms, silence_duration_ms, min_seconds=0.0)


@dataclass(frozen=True, slots=True)
class Piece:
    start: int
    """Where the piece begins in the recording (samples at 16 kHz)."""
    samples: np.ndarray

    @property
    def start_seconds(self) -> float:
        return self.start / RATE


class _Recent:
    """The decoded audio not yet given out, by sample index in the recording."""

    def __init__(self) -> None:
        self.blocks: deque[np.ndarray] = deque()
        self.first = 0
        self.end = 0

    def append(self, block: np.ndarray) -> None:
        self.blocks.append(block)
        self.end += len(block)

    def forget_before(self, index: int) -> None:
        while self.blocks and self.first + len(self.blocks[0]) <= index:
            self.first += len(self.blocks.popleft())

    def take(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end), and forget everything before ``end``."""
        self.forget_before(start)
        joined = np.concatenate(self.blocks) if self.blocks else np.zeros(0, np.float32)
        self.blocks = deque([joined[end - self.first :].copy()])  # not a view: joined goes
        piece, self.first = joined[start - self.first : end - self.first], end
        return piece


class PieceCutter:
    def __init__(self, rule: PieceRule) -> None:
        self.rule = rule
        settings = TurnSettings(threshold=rule.threshold, prefix_padding_ms=rule.prefix_padding_ms,
                                silence_duration_ms=rule.silence_duration_ms,
                                speculate_after_ms=0)  # fmt: skip
        self._detector = TurnDetector(settings)
        self._vad = SpeechProbabilities()
        self._audio = _Recent()
        self._windows = 0
        self._start: int | None = None
        """The open piece's start; None between pieces."""
        self._given = 0
        """Where the last piece given out ended."""
        self._stopped: int | None = None
        """Where the open piece's last turn ended, while no new one has begun."""
        self._quiet: deque[tuple[float, int]] = deque(
            maxlen=int(CUT_SEARCH_SECONDS * 1000 / WINDOW_MS)
        )
        self._keep = (rule.prefix_padding_ms + 4 * WINDOW_MS) * SAMPLES_PER_MS

    def feed(self, block: np.ndarray) -> list[Piece]:
        self._audio.append(block)
        pieces = []
        for window in self._vad.feed(block):
            end = (self._windows + 1) * WINDOW
            self._windows += 1
            for event in self._detector.window(window.probability, window.rms):
                if isinstance(event, SpeechStarted):
                    self._started(max(event.audio_start_ms * SAMPLES_PER_MS, self._given))
                elif isinstance(event, SpeechStopped) and self._start is not None:
                    self._stopped = event.audio_end_ms * SAMPLES_PER_MS
                    if self._stopped - self._start >= self.rule.min_seconds * RATE:
                        pieces.append(self._give(self._stopped))
            if self._start is None:
                self._audio.forget_before(end - self._keep)
                continue
            self._quiet.append((window.probability, end))
            held = end - self._start
            if self._stopped is not None and held >= self.rule.min_seconds * RATE:
                pieces.append(self._give(self._stopped))  # long enough, and the turn is over
            elif held >= self.rule.max_seconds * RATE:
                cut = min(self._quiet)[1]
                pieces.append(self._give(cut))
                self._started(cut)
        return pieces

    def finish(self) -> list[Piece]:
        """The open piece, once the recording has ended."""
        if self._start is None:
            return []
        end = self._stopped if self._stopped is not None else self._audio.end
        return [self._give(end)]

    def _started(self, start: int) -> None:
        if self._start is None:
            self._start = start
            self._quiet.clear()
        self._stopped = None

    def _give(self, end: int) -> Piece:
        assert self._start is not None
        piece = Piece(self._start, self._audio.take(self._start, end))
        self._start, self._stopped, self._given = None, None, end
        return piece


def cut_into_pieces(blocks: Iterable[np.ndarray], rule: PieceRule,
                    seconds: float) -> Iterator[Piece]:  # fmt: skip
    """16 kHz mono blocks (decode_blocks) of a recording of ``seconds`` as pieces, each as soon
    as it is complete. One shorter than a piece's least is one piece, as it is."""
    if seconds <= rule.min_seconds:
        yield Piece(0, np.concatenate(list(blocks)))
        return
    cutter = PieceCutter(rule)
    for block in _regrouped(blocks, BATCH_SAMPLES):
        yield from cutter.feed(block)
    yield from cutter.finish()


def _regrouped(blocks: Iterable[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The blocks joined into ones of at least ``size`` samples (the last may be shorter)."""
    held: list[np.ndarray] = []
    count = 0
    for block in blocks:
        held.append(block)
        count += len(block)
        if count >= size:
            yield np.concatenate(held)
            held, count = [], 0
    if held:
        yield np.concatenate(held)
