"""The whole system as ``make run`` starts it (``passerelle up``, embedded broker), driven over HTTP."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from passerelle.testing import RunningSystem
from tests.e2e.browser import chromium, guarded_page


def child_pids(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")  # a zombie (exited, not yet reaped) counts as stopped
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


def stop(system: RunningSystem) -> tuple[int, list[int]]:
    """Ctrl-C; returns the exit code and the processes it had started that still run."""
    children = child_pids(system.process.pid)
    started = children + [g for c in children for g in child_pids(c)]
    code = system.interrupt()
    time.sleep(0.2)
    return code, [p for p in started if alive(p)]


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    running = RunningSystem(tmp_path_factory.mktemp("system"), os.environ.get("PASSERELLE_TEST_BOOTSTRAP"),
                            PASSERELLE_LOG_FORMAT="json")
    try:
        yield running.wait_ready()
    finally:
        if running.process.poll() is None:
            running.interrupt()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless (tests/e2e/browser.py), for a module's browser tests."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser, system):
    """A fresh browser context (own session storage) on the module's system whose every request
    must stay on the gateway."""
    with guarded_page(browser, system.url) as opened:
        yield opened
