"""A PostgreSQL server of the test's own (initdb in a temporary folder, on a free port), that the
test may stop, restart and kill without touching the cluster the rest of the suite uses.

The binaries are the installed PostgreSQL's (install.sh --test installs them); as root it runs
as the `postgres` system user, as PostgreSQL requires.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
from conftest import free_port


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PostgresInstance:
    def __init__(self) -> None:
        binaries = _binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL's binaries are not installed (./install.sh --test)")
        self.bin = binaries
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="stepaudio-pg-"))
        self.data = self.folder / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")
            os.chmod(self.folder, 0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "stepaudio")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "stepaudio",
                  "stepaudio")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://stepaudio@127.0.0.1:{self.port}/stepaudio"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd="/")

    def _ctl(self, action: str, *extra: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
                  *extra, action)  # fmt: skip

    def start(self) -> None:
        self._ctl("start")
        self.wait_until_up()

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def restart(self) -> None:
        """Fast: every connection is cut, as an operator's restart or a failover does."""
        self._ctl("restart", "-m", "fast")
        self.wait_until_up()

    def wait_until_up(self, timeout: float = 30.0) -> None:
        import asyncio

        async def up() -> bool:
            try:
                connection = await asyncpg.connect(host="127.0.0.1", port=self.port,
                                                   user="stepaudio", database="postgres",
                                                   timeout=1)  # fmt: skip
            except Exception:
                return False
            await connection.close()
            return True

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if asyncio.run(up()):
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on {self.port} did not come up")

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
