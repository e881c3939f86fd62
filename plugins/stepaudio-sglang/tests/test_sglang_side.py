"""SGLang's side of Step-1: what runs without SGLang (imports, the launcher's arguments and its
exit without SGLang, the repetition processor's wire string), and, where SGLang's own
environment exists at ``/opt/sglang-env``, the model and backend inside it (the side check
script) and a whole SGLang server on the CPU against the plain-torch reference."""

from __future__ import annotations

import json
import os
import pickle
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from stepaudio_sglang import launch_server
from stepaudio_sglang.logit_processor import AUDIO_IDS, Step1RepetitionBan, processor_string
from stepaudio_sglang.repetition import WINDOW, banned_id

PLUGIN = Path(__file__).resolve().parents[1]
# where install.sh --test puts SGLang's own environment (as root, else under the user's cache)
_SIDE_ENVS = [os.environ.get("STEPAUDIO_TEST_SGLANG_ENV", ""), "/opt/sglang-env",
              str(Path.home() / ".cache" / "stepaudio" / "sglang-env")]  # fmt: skip
SIDE_PYTHON = next(
    (
        Path(env) / "bin" / "python"
        for env in _SIDE_ENVS
        if env and Path(env, "bin", "python").is_file()
    ),
    Path("/opt/sglang-env/bin/python"),
)
needs_side_env = pytest.mark.skipif(
    not SIDE_PYTHON.is_file(),
    reason=f"no SGLang environment at {SIDE_PYTHON}: ./install.sh --test makes one",
)
SGLANG_HERE = launch_server.sglang_installed()


def side_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PLUGIN), "PYTHONUNBUFFERED": "1"}


@pytest.fixture(scope="module")
def tiny_tts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    step1_llm = pytest.importorskip("stepaudio_codec.tiny.step1_llm")
    folder = tmp_path_factory.mktemp("Step-Audio-TTS-3B")
    step1_llm.write_tiny_step1(folder, "tts-3b", seed=0)
    return folder


# -- without SGLang -------------------------------------------------------------------------


def test_package_imports_without_sglang() -> None:
    code = (
        "import sys, pkgutil, stepaudio_sglang, stepaudio_sglang.models as m, "
        "stepaudio_sglang.launch_server\n"
        "print(sorted(n for _, n, _ in pkgutil.iter_modules(m.__path__)), 'sglang' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # SGLang's registry imports each module of the package: step1 is the one, not imported here
    assert done.stdout.split() == ["['step1']", "False"]


def test_server_argv_defaults() -> None:
    args = launch_server.server_argv(["--model-path", "/m", "--tp-size", "2"])
    assert args == [
        "--model-path", "/m", "--tp-size", "2", "--attention-backend", "step1-alibi",
        "--disable-decode-cuda-graph", "--disable-prefill-cuda-graph",
    ]  # fmt: skip


BACKEND = ["--attention-backend", "step1-alibi"]
NO_DECODE_GRAPH, NO_PREFILL_GRAPH = "--disable-decode-cuda-graph", "--disable-prefill-cuda-graph"


@pytest.mark.parametrize(
    ("given", "added"),
    [
        (["--attention-backend", "triton"], [NO_DECODE_GRAPH, NO_PREFILL_GRAPH]),
        (["--attention-backend=step1-alibi", "--disable-cuda-graph"], []),
        (["--cuda-graph-backend-decode", "full"], [*BACKEND, NO_PREFILL_GRAPH]),
        ([NO_PREFILL_GRAPH], [*BACKEND, NO_DECODE_GRAPH]),
        (["--cuda-graph-config={}"], BACKEND),
    ],
)
def test_server_argv_keeps_what_is_given(given: list[str], added: list[str]) -> None:
    assert launch_server.server_argv(given) == given + added


def test_custom_logit_processors_get_an_exact_window() -> None:
    # the overlap scheduler shows a processor output_ids one token late
    args = launch_server.server_argv(["--enable-custom-logit-processor"])
    assert args[-1] == "--disable-overlap-schedule"
    given = ["--enable-custom-logit-processor", "--disable-overlap-schedule"]
    assert launch_server.server_argv(given).count("--disable-overlap-schedule") == 1
    assert "--disable-overlap-schedule" not in launch_server.server_argv([])


def test_foreign_backends_are_named() -> None:
    argv = ["--attention-backend", "step1-alibi", "--decode-attention-backend=flashinfer"]
    assert launch_server.foreign_backends(argv) == ["flashinfer"]
    assert launch_server.foreign_backends(launch_server.server_argv([])) == []
    assert launch_server.flag_values(["--x", "1", "--x=2", "--x"], "--x") == ["1", "2"]


def test_prepare_environment_keeps_a_set_package() -> None:
    environ: dict[str, str] = {}
    launch_server.prepare_environment(environ)
    assert environ == {"SGLANG_EXTERNAL_MODEL_PACKAGE": "stepaudio_sglang.models"}
    environ = {"SGLANG_EXTERNAL_MODEL_PACKAGE": "their.models"}
    launch_server.prepare_environment(environ)
    assert environ == {"SGLANG_EXTERNAL_MODEL_PACKAGE": "their.models"}


def test_main_without_sglang_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(launch_server, "sglang_installed", lambda: False)
    monkeypatch.delenv("SGLANG_EXTERNAL_MODEL_PACKAGE", raising=False)
    assert launch_server.main(["--model-path", "/m"]) == 2
    assert "SGLang is not installed" in capsys.readouterr().err
    assert "SGLANG_EXTERNAL_MODEL_PACKAGE" not in os.environ


@pytest.mark.skipif(SGLANG_HERE, reason="SGLang is installed in this environment")
def test_module_without_sglang_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stepaudio_sglang.launch_server", "--model-path", "/m"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "SGLang is not installed" in done.stderr and sys.executable in done.stderr


# -- the repetition processor's wire string -------------------------------------------------


def test_processor_string_round_trips() -> None:
    wire = json.loads(processor_string())
    assert set(wire) == {"callable"}
    assert pickle.loads(bytes.fromhex(wire["callable"])) is Step1RepetitionBan


def request(prompt: list[int], output: list[int]) -> SimpleNamespace:
    return SimpleNamespace(origin_input_ids=prompt, output_ids=output)


@pytest.mark.parametrize(
    ("prompt", "output"),
    [
        ([5] * 3 + list(range(10, 17)), []),  # prompt only, last id once in the window
        (list(range(10, 19)), [12]),  # 12 twice in prompt + output: banned
        (list(range(30)), [7, 8, 7]),  # the window reaches back into the prompt
        ([9, 9], [9]),  # under 10 ids: nothing
        ([1], [4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4]),  # output alone fills the window
    ],
)
def test_processor_bans_as_the_rule_says(prompt: list[int], output: list[int]) -> None:
    processor = pickle.loads(bytes.fromhex(json.loads(processor_string())["callable"]))()
    logits = torch.zeros(2, 64)
    params = [{"__req__": request(prompt, output)}, {}]  # a row without a request: untouched
    out = processor(logits, params)
    expected = banned_id((prompt + output)[-WINDOW:])
    banned = torch.isinf(out[0]).nonzero().flatten().tolist()
    assert banned == ([] if expected is None else [expected])
    assert not torch.isinf(out[1]).any()


def test_processor_audio_only_keeps_audio_and_eot() -> None:
    processor = Step1RepetitionBan()
    logits = torch.zeros(1, 74752)
    prompt, output = list(range(20)), [65536 + 7, 70, 65536 + 7]  # <audio_7> repeats
    out = processor(logits, [{"audio_only": True, "__req__": request(prompt, output)}])
    finite = torch.isfinite(out[0]).nonzero().flatten()
    assert finite.tolist() == [3] + [i for i in AUDIO_IDS if i != 65536 + 7]


# -- in SGLang's own environment ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@needs_side_env
def test_side_check_matches_reference(tiny_tts: Path) -> None:
    script = PLUGIN / "tests" / "sglang_side_check.py"
    command = [str(SIDE_PYTHON), str(script), "--folder", str(tiny_tts), "--tp", "1", "2"]
    done = subprocess.run(command, capture_output=True, text=True, env=side_env(), timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    report = json.loads(lines[-1])
    assert report["matched"], report
    assert done.returncode == 0
    assert any(key.startswith("tp2/triton/") for key in report)


@pytest.fixture(scope="module")
def side_server(tiny_tts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m stepaudio_sglang.launch_server`` in SGLang's environment, on the CPU, in
    float32, serving the tiny folder; yields its base URL."""
    if not SIDE_PYTHON.is_file():
        pytest.skip(f"no SGLang environment at {SIDE_PYTHON}")
    httpx = pytest.importorskip("httpx")
    port = free_port()
    log = tmp_path_factory.mktemp("sglang") / "server.log"
    command = [
        str(SIDE_PYTHON), "-m", "stepaudio_sglang.launch_server", "--model-path", str(tiny_tts),
        "--device", "cpu", "--dtype", "float32", "--skip-tokenizer-init", "--port", str(port),
        "--max-total-tokens", "4096", "--context-length", "512", "--enable-custom-logit-processor",
        # SGLang's overlap scheduler hands a custom logit processor the request's output_ids
        # one token late (SGLang 0.5.23, seen here): the repetition rule is exact without it
        "--disable-overlap-schedule",
    ]  # fmt: skip
    with log.open("w") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=side_env())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while "ready to roll" not in log.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the SGLang server did not start:\n{log.read_text()[-4000:]}")
            time.sleep(1)
        assert httpx.get(f"{url}/model_info", timeout=30).status_code == 200
        yield url
    finally:
        server.terminate()  # SGLang's launcher takes its scheduler and detokenizer down with it
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


def greedy(
    reference: object, prompt: list[int], steps: int, ban: bool
) -> tuple[list[int], list[float]]:
    ids, logprobs = list(prompt), []
    for _ in range(steps):
        logits = reference(torch.tensor([ids]))[0, -1].clone()  # type: ignore[operator]
        if ban and (banned := banned_id(ids[-WINDOW:])) is not None:
            logits[banned] = float("-inf")
        token = int(logits.argmax())
        logprobs.append(logits.log_softmax(-1)[token].item())
        ids.append(token)
    return ids[len(prompt) :], logprobs


@pytest.mark.slow
@needs_side_env
def test_side_server_generates_as_the_reference(side_server: str, tiny_tts: Path) -> None:
    import httpx

    from stepaudio_sglang.reference import Step1Model

    reference = Step1Model.from_folder(tiny_tts)
    generator = torch.Generator().manual_seed(3)
    prompts = [torch.randint(4, 74752, (n,), generator=generator).tolist() for n in (9, 5)]

    def generate(ids: object, steps: int, **extra: object) -> object:
        body = {"input_ids": ids, "sampling_params": {"max_new_tokens": steps, "temperature": 0}}
        reply = httpx.post(f"{side_server}/generate", json={**body, **extra}, timeout=300)
        reply.raise_for_status()
        return reply.json()

    batch = generate(prompts, 12, return_logprob=True)  # two requests decoded together
    for prompt, item in zip(prompts, batch, strict=True):
        ids, logprobs = greedy(reference, prompt, 12, ban=False)
        assert item["output_ids"] == ids
        served = [entry[0] for entry in item["meta_info"]["output_token_logprobs"]]
        assert max(abs(a - b) for a, b in zip(served, logprobs, strict=True)) < 1e-4
    longer = prompts[0] + [11, 12]  # its first 9 ids come from the radix cache
    item = generate(longer, 6)
    assert item["meta_info"]["cached_tokens"] >= len(prompts[0])
    assert item["output_ids"] == greedy(reference, longer, 6, ban=False)[0]
    # the repetition rule, which SGLang applies only with a dict of custom_params (it adds
    # "__req__" to those alone)
    plain_ids = greedy(reference, prompts[1], 12, ban=False)[0]
    banned_ids = greedy(reference, prompts[1], 12, ban=True)[0]
    assert banned_ids != plain_ids  # the ban matters for this prompt
    processor = {"custom_logit_processor": processor_string()}
    sampling = {"max_new_tokens": 12, "temperature": 0, "custom_params": {}}
    body = {"input_ids": prompts[1], "sampling_params": sampling, **processor}
    assert httpx.post(f"{side_server}/generate", json=body, timeout=300).json()["output_ids"] == (
        banned_ids
    )
    assert generate(prompts[1], 12, **processor)["output_ids"] == plain_ids
