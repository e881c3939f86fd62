"""deploy/sglang's launch scripts run with a stand-in for Python that records the command line
it was given, and the flags SGLang's server and router accept (the two .txt lists beside this
module) to check those command lines against."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from deploy_files import HERE, SGLANG

FLAG = re.compile(r"--[a-z0-9]+(?:-[a-z0-9]+)*")
SERVER_FLAGS_FILE = HERE / "sglang_0.5.23_server_flags.txt"
ROUTER_FLAGS_FILE = HERE / "sglang_router_0.3.2_flags.txt"


def read_flags(path: Path) -> list[str]:
    """The flags of a list file, one a line, in its order; its # lines (first of all the one
    saying where the list comes from) are comments. A line that is no flag is an error."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"{path.name}: the first line says where the list comes from")
    flags = [line for line in lines if line and not line.startswith("#")]
    bad = [line for line in flags if not FLAG.fullmatch(line)]
    if bad:
        raise ValueError(f"{path.name}: not flags: {bad}")
    return flags


# `python -m sglang.launch_server`'s flags (what stepaudio_sglang.launch_server passes on)
SGLANG_SERVER_FLAGS = frozenset(read_flags(SERVER_FLAGS_FILE))
# `python -m sglang_router.launch_router`'s flags
SGLANG_ROUTER_FLAGS = frozenset(read_flags(ROUTER_FLAGS_FILE))

# script -> the --tp-size it must pass, and the other options it must pass with their values
SERVER_SCRIPTS: dict[str, dict[str, str | None]] = {
    "chat-tp8.sh": {"--tp-size": "8"},
    "chat-fp8-tp4.sh": {"--tp-size": "4", "--quantization": "fp8"},
    "chat-multinode.sh": {"--tp-size": "16"},
    "tts.sh": {"--tp-size": "1"},
}
ROUTER_SCRIPTS = {"router.sh"}
# starts several tts.sh and a router.sh, and stops them when it stops
SUPERVISOR_SCRIPTS = {"tts-replicas.sh"}
ALWAYS = {
    "--skip-tokenizer-init": None,
    "--enable-custom-logit-processor": None,
    "--attention-backend": "step1-alibi",
}

STUB = """#!{python}
import json, os, sys, time
records = os.environ["STUB_RECORDS"]
argv = sys.argv[1:]
if "sglang_router.launch_router" in argv:
    # the router starts once the servers started before it have (as they would)
    deadline = time.monotonic() + 20
    wanted = int(os.environ.get("STUB_SERVERS", "0"))
    while time.monotonic() < deadline:
        started = [n for n in os.listdir(records) if n.endswith(".json")]
        if len(started) >= wanted:
            break
        time.sleep(0.02)
path = os.path.join(records, f"{{os.getpid()}}.json")
with open(path + ".tmp", "w") as f:
    json.dump(argv, f)
os.replace(path + ".tmp", path)
time.sleep(float(os.environ.get("STUB_SLEEP", "0")))
"""


def scripts() -> list[Path]:
    return sorted(SGLANG.glob("*.sh"))


def stub_environment(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """A model folder, the stand-in for Python, and the environment a script runs with (none of
    this process's own variables but PATH: no LWS_* or MODEL_DIR leaks in)."""
    records = tmp_path / "records"
    records.mkdir(exist_ok=True)
    stub = tmp_path / "python-stub"
    stub.write_text(STUB.format(python=sys.executable), encoding="utf-8")
    stub.chmod(0o755)
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}", encoding="utf-8")
    return {
        "PATH": os.environ["PATH"],
        "PYTHON": str(stub),
        "STUB_RECORDS": str(records),
        "MODEL_DIR": str(model),
        **env,
    }


def run_script(
    script: str, tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 30
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    environment = stub_environment(tmp_path, env)
    done = subprocess.run(
        ["bash", str(SGLANG / script), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, read_records(Path(environment["STUB_RECORDS"]))


def read_records(records: Path) -> list[list[str]]:
    return [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))]


def options(argv: list[str]) -> dict[str, str | None]:
    """--flag value pairs (None for a flag without a value); a flag given twice keeps the last."""
    found: dict[str, str | None] = {}
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            value = argv[i + 1] if i + 1 < len(argv) and not argv[i + 1].startswith("--") else None
            found[argv[i]] = value
            i += 2 if value is not None else 1
        else:
            i += 1
    return found


def check_server_command(argv: list[str], wanted: dict[str, str | None], model: str) -> None:
    assert argv[:2] == ["-m", "stepaudio_sglang.launch_server"], argv
    flags = [a for a in argv[2:] if a.startswith("--")]
    unknown = [f for f in flags if f not in SGLANG_SERVER_FLAGS]
    assert not unknown, f"not flags of sglang.launch_server: {unknown}"
    given = options(argv[2:])
    assert given["--model-path"] == model
    for flag, value in {**ALWAYS, **wanted}.items():
        assert flag in given, f"{flag} missing from {argv}"
        assert given[flag] == value, f"{flag} {given[flag]!r}, expected {value!r}"


def check_router_command(argv: list[str]) -> dict[str, str | None]:
    assert argv[:2] == ["-m", "sglang_router.launch_router"], argv
    unknown = [a for a in argv[2:] if a.startswith("--") and a not in SGLANG_ROUTER_FLAGS]
    assert not unknown, f"not flags of sglang_router.launch_router: {unknown}"
    given = options(argv[2:])
    assert given["--policy"] == "cache_aware"
    return given


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a child of this process that has exited but not been reaped yet is not running
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
