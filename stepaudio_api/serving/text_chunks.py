"""Split text for speech so the first audio leaves early: a short first clause, then sentences."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?。！？…])[\"'”’)\]]*\s+|(?<=[。！？])")
_CLAUSE_END = re.compile(r"(?<=[,;:，；：、—])\s*")
FIRST_CHUNK_MAX_WORDS = 12
CHUNK_MAX_WORDS = 40

# Silence between chunks, in seconds at speed 1.0: the pause the split took away.
SENTENCE_PAUSE = 0.25
CLAUSE_PAUSE = 0.12


@dataclass(frozen=True, slots=True)
class TextChunk:
    text: str
    pause_after: float


def _split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def _split_words(text: str, max_words: int) -> list[str]:
    words = text.split()
    if len(words) <= max_words:
        return [text]
    # CJK text has no spaces: such long runs are left to the engine's own sentence handling.
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


def _split_clauses(sentence: str, max_words: int) -> list[str]:
    pieces: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        if clause.strip():
            pieces.extend(_split_words(clause.strip(), max_words))
    return pieces


def _group(clauses: list[str], max_words: int) -> list[str]:
    """Join clauses back up to ``max_words``: longer chunks speak with better prosody."""
    groups: list[str] = []
    for clause in clauses:
        if groups and len(groups[-1].split()) + len(clause.split()) <= max_words:
            groups[-1] = f"{groups[-1]} {clause}"
        else:
            groups.append(clause)
    return groups


def split_for_speech(text: str) -> list[TextChunk]:
    """The first chunk is the first clause (at most FIRST_CHUNK_MAX_WORDS words); the rest are
    whole sentences, split at clauses only when longer than CHUNK_MAX_WORDS."""
    chunks: list[TextChunk] = []
    for index, sentence in enumerate(_split_sentences(text)):
        if index == 0:
            clauses = _split_clauses(sentence, FIRST_CHUNK_MAX_WORDS)
            pieces = [clauses[0], *_group(clauses[1:], CHUNK_MAX_WORDS)]
        else:
            pieces = _group(_split_clauses(sentence, CHUNK_MAX_WORDS), CHUNK_MAX_WORDS)
        for position, piece in enumerate(pieces):
            last = position == len(pieces) - 1
            chunks.append(TextChunk(piece, SENTENCE_PAUSE if last else CLAUSE_PAUSE))
    if chunks:
        chunks[-1] = TextChunk(chunks[-1].text, 0.0)
    return chunks
