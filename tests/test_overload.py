"""A full worker pool answers 503 with Retry-After at once, instead of hanging."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from conftest import ServerProcess
from databases import Backend, fresh_database_url

ASR = "step-audio-asr"  # English and fast: the queue, not the model, is under test


@pytest.fixture(scope="module")
def tiny_server(
    tmp_path_factory: pytest.TempPathFactory, db_backend: Backend
) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("tiny"),
        fresh_database_url(db_backend),
        env={"STEPAUDIO_WORKERS__THREADS": "1", "STEPAUDIO_WORKERS__QUEUE_SIZE": "1"},
    )
    yield process
    process.stop()


@pytest.mark.slow
def test_full_queue_answers_503_with_retry_after(tiny_server, testdata) -> None:  # type: ignore[no-untyped-def]
    client = tiny_server.client()
    audio = (testdata / "en_jfk.flac").read_bytes()

    def transcribe(_: int) -> object:
        try:
            return client.audio.transcriptions.create(model=ASR, file=("a.flac", audio))
        except openai.APIStatusError as error:
            return error

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(transcribe, range(8)))
    refused = [r for r in results if isinstance(r, openai.APIStatusError)]
    served = [r for r in results if not isinstance(r, openai.APIStatusError)]
    assert refused and served, results
    assert len(served) <= 4  # one thread and a queue of one, plus requests that came after
    for error in refused:
        assert error.status_code == 503
        assert error.response.headers["retry-after"] == "1"
        assert error.body["code"] == "engine_overloaded"  # type: ignore[index]
    # the SDK's own retries honour Retry-After: with them, every request of the burst succeeds
    retrying = tiny_server.client(max_retries=10)

    def transcribe_with_retries(_: int) -> str:
        return retrying.audio.transcriptions.create(model=ASR, file=("a.flac", audio)).text

    with ThreadPoolExecutor(4) as pool:
        texts = list(pool.map(transcribe_with_retries, range(4)))
    assert all("country" in text for text in texts)
