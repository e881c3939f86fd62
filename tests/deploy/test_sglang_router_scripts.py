"""deploy/sglang's router.sh and tts-replicas.sh, run with a stand-in for Python: the router's
command lines are all flags of sglang-router 0.3.2, and tts-replicas.sh starts its TTS servers
and a router in front of them, and stops them all when it is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from deploy_files import SGLANG
from deploy_sglang import (
    SERVER_SCRIPTS,
    check_router_command,
    check_server_command,
    is_running,
    options,
    run_script,
    stub_environment,
)


def test_router_script_with_worker_urls(tmp_path: Path) -> None:
    env = {"WORKER_URLS": "http://gpu-1:30001 http://gpu-2:30001"}
    done, records = run_script("router.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    check_router_command(argv)
    start = argv.index("--worker-urls") + 1
    assert argv[start : start + 2] == ["http://gpu-1:30001", "http://gpu-2:30001"]
    assert "--service-discovery" not in argv


def test_router_script_with_service_discovery(tmp_path: Path) -> None:
    env = {"SERVICE_DISCOVERY_SELECTOR": "app.kubernetes.io/name=sglang-tts",
           "SERVICE_DISCOVERY_NAMESPACE": "stepaudio"}  # fmt: skip
    done, records = run_script("router.sh", tmp_path, env)
    assert done.returncode == 0, done.stderr
    (argv,) = records
    given = check_router_command(argv)
    assert "--service-discovery" in given and "--worker-urls" not in given
    assert given["--selector"] == "app.kubernetes.io/name=sglang-tts"
    assert given["--service-discovery-port"] == "30001"
    assert given["--service-discovery-namespace"] == "stepaudio"


def test_router_script_needs_its_servers(tmp_path: Path) -> None:
    done, records = run_script("router.sh", tmp_path, {})
    assert done.returncode != 0 and "WORKER_URLS" in done.stderr
    assert records == []


def test_tts_replicas_start_servers_and_a_router(tmp_path: Path) -> None:
    env = {"REPLICAS": "3", "FIRST_GPU": "4", "STUB_SERVERS": "3"}
    done, records = run_script("tts-replicas.sh", tmp_path, env, "--log-requests")
    assert done.returncode == 0, done.stderr
    servers = [r for r in records if "stepaudio_sglang.launch_server" in r]
    routers = [r for r in records if "sglang_router.launch_router" in r]
    assert len(servers) == 3 and len(routers) == 1
    urls = []
    for argv in servers:
        check_server_command(argv, SERVER_SCRIPTS["tts.sh"], str(tmp_path / "model"))
        given = options(argv)
        assert given["--host"] == "127.0.0.1"
        urls.append((given["--base-gpu-id"], f"http://127.0.0.1:{given['--port']}"))
        assert argv[-1] == "--log-requests"
    assert sorted(gpu for gpu, _ in urls) == ["4", "5", "6"]
    (router,) = routers
    given = check_router_command(router)
    assert given["--port"] == "30001"
    start = router.index("--worker-urls") + 1
    assert sorted(router[start : start + 3]) == sorted(url for _, url in urls)


def test_tts_replicas_stop_their_servers_when_stopped(tmp_path: Path) -> None:
    environment = stub_environment(
        tmp_path, {"REPLICAS": "2", "STUB_SERVERS": "2", "STUB_SLEEP": "60"}
    )
    records = Path(environment["STUB_RECORDS"])
    process = subprocess.Popen(["bash", str(SGLANG / "tts-replicas.sh")], env=environment)
    try:
        deadline = time.monotonic() + 20
        while len(list(records.glob("*.json"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = [int(p.stem) for p in records.glob("*.json")]
        assert len(started) == 3, "two servers and the router did not all start"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) != 0
        deadline = time.monotonic() + 10
        alive = started
        while alive and time.monotonic() < deadline:
            alive = [pid for pid in started if is_running(pid)]
            time.sleep(0.05)
        assert not alive, f"processes left running: {alive}"
    finally:
        if process.poll() is None:
            process.kill()
        for path in records.glob("*.json"):
            if is_running(int(path.stem)):
                os.kill(int(path.stem), signal.SIGKILL)
