"""SentenceStream: streamed text deltas cut into sentences as soon as each one is complete."""

from __future__ import annotations

import pytest

from stepaudio_api.serving.sentence_stream import SentenceStream


def feed_all(deltas: list[str]) -> tuple[list[list[str]], str]:
    """What each delta gave back, and what flush gave at the end."""
    stream = SentenceStream()
    outputs = [stream.feed(delta) for delta in deltas]
    return outputs, stream.flush()


def sentences_of(text: str, chunk: int) -> tuple[list[str], str]:
    """Feed ``text`` in pieces of ``chunk`` characters: all sentences, then the flushed rest."""
    stream = SentenceStream()
    sentences: list[str] = []
    for start in range(0, len(text), chunk):
        sentences += stream.feed(text[start : start + chunk])
    return sentences, stream.flush()


def test_word_by_word_tokens_give_a_sentence_once_the_next_token_begins() -> None:
    stream = SentenceStream()
    assert stream.feed("Hello") == []
    # the stop has come but nothing after it yet: it may still be "3.5" or "Dr. ..."
    assert stream.feed(" there.") == []
    assert stream.feed(" How") == ["Hello there."]
    assert stream.feed(" are") == []
    assert stream.feed(" you?") == []
    assert stream.feed(" Fine") == ["How are you?"]
    assert stream.flush() == "Fine"


def test_each_sentence_is_given_back_only_once() -> None:
    outputs, rest = feed_all(["Hello", " there.", " How", " are", " you?", " Fine", " thanks."])
    given = [sentence for output in outputs for sentence in output]
    assert given == ["Hello there.", "How are you?"]
    assert rest == "Fine thanks."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Watch out! It is hot. ", ["Watch out!", "It is hot."]),
        ("Is it raining? Yes. ", ["Is it raining?", "Yes."]),
        ("Well… I suppose so. ", ["Well…", "I suppose so."]),
        ("Really?! No way... Fine. ", ["Really?!", "No way...", "Fine."]),
    ],
)
def test_exclamation_question_and_ellipsis_end_sentences(text: str, expected: list[str]) -> None:
    stream = SentenceStream()
    assert stream.feed(text) == expected
    assert stream.flush() == ""


@pytest.mark.parametrize(
    ("deltas", "first"),
    [
        (['He said "stop.', '"', " Then he left."], 'He said "stop."'),
        (["She asked “why?”", " Nobody knew."], "She asked “why?”"),
        (["It was over (finally.)", " Good."], "It was over (finally.)"),
        (["He said 'no!'", " and left."], "He said 'no!'"),
    ],
)
def test_closing_quotes_after_a_stop_stay_with_their_sentence(
    deltas: list[str], first: str
) -> None:
    outputs, rest = feed_all(deltas)
    given = [sentence for output in outputs for sentence in output]
    assert given == [first]
    assert not rest.startswith(('"', "'", "”", "’", ")"))


def test_decimals_are_not_cut() -> None:
    stream = SentenceStream()
    assert stream.feed("It is 3.5 degrees outside. ") == ["It is 3.5 degrees outside."]
    # streamed one token at a time, the point of "3.5" arrives before its digits
    outputs, rest = feed_all(["It", " is", " 3", ".", "5", " degrees", ".", " Cold"])
    assert [s for output in outputs for s in output] == ["It is 3.5 degrees."]
    assert rest == "Cold"


@pytest.mark.parametrize(
    "abbreviation", ["Dr.", "Mr.", "Mrs.", "Ms.", "St.", "vs.", "etc.", "e.g."]
)
def test_abbreviations_are_not_cut(abbreviation: str) -> None:
    stream = SentenceStream()
    text = f"We met {abbreviation} Smith today. After that we went home. "
    assert stream.feed(text) == [f"We met {abbreviation} Smith today.", "After that we went home."]


def test_dr_smith_streamed_word_by_word() -> None:
    outputs, rest = feed_all(["Ask", " Dr", ".", " Smith", " about", " it", ".", " He", " knows"])
    assert [s for output in outputs for s in output] == ["Ask Dr. Smith about it."]
    assert rest == "He knows"


def test_chinese_stops_cut_without_whitespace() -> None:
    stream = SentenceStream()
    # the last stop waits for the next character: a closing mark or another stop may follow
    assert stream.feed("你好。我很好！你呢？") == ["你好。", "我很好！"]
    assert stream.flush() == "你呢？"


def test_cantonese_streamed_character_by_character_is_cut_one_character_later() -> None:
    stream = SentenceStream()
    given: list[list[str]] = [stream.feed(ch) for ch in "我哋去飲茶啦。好呀！"]
    # a sentence comes out when the character after its stop shows nothing closes it
    assert given[6] == [] and given[7] == ["我哋去飲茶啦。"]
    assert given[-1] == []
    assert [s for output in given for s in output] == ["我哋去飲茶啦。"]
    assert stream.flush() == "好呀！"


def test_chinese_closing_marks_and_doubled_stops_in_later_deltas_stay_with_the_sentence() -> None:
    stream = SentenceStream()
    assert stream.feed("他说：「你好！") == []
    assert stream.feed("」然后走了。") == ["他说：「你好！」"]
    assert stream.feed("真的？") == ["然后走了。"]
    assert stream.feed("！") == []
    assert stream.feed("（好）") == ["真的？！"]
    assert stream.flush() == "（好）"


def test_chinese_closing_quote_in_the_same_delta_stays_with_its_sentence() -> None:
    stream = SentenceStream()
    assert stream.feed("他说：「你好！」然后走了。") == ["他说：「你好！」"]
    assert stream.flush() == "然后走了。"


def test_newlines_cut_sentences() -> None:
    stream = SentenceStream()
    assert stream.feed("Shopping list\n") == ["Shopping list"]
    assert stream.feed("- milk\n\n- eggs") == ["- milk"]
    assert stream.flush() == "- eggs"


def test_a_stop_before_a_newline_cuts_once() -> None:
    stream = SentenceStream()
    assert stream.feed("First line.\nSecond line.\n") == ["First line.", "Second line."]
    assert stream.flush() == ""


def test_flush_returns_the_unfinished_tail_and_then_nothing() -> None:
    stream = SentenceStream()
    assert stream.feed("One sentence. And an unfinished") == ["One sentence."]
    assert stream.flush() == "And an unfinished"
    assert stream.flush() == ""
    # the stream starts afresh after a flush
    assert stream.feed("Next. ") == ["Next."]
    assert stream.flush() == ""


def test_flush_gives_a_last_sentence_that_had_no_whitespace_after_it() -> None:
    stream = SentenceStream()
    assert stream.feed("The end.") == []
    assert stream.flush() == "The end."


PARAGRAPH = (
    "Good morning! The forecast says 3.5 degrees at noon. Dr. Smith thinks it will rain… "
    "Should we stay in? I would rather not. “Let’s go,” she said. We left at 9.30 sharp.\n"
    "天气很冷。我们出去吧！好不好？ Then we walked to St. Mary’s church and sat down"
)

PARAGRAPH_SENTENCES = [
    "Good morning!",
    "The forecast says 3.5 degrees at noon.",
    "Dr. Smith thinks it will rain…",
    "Should we stay in?",
    "I would rather not.",
    "“Let’s go,” she said.",
    "We left at 9.30 sharp.",
    "天气很冷。",
    "我们出去吧！",
    "好不好？",
]


def test_a_whole_paragraph_at_once_gives_every_complete_sentence() -> None:
    stream = SentenceStream()
    assert stream.feed(PARAGRAPH) == PARAGRAPH_SENTENCES
    assert stream.flush() == "Then we walked to St. Mary’s church and sat down"


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 16, len(PARAGRAPH)])
def test_the_sentences_do_not_depend_on_how_the_text_is_split(chunk: int) -> None:
    sentences, rest = sentences_of(PARAGRAPH, chunk)
    assert sentences == PARAGRAPH_SENTENCES
    assert rest == "Then we walked to St. Mary’s church and sat down"


@pytest.mark.parametrize("chunk", [1, 3, 4, 11, 1000])
def test_no_text_is_lost(chunk: int) -> None:
    text = (
        "  Hello there.  How are you today?\n\nI am fine, thanks!  It is 21.5 degrees… "
        "Mr. Brown and Mrs. Green said “hi.” And then\nsome more words"
    )
    sentences, rest = sentences_of(text, chunk)
    assert all(s and s == s.strip() for s in sentences)
    assert " ".join([*sentences, rest]).split() == text.split()


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_no_chinese_text_is_lost(chunk: int) -> None:
    text = "你好。真的吗？是的！我哋今日去飲茶，好唔好？ OK. 走吧"
    sentences, rest = sentences_of(text, chunk)
    assert "".join([*sentences, rest]).replace(" ", "") == text.replace(" ", "")
