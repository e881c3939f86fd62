"""The espeak-ng engine: the Debian package's command line, one short process per chunk of text.

Serving already hands an engine one sentence (or the first clause) at a time, so a process
per chunk streams per sentence; espeak-ng starts in a few milliseconds and speaks ~100x faster
than real time, so the command line costs nothing that libespeak-ng through ctypes would save,
and unlike the library (one global state) it runs chunks of several requests in parallel.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator

import numpy as np

from stepaudio_api.engines import PcmChunk, SynthesisOptions, Synthesizer
from stepaudio_espeak import japanese, mandarin
from stepaudio_espeak.voices import VOICES, EspeakVoice

DEBIAN_PACKAGE = "espeak-ng"
DEFAULT_RATE = 175  # words per minute: espeak-ng's own default
TAIL_SECONDS = 0.02
SILENCE = 64 / 32768  # about -54 dBFS


class EspeakNotInstalled(RuntimeError):
    """The espeak-ng program is missing; the message says how to install it."""


class EspeakSynthesizer(Synthesizer):
    """Many languages, robotic but intelligible: Cantonese, Mandarin (through pinyin), ...

    Options: ``command`` (default ``espeak-ng``, found on PATH), ``rate`` (words per minute,
    default 175), ``voices`` (names to offer; default every voice of ``VOICES`` that the
    installed espeak-ng has).
    """

    type = "espeak-ng"
    sample_rate = 22050
    # -s is not proportional over OpenAI's 0.25x-4x: espeak-ng speaks no slower than 80 words
    # a minute (0.46x), and measured durations at 2x and 2.5x were 11% and 16% short of the
    # proportional ones in Mandarin (5% in English); serving's time-stretch (pitch kept) is
    # exact at every speed.
    native_speed = False

    def load(self) -> None:
        command = shutil.which(str(self.options.get("command", "espeak-ng")))
        if command is None:
            raise EspeakNotInstalled(
                f"the espeak-ng program was not found (looked for "
                f"'{self.options.get('command', 'espeak-ng')}' on PATH): install the Debian "
                f"package {DEBIAN_PACKAGE} (apt-get install {DEBIAN_PACKAGE}), or set this "
                "engine's `command` option to its path"
            )
        self._command = command
        self._rate = int(self.options.get("rate", DEFAULT_RATE))
        installed = self._installed_voices()
        wanted = self.options.get("voices")
        offered = [v for v in VOICES if wanted is None or v.name in wanted]
        unknown = set(wanted or ()) - {v.name for v in VOICES}
        if unknown:
            raise ValueError(
                f"unknown espeak-ng voices {sorted(unknown)}; this plugin offers: "
                + ", ".join(v.name for v in VOICES)
            )
        self._voices = {v.name: v for v in offered if v.espeak_voice in installed}
        if not self._voices:
            raise EspeakNotInstalled(
                f"{command} has none of the voices {[v.espeak_voice for v in offered]}: "
                f"install the Debian package espeak-ng-data"
            )
        if "cmn" in self._voices:
            mandarin.load()
        if "ja" in self._voices:
            japanese.load()
        self.voices = tuple(v.info() for v in self._voices.values())
        languages = (v.language.split("-")[0] for v in self._voices.values())
        self.languages = tuple(dict.fromkeys(languages))

    def _installed_voices(self) -> set[str]:
        listed = subprocess.run(
            [self._command, "--voices"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        # "Pty Language Age/Gender VoiceName File Other Languages": the names -v accepts
        return {line.split()[1].lower() for line in listed.splitlines()[1:] if line.split()}

    def warm(self) -> None:
        voice = self._voices.get("en-us") or next(iter(self._voices.values()))
        samples, rate = self._speak(voice, "Hello.")
        if len(samples) == 0:
            raise RuntimeError(f"{self._command} -v {voice.espeak} produced no audio")
        self.sample_rate = rate

    def _speak(self, voice: EspeakVoice, text: str) -> tuple[np.ndarray, int]:
        """Mono float32 samples and their rate, without espeak-ng's trailing pause (serving
        adds its own between chunks)."""
        command = [self._command, "-b", "1", "-v", voice.espeak, "-s", str(self._rate)]
        result = subprocess.run(
            [*command, "--stdout"],
            input=voice.prepare(text).encode("utf-8"),
            capture_output=True,
            timeout=60 + len(text) / 10,
        )
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()
            raise RuntimeError(f"{' '.join(command)} exited {result.returncode}: {message}")
        samples, rate = read_wav(result.stdout)
        loud = np.flatnonzero(np.abs(samples) > SILENCE)
        end = min(len(samples), int(loud[-1]) + 1 + int(TAIL_SECONDS * rate)) if len(loud) else 0
        return samples[:end], rate

    async def synthesize(self, text: str, options: SynthesisOptions) -> AsyncIterator[PcmChunk]:
        # native_speed is False, so options.speed is always 1.0 here
        voice = self._voices[options.voice]
        samples, rate = await self.pool.run(self._speak, voice, text)
        if len(samples):
            yield PcmChunk(samples, rate)


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    """16-bit mono PCM from the WAV espeak-ng writes to stdout. Its header's sizes are
    placeholders (it cannot seek back on a pipe), so the data runs to the end."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise RuntimeError("espeak-ng did not write a WAV file")
    position, rate = 12, 0
    while position + 8 <= len(data):
        chunk = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        if chunk == b"fmt ":
            fmt = data[position + 8 : position + 8 + size]
            channels = int.from_bytes(fmt[2:4], "little")
            rate = int.from_bytes(fmt[4:8], "little")
            bits = int.from_bytes(fmt[14:16], "little")
            if (fmt[0:2], channels, bits) != (b"\x01\x00", 1, 16):
                raise RuntimeError(f"espeak-ng wrote {channels} channel(s) of {bits}-bit audio")
        elif chunk == b"data":
            pcm = data[position + 8 :]
            pcm = pcm[: len(pcm) - len(pcm) % 2]
            return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768, rate
        position += 8 + size + size % 2
    raise RuntimeError("espeak-ng's WAV output has no audio data")
