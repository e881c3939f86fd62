"""Cut streamed text into sentences as soon as each one is complete, so it can be spoken."""

from __future__ import annotations

import re

_CLOSERS = "\"'”’)\\]）」』"
# a sentence ends at . ! ? … and its closing quotes or brackets followed by space (the next
# token has begun: "3.5" is no end), or at a CJK stop once the next character shows that no
# closing mark or further stop follows it ("好！」", "真的？！")
_SENTENCE_END = re.compile(
    rf"[.!?…]+[{_CLOSERS}]*\s+|[。！？]+[{_CLOSERS}]*\s*(?=[^{_CLOSERS}。！？])|\n+"
)
_ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|vs|etc|e\.g|i\.e)\.\s+$")
_LIST_MARKER = re.compile(r"\s*\d+\.\s*")
MIN_SENTENCE_CHARACTERS = 2


class SentenceStream:
    """Feed text deltas; get back the sentences they completed. ``flush`` gives the rest."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, delta: str) -> list[str]:
        self._pending += delta
        sentences: list[str] = []
        start = 0
        for match in _SENTENCE_END.finditer(self._pending):
            end = match.end()
            candidate = self._pending[start:end]
            if not match.group().startswith("\n") and (
                _ABBREVIATION.search(self._pending[max(0, end - 12) : end])
                or _LIST_MARKER.fullmatch(candidate)
            ):
                continue  # "Dr. Smith", "3. " starting a list item: not the end of a sentence
            if len(candidate.strip()) < MIN_SENTENCE_CHARACTERS:
                continue
            sentences.append(candidate.strip())
            start = end
        self._pending = self._pending[start:]
        return sentences

    def flush(self) -> str:
        rest, self._pending = self._pending.strip(), ""
        return rest
