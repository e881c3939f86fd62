"""/v1/chat/completions with the openai SDK against a real server whose upstream brain is the
scripted stand-in (tests/chat_stand_in.py): text, speech in, speech out, audio.id turns."""

from __future__ import annotations

import base64
import time

import openai
import pytest
from audio_checks import clean_words, decode, word_error_rate
from chat_helpers import audio_part, pcm_to_wav, spoken, transcribe
from chat_stand_in import ChatStandIn, Reply, word_pieces
from conftest import ServerProcess

QUESTION = "What is the tallest mountain in the world?"
ANSWER = (
    "The tallest mountain in the world is Mount Everest. "
    "It stands on the border between Nepal and China."
)


def test_text_chat_passes_through(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(Reply(content=word_pieces("Paris is the capital of France.")))
    client = chat_server.client()
    reply = client.chat.completions.create(
        model="gpt-4o-audio-preview",
        messages=[
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        temperature=0.2,
        seed=7,
        extra_body={"top_k": 20},
    )
    assert reply.choices[0].message.content == "Paris is the capital of France."
    assert reply.choices[0].finish_reason == "stop"
    assert reply.model == "gpt-4o-audio-preview" and reply.object == "chat.completion"
    assert reply.choices[0].message.audio is None
    sent = upstream.requests[0]
    assert sent.body["model"] == "stand-in-brain" and sent.body["stream"] is True
    assert sent.headers["Authorization"] == "Bearer sk-upstream-secret"
    assert sent.body["temperature"] == 0.2 and sent.body["seed"] == 7 and sent.body["top_k"] == 20
    assert sent.body["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    for ours in ("modalities", "audio", "server_tools"):
        assert ours not in sent.body
    # usage as the upstream counted it (the stand-in: words of the prompt, chunks of the answer)
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == 8 and reply.usage.completion_tokens == 6


def test_streamed_text_chat(chat_server: ServerProcess, upstream: ChatStandIn) -> None:
    upstream.plan(Reply(content=word_pieces(ANSWER)))
    stream = chat_server.client().chat.completions.create(
        model="step-audio-chat",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == ANSWER
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(word_pieces(ANSWER))
    assert len({c.id for c in chunks}) == 1


def test_spoken_question_gets_a_spoken_answer(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """Speech in (made by our speech endpoint), speech out: the upstream is sent what was
    said, and the answer's audio says what the upstream wrote."""
    client = chat_server.client()
    question = spoken(chat_server, QUESTION, "mp3")
    upstream.plan(Reply(content=word_pieces(ANSWER)))
    reply = client.chat.completions.create(
        model="gpt-4o-audio-preview",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": [audio_part(question, "mp3")]}],
    )
    heard = upstream.requests[0].body["messages"][0]["content"]
    assert word_error_rate(QUESTION, heard) <= 0.10, heard
    message = reply.choices[0].message
    assert message.content is None and message.audio is not None
    assert message.audio.transcript == ANSWER
    assert message.audio.id.startswith("audio_") and message.audio.expires_at > time.time() + 3000
    answer = base64.b64decode(message.audio.data)
    audio = decode(answer, "wav")
    assert audio.sample_rate == 24000 and audio.channels == 1
    assert 4.0 < audio.duration < 12.0
    assert word_error_rate(ANSWER, transcribe(client, answer)) <= 0.10
    assert reply.usage is not None and reply.usage.completion_tokens_details is not None
    # audio tokens at 25 per second of the spoken answer
    assert abs(reply.usage.completion_tokens_details.audio_tokens - audio.duration * 25) <= 3


def test_streamed_spoken_answer_starts_before_the_text_is_complete(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    client = chat_server.client()
    # a slow upstream: 0.15 s between words, about 3 s for the answer
    upstream.plan(Reply(content=word_pieces(ANSWER), chunk_delay=0.15))
    stream = client.chat.completions.create(
        model="gpt-4o-audio-preview",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
    )
    transcript, pcm, ids = [], [], set()
    first_audio_at_word = None
    expires_at = None
    for chunk in stream:
        if not chunk.choices or chunk.choices[0].delta.audio is None:
            continue
        audio = chunk.choices[0].delta.audio
        ids.add(audio.id)
        if audio.transcript:
            transcript.append(audio.transcript)
        if audio.data:
            pcm.append(base64.b64decode(audio.data))
            if first_audio_at_word is None:
                first_audio_at_word = len(transcript)
        if audio.expires_at:
            expires_at = audio.expires_at
    assert "".join(transcript) == ANSWER
    assert len(ids) == 1 and expires_at is not None
    # the first sentence was spoken while the second was still being written
    assert first_audio_at_word is not None and first_audio_at_word < len(word_pieces(ANSWER)) - 5
    audio = decode(b"".join(pcm), "pcm")
    assert 4.0 < audio.duration < 12.0
    assert word_error_rate(ANSWER, transcribe(client, pcm_to_wav(b"".join(pcm)))) <= 0.10


def test_a_later_turn_refers_to_a_spoken_reply_by_its_audio_id(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    client = chat_server.client()
    upstream.plan(Reply(content=word_pieces(ANSWER)), Reply(content=["Yes."]))
    first = client.chat.completions.create(
        model="gpt-audio",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "mp3"},
        messages=[{"role": "user", "content": QUESTION}],
    )
    audio_id = first.choices[0].message.audio.id  # type: ignore[union-attr]
    second = client.chat.completions.create(
        model="gpt-audio",
        messages=[
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "audio": {"id": audio_id}},
            {"role": "user", "content": "Is it in Nepal?"},
        ],
    )
    assert second.choices[0].message.content == "Yes."
    sent = upstream.requests[1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": ANSWER}
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="gpt-audio",
            messages=[
                {"role": "assistant", "audio": {"id": "audio_000000000000000000000000"}},
                {"role": "user", "content": "And then?"},
            ],
        )
    assert caught.value.body["code"] == "audio_not_found"  # type: ignore[index]
    assert caught.value.body["param"] == "messages[0].audio.id"  # type: ignore[index]


def test_another_keys_reply_cannot_be_referred_to(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    mine = chat_server.cli("keys", "create", "--name", "chat-a").stdout.strip().splitlines()[-1]
    theirs = chat_server.cli("keys", "create", "--name", "chat-b").stdout.strip().splitlines()[-1]
    upstream.plan(Reply(content=["Hello there."]))
    first = openai.OpenAI(base_url=f"{chat_server.base_url}/v1", api_key=mine, max_retries=0)
    reply = first.chat.completions.create(
        model="gpt-audio",
        modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": "Hi"}],
    )
    audio_id = reply.choices[0].message.audio.id  # type: ignore[union-attr]
    other = openai.OpenAI(base_url=f"{chat_server.base_url}/v1", api_key=theirs, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        other.chat.completions.create(
            model="gpt-audio",
            messages=[
                {"role": "assistant", "audio": {"id": audio_id}},
                {"role": "user", "content": "Go on"},
            ],
        )
    assert caught.value.body["code"] == "audio_not_found"  # type: ignore[index]


def test_earlier_spoken_turns_are_heard_once(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """A conversation resends its earlier audio with every request: the upstream is sent the
    same transcript, and only the new clip is recognised (faster-whisper logs each run)."""
    client = chat_server.client()
    question = spoken(chat_server, QUESTION)
    follow_up = spoken(chat_server, "Which country has the largest population?")
    upstream.plan(Reply(content=["Everest."]), Reply(content=["India."]))
    history = [{"role": "user", "content": [audio_part(question)]}]
    client.chat.completions.create(model="step-audio-chat", messages=history)  # type: ignore[arg-type]
    history += [
        {"role": "assistant", "content": "Everest."},
        {"role": "user", "content": [{"type": "text", "text": "Next question:"},
                                     audio_part(follow_up)]},
    ]  # fmt: skip
    runs_before = chat_server.log_path.read_text().count("Processing audio with duration")
    client.chat.completions.create(model="step-audio-chat", messages=history)  # type: ignore[arg-type]
    runs = chat_server.log_path.read_text().count("Processing audio with duration") - runs_before
    assert runs == 1
    first, second = (r.body["messages"] for r in upstream.requests)
    assert second[0] == first[0]  # the same transcript for the same audio
    assert second[2]["content"].startswith("Next question:\n")
    heard = second[2]["content"].removeprefix("Next question:\n")
    assert word_error_rate("which country has the largest population", heard) <= 0.2
    assert all(isinstance(m["content"], str) for m in second)


def test_control_characters_from_the_upstream_are_not_spoken(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """An upstream that writes a NUL (or another control character) in a later sentence: the
    reply is spoken whole and the stream ends with [DONE], as any other."""
    client = chat_server.client()
    said = "The first sentence is fine. The second\x00 has a\x1b control character."
    upstream.plan(Reply(content=word_pieces(said)))
    stream = client.chat.completions.create(
        model="gpt-4o-audio-preview", modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "pcm16"},
        messages=[{"role": "user", "content": QUESTION}], stream=True,
    )  # fmt: skip
    pcm, finished = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].finish_reason:
            finished = chunk.choices[0].finish_reason
        if chunk.choices and chunk.choices[0].delta.audio and chunk.choices[0].delta.audio.data:
            pcm.append(base64.b64decode(chunk.choices[0].delta.audio.data))
    assert finished == "stop"
    heard = transcribe(client, pcm_to_wav(b"".join(pcm)))
    assert word_error_rate(said.replace("\x00", "").replace("\x1b", ""), heard) <= 0.2, heard


def test_a_chinese_reply_is_spoken_by_a_voice_that_reads_it(
    chat_server: ServerProcess, upstream: ChatStandIn
) -> None:
    """The reply's voice (alloy: Piper's English joe) cannot read Chinese: its Chinese
    sentences are spoken by the Mandarin pack's voice, as /v1/audio/speech routes them, its
    English ones by alloy; whisper base hears both back."""
    from test_multilingual import character_error_rate

    client = chat_server.client()
    chinese = "今天天气很好，我们去公园散步吧。"
    said = f"Here is the sentence. {chinese}"
    upstream.plan(Reply(content=word_pieces(said)))
    reply = client.chat.completions.create(
        model="gpt-4o-audio-preview", modalities=["text", "audio"],
        audio={"voice": "alloy", "format": "wav"},
        messages=[{"role": "user", "content": "Tell me the sentence."}],
    )  # fmt: skip
    message = reply.choices[0].message
    assert message.audio is not None and message.audio.transcript == said
    answer = base64.b64decode(message.audio.data)
    audio = decode(answer, "wav")
    assert audio.sample_rate == 24000 and 2.5 < audio.duration < 10.0
    heard = client.audio.transcriptions.create(
        model="step-audio-asr-multilingual", file=("reply.wav", answer), language="zh"
    ).text
    assert character_error_rate(chinese, heard) <= 0.3, heard
    english = client.audio.transcriptions.create(
        model="step-audio-asr", file=("reply.wav", answer)
    ).text
    first_words = " ".join(clean_words(english).split()[:4])
    assert word_error_rate("Here is the sentence", first_words) <= 0.25, english
