"""The whole system as ``make run`` starts it (``passerelle up``, embedded broker), driven over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from passerelle.broker import free_port

BIN = Path(sys.executable).parent


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped) counts as stopped
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


class RunningSystem:
    def __init__(self, tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PASSERELLE_STATE_DIR": str(tmp / "state"),
                    "PASSERELLE_KAFKA__SESSION_TIMEOUT_MS": "2000", "PASSERELLE_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
                    "PASSERELLE_LOG_FORMAT": "json"}
        self.log = tmp / "passerelle-up.log"
        self.process = subprocess.Popen([BIN / "passerelle", "up", "--http", f"127.0.0.1:{self.port}"],
                                        env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(self.log.read_text()[-3000:])

    def token(self, rpps="10001234567", profession="10", *extra: str) -> str:
        out = subprocess.run([BIN / "passerelle", "token", "--rpps", rpps, "--profession", profession, *extra],
                             env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def stop(self) -> tuple[int, list[int]]:
        """SIGINT (Ctrl-C); returns the exit code and the processes it had started that still run."""
        children = child_pids(self.process.pid)
        grandchildren = [g for c in children for g in child_pids(c)]
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(30)
        time.sleep(0.2)
        return code, [p for p in children + grandchildren if alive(p)]


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    running = RunningSystem(tmp_path_factory.mktemp("system"))
    try:
        running.wait_ready()
        yield running
    finally:
        if running.process.poll() is None:
            running.stop()
