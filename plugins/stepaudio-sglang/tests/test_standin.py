"""The SGLang stand-in over real HTTP: answers against the reference model called directly,
SGLang's streaming forms, finish reasons and meta_info, /abort_request, the custom logit
processor, skip_tokenizer_init, and SGLang's error shapes. A tiny random TTS-3B checkpoint."""

from __future__ import annotations

import itertools
import json
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch

from stepaudio_codec.tiny.step1_llm import write_tiny_step1
from stepaudio_sglang.logit_processor import processor_string
from stepaudio_sglang.reference import Step1Model, Step1Tokenizer
from stepaudio_sglang.repetition import banned_id
from stepaudio_sglang.standin import running_standin

PROMPT = [1, *range(400, 409)]  # ten ids, none repeated
SPECIAL = {0, 1, 2, 3, 4}  # tokenizer_config.json's special added tokens


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("standin") / "Step-Audio-TTS-3B"
    write_tiny_step1(path, "tts-3b", seed=0)
    return path


@pytest.fixture(scope="module")
def model(folder: Path) -> Step1Model:
    return Step1Model.from_folder(folder)


def _client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def plain(folder: Path) -> Iterator[httpx.Client]:
    with running_standin(folder) as url:
        yield from _client(url)


@pytest.fixture(scope="module")
def incremental(folder: Path) -> Iterator[httpx.Client]:
    with running_standin(
        folder, incremental_streaming_output=True, enable_custom_logit_processor=True
    ) as url:
        yield from _client(url)


@pytest.fixture(scope="module")
def ids_only(folder: Path) -> Iterator[httpx.Client]:
    with running_standin(folder, skip_tokenizer_init=True, context_length=32) as url:
        yield from _client(url)


def reference_greedy(
    model: Step1Model, prompt: list[int], steps: int, ban: bool = False
) -> list[int]:
    """Greedy decoding with the reference model directly (prefill, then cached steps)."""
    cache = model.new_cache()
    logits = model(torch.tensor(prompt), cache)[0, -1]
    out: list[int] = []
    for _ in range(steps):
        row = logits.clone()
        banned = banned_id(prompt + out) if ban else None
        if banned is not None:
            row[banned] = float("-inf")
        out.append(int(row.argmax()))
        logits = model(torch.tensor([out[-1]]), cache)[0, -1]
    return out


def sglang_text(folder: Path, prompt: list[int], output: list[int]) -> str:
    """What SGLang's detokenizer sends: the output decoded after up to 5 prompt ids of
    context, special tokens skipped."""
    tokenizer = Step1Tokenizer.from_folder(folder)

    def decode(ids: list[int]) -> str:
        return tokenizer.decode([i for i in ids if i not in SPECIAL])

    context = prompt[-5:]
    return decode(context + output)[len(decode(context)) :]


def greedy(steps: int, **extra: Any) -> dict[str, Any]:
    params = {"temperature": 0, "max_new_tokens": steps, "ignore_eos": True}
    params.update(extra.pop("sampling_params", {}))
    return {"input_ids": PROMPT, "sampling_params": params, **extra}


def stream(client: httpx.Client, body: dict[str, Any]) -> list[Any]:
    """Every ``data:`` payload of a streamed /generate, ``[DONE]`` included."""
    chunks: list[Any] = []
    with client.stream("POST", "/generate", json={**body, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line:
                assert line.startswith("data: ")
                payload = line[len("data: ") :]
                chunks.append(payload if payload == "[DONE]" else json.loads(payload))
    return chunks


def test_greedy_answer_is_the_reference_greedy_decoding(plain, model, folder) -> None:
    expected = reference_greedy(model, PROMPT, 8)
    answer = plain.post("/generate", json=greedy(8, rid="greedy-1")).json()
    assert answer["output_ids"] == expected
    assert answer["text"] == sglang_text(folder, PROMPT, expected)
    meta = answer["meta_info"]
    assert meta["id"] == "greedy-1"
    assert meta["finish_reason"] == {"type": "length", "length": 8}
    assert (meta["prompt_tokens"], meta["completion_tokens"], meta["cached_tokens"]) == (10, 8, 0)
    assert meta["e2e_latency"] > 0 and "weight_version" in meta

    text = plain.post("/generate", json={"text": "hello world", "sampling_params": {
        "temperature": 0, "max_new_tokens": 2}}).json()  # fmt: skip
    ids = Step1Tokenizer.from_folder(folder).encode("hello world")  # TTS-3B adds no <s>
    assert text["meta_info"]["prompt_tokens"] == len(ids)
    assert text["output_ids"] == reference_greedy(model, ids, 2)


def test_streamed_chunks_cumulative_and_incremental(plain, incremental) -> None:
    whole = plain.post("/generate", json=greedy(6)).json()
    cumulative, delta = stream(plain, greedy(6)), stream(incremental, greedy(6))
    for chunks in (cumulative, delta):
        assert chunks[-1] == "[DONE]"
        reasons = [chunk["meta_info"]["finish_reason"] for chunk in chunks[:-1]]
        assert reasons[:-1] == [None] * (len(reasons) - 1)
        assert reasons[-1] == {"type": "length", "length": 6}
        assert [c["meta_info"]["completion_tokens"] for c in chunks[:-1]] == [1, 2, 3, 4, 5, 6]
    cumulative_ids = [chunk["output_ids"] for chunk in cumulative[:-1]]
    assert cumulative_ids == [whole["output_ids"][:n] for n in range(1, 7)]
    texts = [chunk["text"] for chunk in cumulative[:-1]]
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts))
    assert texts[-1] == whole["text"]
    pieces = [chunk["output_ids"] for chunk in delta[:-1]]
    assert all(len(piece) == 1 for piece in pieces)  # one new id each, none sent twice
    assert [i for piece in pieces for i in piece] == whole["output_ids"]
    assert "".join(chunk["text"] for chunk in delta[:-1]) == whole["text"]


def test_stop_token_ids_end_with_the_matched_id(plain, folder) -> None:
    free = plain.post("/generate", json=greedy(8)).json()["output_ids"]
    k = next(i for i in range(1, 8) if free[i] not in free[:i])
    body = greedy(8, sampling_params={"ignore_eos": False, "stop_token_ids": [free[k]]})
    answer = plain.post("/generate", json=body).json()
    assert answer["output_ids"] == free[: k + 1]  # SGLang keeps the stop id in output_ids
    assert answer["meta_info"]["finish_reason"] == {"type": "stop", "matched": free[k]}
    assert answer["meta_info"]["completion_tokens"] == k + 1
    assert answer["text"] == sglang_text(folder, PROMPT, free[:k])  # ...but not in the text
    body["sampling_params"]["ignore_eos"] = True  # ignore_eos also ignores stop_token_ids
    ignored = plain.post("/generate", json=body).json()
    assert ignored["meta_info"]["finish_reason"] == {"type": "length", "length": 8}


def test_eos_ids_min_new_tokens_and_stop_strings(plain, ids_only, folder) -> None:
    def ask(client: httpx.Client, **params: Any) -> dict[str, Any]:
        body = {"input_ids": PROMPT, "sampling_params": {"temperature": 0, **params}}
        return client.post("/generate", json=body).json()

    # the config's eos_token_id (3, <|EOT|>) and, with a tokenizer, the tokenizer's (2, </s>)
    for client, eos in ((plain, 3), (plain, 2), (ids_only, 3)):
        answer = ask(client, max_new_tokens=4, logit_bias={str(eos): 100.0})
        assert answer["output_ids"] == [eos]
        assert answer["meta_info"]["finish_reason"] == {"type": "stop", "matched": eos}
    assert ask(plain, max_new_tokens=4, logit_bias={"3": 100.0})["text"] == ""
    no_tokenizer_eos = ask(ids_only, max_new_tokens=2, logit_bias={"2": 100.0})
    assert no_tokenizer_eos["meta_info"]["finish_reason"] == {"type": "length", "length": 2}
    late = ask(plain, max_new_tokens=5, min_new_tokens=2, logit_bias={"3": 100.0})
    assert late["output_ids"][2:] == [3] and 3 not in late["output_ids"][:2]

    free = ask(plain, max_new_tokens=6, ignore_eos=True)
    stop = free["text"][len(free["text"]) // 2 :][:3]
    cut = ask(plain, max_new_tokens=6, ignore_eos=True, stop=stop)
    assert cut["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop}
    assert cut["output_ids"] == free["output_ids"][: len(cut["output_ids"])]
    assert cut["text"] == sglang_text(folder, PROMPT, cut["output_ids"]).split(stop)[0]
    kept = ask(plain, max_new_tokens=6, ignore_eos=True, stop=stop, no_stop_trim=True)
    assert kept["text"] == sglang_text(folder, PROMPT, cut["output_ids"])
    chunks = stream(plain, {"input_ids": PROMPT, "sampling_params": {
        "temperature": 0, "max_new_tokens": 6, "ignore_eos": True, "stop": stop}})  # fmt: skip
    assert chunks[-2]["text"] == cut["text"]  # held back while the tail could begin the stop
    assert all(stop not in chunk["text"] for chunk in chunks[:-1])


def test_abort_request_ends_running_stream_and_waiting_request(plain) -> None:
    events: dict[str, Any] = {"chunks": [], "first": threading.Event()}

    def read_long_stream() -> None:
        body = greedy(5000, rid="long-1", stream=True)
        with plain.stream("POST", "/generate", json=body) as response:
            for line in response.iter_lines():
                if line:
                    events["chunks"].append(line)
                    events["first"].set()
        events["ended"] = time.monotonic()

    def queued_request() -> None:
        events["queued"] = plain.post("/generate", json=greedy(4, rid="queued-1")).json()

    long_reader = threading.Thread(target=read_long_stream)
    long_reader.start()
    assert events["first"].wait(30)
    queued = threading.Thread(target=queued_request)
    queued.start()
    deadline = time.monotonic() + 10
    while plain.get("/get_server_info").json()["internal_states"][0]["waiting_queue_size"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    duplicate = plain.post("/generate", json=greedy(2, rid="long-1"))
    assert duplicate.json() == {"error": {"message": "Duplicate request ID detected: long-1"}}
    assert plain.post("/abort_request", json={"rid": "queued-1"}).status_code == 200
    queued.join(10)
    waiting = events["queued"]
    assert waiting["output_ids"] == [] and waiting["meta_info"]["completion_tokens"] == 0
    assert waiting["meta_info"]["finish_reason"] == {
        "type": "abort",
        "message": "Abort in waiting queue",
    }
    sent = time.monotonic()
    response = plain.post("/abort_request", json={"rid": "long-1"})
    assert response.status_code == 200 and response.content == b""
    long_reader.join(10)
    assert events["ended"] - sent < 1.0
    assert events["chunks"][-1] == "data: [DONE]"
    last = json.loads(events["chunks"][-2][len("data: ") :])
    assert last["meta_info"]["finish_reason"] == {
        "type": "abort",
        "message": "Aborted",
        "status_code": None,
        "err_type": None,
    }
    assert 0 < last["meta_info"]["completion_tokens"] < 5000
    assert len(last["output_ids"]) == last["meta_info"]["completion_tokens"]
    assert plain.post("/abort_request", json={"rid": "nobody"}).status_code == 200


def test_a_client_leaving_a_stream_aborts_its_request(plain) -> None:
    with plain.stream("POST", "/generate", json=greedy(5000, stream=True)) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    deadline = time.monotonic() + 2
    while plain.get("/get_server_info").json()["internal_states"][0]["running_batch_size"]:
        assert time.monotonic() < deadline, "the abandoned stream kept generating"
        time.sleep(0.02)


def test_custom_logit_processor_bans_the_repeated_last_id(incremental, plain, model) -> None:
    free = reference_greedy(model, PROMPT, 12)
    hit = next(i for i in range(12) if banned_id(PROMPT + free[:i]) == free[i])
    prompt = PROMPT + free[:hit]  # ends in a repeated id that greedy decoding would repeat
    repeated = banned_id(prompt)
    assert repeated is not None and reference_greedy(model, prompt, 1) == [repeated]

    def ask(client: httpx.Client, **extra: Any) -> list[int]:
        body = {"input_ids": prompt, "sampling_params": {
            "temperature": 0, "max_new_tokens": 4, "ignore_eos": True}}  # fmt: skip
        body["sampling_params"].update(extra.pop("sampling_params", {}))
        answer = client.post("/generate", json={**body, **extra})
        assert answer.status_code == 200, answer.text
        return answer.json()["output_ids"]

    banned = ask(incremental, custom_logit_processor=processor_string(),
                 sampling_params={"custom_params": {}})  # fmt: skip
    assert banned == reference_greedy(model, prompt, 4, ban=True)
    assert banned[0] != repeated
    assert ask(incremental) == reference_greedy(model, prompt, 4)
    # SGLang adds "__req__" only to a dict of custom_params: without one nothing is banned
    assert ask(incremental, custom_logit_processor=processor_string())[0] == repeated

    refused = plain.post("/generate", json=greedy(2, custom_logit_processor=processor_string()))
    assert refused.status_code == 400
    assert refused.json() == {"error": {"message": (
        "The server is not configured to enable custom logit processor. Please set "
        "`--enable-custom-logit-processor` to enable this feature.")}}  # fmt: skip
    foreign = json.dumps({"callable": pickle.dumps(OrderedDict, protocol=2).hex()})
    answer = incremental.post("/generate", json=greedy(2, custom_logit_processor=foreign))
    assert answer.status_code == 400
    assert "collections.OrderedDict" in answer.json()["error"]["message"]
    assert "stepaudio_sglang.*" in answer.json()["error"]["message"]


def test_skip_tokenizer_init_serves_ids_only(ids_only, model) -> None:
    refused = ids_only.post("/generate", json={"text": "hello"})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith(
        "The engine initialized with skip_tokenizer_init=True cannot accept text prompts."
    )
    answer = ids_only.post("/generate", json=greedy(3)).json()
    assert set(answer) == {"output_ids", "meta_info"}
    assert answer["output_ids"] == reference_greedy(model, PROMPT, 3)
    chunks = stream(ids_only, greedy(2))
    assert all("text" not in chunk for chunk in chunks[:-1])
    stop = ids_only.post("/generate", json=greedy(2, sampling_params={"stop": ["x"]}))
    assert stop.json()["error"]["message"].startswith("stop=['x'] is unavailable")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"top_p": 0}, "top_p must be in (0, 1], got 0."),
        ({"temperature": -1}, "temperature must be a non-negative finite number, got -1."),
        ({"top_k": 0}, "top_k must be -1 (disable) or at least 1, got 0."),
        ({"min_p": 2}, "min_p must be in [0, 1], got 2."),
        ({"max_new_tokens": -1}, "max_new_tokens must be at least 0, got -1."),
        ({"frequency_penalty": 3}, "frequency_penalty must be in [-2, 2], got 3."),
        ({"repetition_penalty": 0},
         "repetition_penalty must be in (0, 2] (1.0 = no penalty), got 0."),
    ],
)  # fmt: skip
def test_invalid_sampling_params_as_sglang_refuses_them(plain, params, message) -> None:
    response = plain.post("/generate", json={"input_ids": PROMPT, "sampling_params": params})
    assert (response.status_code, response.json()) == (400, {"error": {"message": message}})


def test_error_shapes(plain, ids_only) -> None:
    missing = plain.post("/generate", json={"sampling_params": {}})
    assert missing.status_code == 400
    assert missing.json() == {
        "error": {"message": "Either text, input_ids or input_embeds should be provided."}
    }
    unknown = plain.post("/generate", json={"input_ids": PROMPT, "sampling_params": {"foo": 1}})
    assert (unknown.status_code, unknown.text) == (500, "Internal Server Error")
    not_json = plain.post(
        "/generate", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert set(not_json.json()) == {"object", "message", "type", "param", "code"}
    assert (not_json.json()["object"], not_json.json()["code"]) == ("error", 400)
    streamed = stream(plain, {"sampling_params": {}})  # a stream's error: status 200, one chunk
    assert streamed == [
        {"error": {"message": "Either text, input_ids or input_embeds should be provided."}},
        "[DONE]",
    ]
    too_long = ids_only.post("/generate", json={"input_ids": list(range(5, 45))})
    assert too_long.json()["error"]["message"] == (
        "The input (40 tokens) is longer than the model's context length (32 tokens)."
    )
    total = ids_only.post("/generate", json=greedy(30))
    assert total.json()["error"]["message"].startswith(
        "Requested token count exceeds the model's maximum context length of 32 tokens. "
        "You requested a total of 40 tokens: 10 tokens from the input messages and 30"
    )
    near = ids_only.post("/generate", json={"input_ids": list(range(5, 33))})  # 28 >= 32 - 6
    assert near.status_code == 400
    assert near.json()["error"]["message"] == (
        "Input length (28 tokens) exceeds the maximum allowed length (26 tokens). "
        "Use a shorter input or enable --allow-auto-truncate."
    )
    body = {"input_ids": list(range(5, 25)), "sampling_params": {"ignore_eos": True}}
    clipped = ids_only.post("/generate", json=body)  # max_new_tokens clipped to 32 - 1 - 20 - 1
    assert clipped.json()["meta_info"]["finish_reason"] == {"type": "length", "length": 10}


def test_seeded_sampling_repeats(plain) -> None:
    def sample(seed: int) -> list[int]:
        params = {"temperature": 0.9, "top_p": 0.95, "top_k": 50, "sampling_seed": seed,
                  "max_new_tokens": 5, "ignore_eos": True}  # fmt: skip
        return plain.post(
            "/generate", json={"input_ids": PROMPT, "sampling_params": params}
        ).json()["output_ids"]

    first = sample(7)
    assert sample(7) == first
    assert sample(8) != first


def test_health_and_info(plain, ids_only, folder) -> None:
    assert plain.get("/health").status_code == 200
    assert plain.get("/health_generate").status_code == 200
    info = plain.get("/get_model_info").json()
    assert info["is_generation"] is True and info["model_path"] == str(folder)
    assert ids_only.get("/get_model_info").json()["tokenizer_path"] is None
    server = ids_only.get("/get_server_info").json()
    assert server["skip_tokenizer_init"] is True and server["context_length"] == 32
    assert "stand_in" in server and server["version"].startswith("0.5.")
