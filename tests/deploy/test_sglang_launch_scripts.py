"""deploy/sglang's launch scripts, run with a stand-in for Python that records the command line
it was given: strict bash, documented settings, and the SGLang server command lines they make
(one node, several nodes under a LeaderWorkerSet or by hand) all flags of SGLang 0.5.23."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from deploy_files import SGLANG, logical_lines
from deploy_sglang import (
    ALWAYS,
    ROUTER_FLAGS_FILE,
    ROUTER_SCRIPTS,
    SERVER_FLAGS_FILE,
    SERVER_SCRIPTS,
    SUPERVISOR_SCRIPTS,
    check_server_command,
    options,
    read_flags,
    run_script,
    scripts,
)


@pytest.mark.parametrize("path", [SERVER_FLAGS_FILE, ROUTER_FLAGS_FILE], ids=lambda p: p.name)
def test_flag_list_says_its_source_and_holds_flags_sorted(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = " ".join(line for line in lines if line.startswith("#"))
    version = re.search(r"_(\d+\.\d+\.\d+)_", path.name)
    assert version and re.search(rf" {re.escape(version.group(1))}\b", header), "its release"
    assert "PyPI" in header and "read from" in header, "the header says where it comes from"
    flags = read_flags(path)
    assert flags == sorted(set(flags)), "sorted, each flag once"
    must = {*ALWAYS, "--model-path", "--tp-size", "--pp-size", "--host", "--port"}
    if path == ROUTER_FLAGS_FILE:
        must = {"--policy", "--worker-urls", "--service-discovery", "--selector", "--port"}
    assert must <= set(flags)


def test_flag_list_refuses_a_line_that_is_no_flag(tmp_path: Path) -> None:
    listed = tmp_path / "flags.txt"
    listed.write_text("# where from\n--good-flag\n--Bad_flag\n", encoding="utf-8")
    with pytest.raises(ValueError, match="--Bad_flag"):
        read_flags(listed)
    listed.write_text("--no-header\n", encoding="utf-8")
    with pytest.raises(ValueError, match="where the list comes from"):
        read_flags(listed)


def test_every_script_is_classified() -> None:
    assert {p.name for p in scripts()} == (
        set(SERVER_SCRIPTS) | ROUTER_SCRIPTS | SUPERVISOR_SCRIPTS
    ), "a launch script was added or removed: say here what it must do"


@pytest.mark.parametrize("script", scripts(), ids=lambda p: p.name)
def test_script_is_strict_bash_with_documented_variables(script: Path) -> None:
    checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    lines = script.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    # each NAME=${NAME:-default} setting follows a comment saying what it is for
    assignment = re.compile(r"^([A-Z][A-Z0-9_]*)=\$\{\1:-")
    settings = [i for i, line in enumerate(lines) if assignment.match(line)]
    assert settings, f"{script.name} has no settings with defaults"
    for i in settings:
        assert lines[i - 1].startswith("#"), f"{script.name}:{i + 1}: {lines[i]} has no comment"


@pytest.mark.parametrize("script", [*SERVER_SCRIPTS, *ROUTER_SCRIPTS])
def test_script_ends_in_its_launcher(script: str) -> None:
    last = logical_lines((SGLANG / script).read_text(encoding="utf-8"))[-1]
    module = (
        "sglang_router.launch_router"
        if script in ROUTER_SCRIPTS
        else "stepaudio_sglang.launch_server"
    )
    assert shlex.split(last)[:4] == ["exec", "$PYTHON", "-m", module], last
    assert last.endswith('"$@"'), "arguments after the script's name are passed on"


@pytest.mark.parametrize("script", ["chat-tp8.sh", "chat-fp8-tp4.sh", "tts.sh"])
def test_single_node_server_script(script: str, tmp_path: Path) -> None:
    done, records = run_script(script, tmp_path, {}, "--log-requests")
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_server_command(argv, SERVER_SCRIPTS[script], str(tmp_path / "model"))
    assert argv[-1] == "--log-requests"
    given = options(argv)
    assert given["--host"] == "0.0.0.0"
    assert given["--port"] == ("30001" if script == "tts.sh" else "30000")


def test_server_script_refuses_a_folder_without_config(tmp_path: Path) -> None:
    done, records = run_script("chat-tp8.sh", tmp_path, {"MODEL_DIR": str(tmp_path / "nothing")})
    assert done.returncode != 0 and "config.json" in done.stderr
    assert records == []


def test_multinode_script_under_a_leaderworkerset(tmp_path: Path) -> None:
    env = {"LWS_LEADER_ADDRESS": "sglang-chat-0.sglang-chat", "LWS_WORKER_INDEX": "1",
           "LWS_GROUP_SIZE": "2"}  # fmt: skip
    done, records = run_script("chat-multinode.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_server_command(
        argv,
        {"--tp-size": "16", "--nnodes": "2", "--node-rank": "1",
         "--dist-init-addr": "sglang-chat-0.sglang-chat:20000"},
        str(tmp_path / "model"),
    )  # fmt: skip
    assert "--pp-size" not in argv


def test_multinode_script_with_pipeline_stages(tmp_path: Path) -> None:
    env = {"NODE_RANK": "0", "DIST_INIT_ADDR": "10.0.0.1:20000", "TP_SIZE": "8", "PP_SIZE": "2"}
    done, records = run_script("chat-multinode.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_server_command(
        argv,
        {"--tp-size": "8", "--pp-size": "2", "--nnodes": "2", "--node-rank": "0",
         "--dist-init-addr": "10.0.0.1:20000"},
        str(tmp_path / "model"),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIST_INIT_ADDR": "10.0.0.1:20000"}, "NODE_RANK"),
        ({"NODE_RANK": "0"}, "DIST_INIT_ADDR"),
        ({"NODE_RANK": "2", "DIST_INIT_ADDR": "a:1"}, "not in 0..1"),
        ({"NODE_RANK": "0", "DIST_INIT_ADDR": "a:1", "TP_SIZE": "8"}, "TP_SIZE 8 x PP_SIZE 1"),
    ],
)
def test_multinode_script_refuses_an_incomplete_group(
    env: dict[str, str], message: str, tmp_path: Path
) -> None:
    done, records = run_script("chat-multinode.sh", tmp_path, env)
    assert done.returncode != 0
    assert message in done.stderr
    assert records == []
