"""Cut streamed text into sentences as soon as each one is complete, so it can be spoken."""

from __future__ import annotations

import re

# a sentence ends at . ! ? … followed by space (the next token has begun), or at a CJK stop
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|[。！？]+[”’」』)]*\s*|\n+")
_DECIMAL_OR_ABBREVIATION = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|St|vs|etc|e\.g|i\.e)|\d)\.\s+$")
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
            if _DECIMAL_OR_ABBREVIATION.search(self._pending[max(0, end - 12) : end]) and not (
                match.group().startswith("\n")
            ):
                continue  # "Dr. Smith", "3. " in a list: not the end of a sentence
            if len(candidate.strip()) < MIN_SENTENCE_CHARACTERS:
                continue
            sentences.append(candidate.strip())
            start = end
        self._pending = self._pending[start:]
        return sentences

    def flush(self) -> str:
        rest, self._pending = self._pending.strip(), ""
        return rest
