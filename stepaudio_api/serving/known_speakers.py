"""known_speaker_names[] and known_speaker_references[] of a diarized transcription: checked
(at most 4, one reference a name, each a data URL of 2-10 s of audio) and embedded into the
request's SpeakerBook."""

from __future__ import annotations

import base64
import binascii
import re

import numpy as np

from stepaudio_api.audio.decode import AudioDecodeError, decode_audio
from stepaudio_api.errors import InvalidRequest
from stepaudio_api.speakers.book import SpeakerBook

MAX_KNOWN_SPEAKERS = 4
MIN_REFERENCE_SECONDS = 2.0
MAX_REFERENCE_SECONDS = 10.0
_DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*;base64,(?P<data>.*)",
                       re.DOTALL)  # fmt: skip
NAMES, REFERENCES = "known_speaker_names", "known_speaker_references"


def check_known_speakers(names: tuple[str, ...], references: tuple[str, ...]) -> None:
    """What can be refused before any audio is decoded."""
    if len(names) != len(references):
        raise InvalidRequest(
            f"{NAMES}[] and {REFERENCES}[] must be the same length "
            f"(given {len(names)} names and {len(references)} references)", param=REFERENCES,
        )  # fmt: skip
    if len(names) > MAX_KNOWN_SPEAKERS:
        raise InvalidRequest(f"At most {MAX_KNOWN_SPEAKERS} known speakers may be given, not "
                             f"{len(names)}", param=NAMES)  # fmt: skip
    for index, name in enumerate(names):
        if not name.strip():
            raise InvalidRequest(f"{NAMES}[{index}] is empty", param=NAMES)
    if len({name.strip() for name in names}) != len(names):
        raise InvalidRequest(f"{NAMES}[] names a speaker twice", param=NAMES)
    for index, reference in enumerate(references):
        if not _DATA_URL.fullmatch(reference.strip()):
            raise InvalidRequest(
                f"{REFERENCES}[{index}] must be a data URL of audio "
                "(data:audio/wav;base64,...)", param=REFERENCES,
            )  # fmt: skip


def reference_samples(reference: str, index: int) -> np.ndarray:
    """A reference clip as 16 kHz mono audio (blocking: decodes)."""
    match = _DATA_URL.fullmatch(reference.strip())
    assert match is not None  # check_known_speakers saw it
    try:
        data = base64.b64decode(match.group("data"), validate=False)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{REFERENCES}[{index}] is not valid base64",
                             param=REFERENCES) from None  # fmt: skip
    param = f"{REFERENCES}[{index}]"
    try:
        audio = decode_audio(data, 16000)
    except AudioDecodeError as error:
        raise InvalidRequest(f"{param}: {error.message}", param=REFERENCES,
                             code="invalid_audio") from None  # fmt: skip
    if not MIN_REFERENCE_SECONDS <= audio.duration <= MAX_REFERENCE_SECONDS:
        raise InvalidRequest(
            f"{param} is {audio.duration:.2f} s long; a known speaker's reference must be "
            f"{MIN_REFERENCE_SECONDS:g} to {MAX_REFERENCE_SECONDS:g} seconds",
            param=REFERENCES, code="invalid_value",
        )  # fmt: skip
    return audio.samples


def known_speaker_book(embed: object, names: tuple[str, ...],
                       references: tuple[str, ...]) -> SpeakerBook:  # fmt: skip
    """The book of the known speakers (blocking: decodes and embeds each reference)."""
    assert callable(embed)
    known = [
        (name.strip(), embed(reference_samples(reference, index)))
        for index, (name, reference) in enumerate(zip(names, references, strict=True))
    ]
    return SpeakerBook.with_known(known)
