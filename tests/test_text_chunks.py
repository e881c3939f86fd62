"""Text split for early first audio: a short first clause, then whole sentences."""

from stepaudio_api.serving.text_chunks import (
    CHUNK_MAX_WORDS,
    FIRST_CHUNK_MAX_WORDS,
    split_for_speech,
)


def test_first_chunk_is_the_first_clause_then_sentences() -> None:
    text = (
        "Good morning, everyone. Today we will talk about the weather. "
        "It is sunny, warm and bright! Is it not lovely?"
    )
    chunks = [c.text for c in split_for_speech(text)]
    assert chunks == [
        "Good morning,",
        "everyone.",
        "Today we will talk about the weather.",
        "It is sunny, warm and bright!",
        "Is it not lovely?",
    ]


def test_long_first_clause_is_cut_at_a_word_boundary() -> None:
    words = [f"word{i}" for i in range(30)]
    chunks = split_for_speech(" ".join(words) + ".")
    assert len(chunks[0].text.split()) == FIRST_CHUNK_MAX_WORDS
    assert " ".join(c.text for c in chunks).split() == [*words[:-1], words[-1] + "."]


def test_long_later_sentences_are_split_at_clauses() -> None:
    clause = " ".join(["alpha"] * 15)
    text = "Hi. " + ", ".join([clause] * 4) + "."
    chunks = split_for_speech(text)
    assert all(len(c.text.split()) <= CHUNK_MAX_WORDS for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == 1 + 60


def test_pauses_and_nothing_lost() -> None:
    text = "One, two. Three; four! 你好。世界？"
    chunks = split_for_speech(text)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")
    assert chunks[-1].pause_after == 0.0
    assert chunks[0].pause_after < chunks[1].pause_after  # clause pause < sentence pause
    assert split_for_speech("   ") == []
