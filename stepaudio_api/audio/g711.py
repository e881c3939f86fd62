"""G.711 u-law and A-law (ITU-T G.711), 8 kHz telephone audio, as the realtime API carries it.

Vectorised with numpy: the standard library's audioop is deprecated and gone in Python 3.13.
"""

from __future__ import annotations

import numpy as np

_ULAW_BIAS = 0x84


def _ulaw_decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _ULAW_BIAS) << exponent) - _ULAW_BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << (exponent - 1)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


_ULAW_TO_PCM = _ulaw_decode_table()
_ALAW_TO_PCM = _alaw_decode_table()


def _segment(magnitude: np.ndarray, base: int) -> np.ndarray:
    """The G.711 segment (exponent) of each magnitude: the position of its highest set bit
    above ``base``, 0-7."""
    exponent = np.zeros(magnitude.shape, dtype=np.int32)
    for value in range(1, 8):
        exponent[magnitude >= (base << value)] = value
    return exponent


def encode_ulaw(pcm: np.ndarray) -> bytes:
    """16-bit samples to u-law bytes (the reference algorithm on 14-bit values)."""
    value = pcm.astype(np.int32) >> 2
    mask = np.where(value < 0, 0x7F, 0xFF)
    value = np.minimum(np.abs(value), 8159) + 0x21
    exponent = _segment(value, 0x20)
    code = (exponent << 4) | ((value >> (exponent + 1)) & 0x0F)
    code = np.where(value > 0x1FFF, 0x7F, code)  # beyond the last segment: the loudest code
    return ((code ^ mask) & 0xFF).astype(np.uint8).tobytes()


def encode_alaw(pcm: np.ndarray) -> bytes:
    """16-bit samples to A-law bytes."""
    samples = pcm.astype(np.int32)
    sign = np.where(samples >= 0, 0x80, 0)
    magnitude = np.minimum(np.where(samples < 0, -samples - 1, samples), 32767) >> 3
    exponent = _segment(magnitude, 0x10)
    mantissa = np.where(exponent == 0, magnitude >> 1, magnitude >> exponent) & 0x0F
    return ((sign | (exponent << 4) | mantissa) ^ 0x55).astype(np.uint8).tobytes()


def decode_ulaw(data: bytes) -> np.ndarray:
    return _ULAW_TO_PCM[np.frombuffer(data, dtype=np.uint8)]


def decode_alaw(data: bytes) -> np.ndarray:
    return _ALAW_TO_PCM[np.frombuffer(data, dtype=np.uint8)]
