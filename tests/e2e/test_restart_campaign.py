"""Restart campaign (issue 18): consent directives, dispensations and audit records are written,
the whole system (``passerelle up``, embedded broker) is stopped, by Ctrl-C and then by SIGKILL of
``passerelle up`` itself, and started again on the same state directory: every decision afterwards
is the one made before the stop. Beside it, the failure campaign kills one worker at a time."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import httpx
import pytest

from passerelle.testing import RunningSystem
from passerelle.audit_store import AuditStore
from tests.e2e.conftest import alive, child_pids
from tests.e2e.test_consent_e2e import consent_cli
from tests.e2e.test_patient_summary_api import ask, request_body, wait_for_answer
from tests.e2e.test_prescription_api import PHARMACIST, dispense, list_prescriptions, settled

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(bool(os.environ.get("PASSERELLE_TEST_BOOTSTRAP")),
                                                  reason="the journal belongs to the embedded broker")]
OPPOSED, FREE = "284716395", "193857264"  # data/ncp/PT
PRESCRIPTION, ITEM = "1.2.246.10.999.3^FI-EP-1001", "FI-EP-1001.1"  # 3 packages prescribed


def decisions(system: RunningSystem) -> dict:
    """What the system decides now: a summary for an opposing and a free patient, one more package."""
    token = system.token()
    opposed = wait_for_answer(system, ask(system, request_body(patient_id=OPPOSED), token).json()["request_id"], token)
    free = wait_for_answer(system, ask(system, request_body(patient_id=FREE), token).json()["request_id"], token)
    pharmacist = system.token(PHARMACIST, "21")
    assert list_prescriptions(system, pharmacist).json()["status"] == "completed"
    fourth = settled(system, pharmacist, dispense(system, pharmacist, PRESCRIPTION, ITEM, 1))
    return {"opposed": (opposed["status"], (opposed.get("error") or {}).get("code")),
            "free": free["status"], "fourth package": (fourth["status"], (fourth.get("error") or {}).get("code"))}


def audit_rows(workdir) -> int:
    with sqlite3.connect(workdir / "state" / "audit.sqlite3") as db:
        table = next(n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'") if "record" in n)
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def sigkill_whole_system(system: RunningSystem) -> list[int]:
    """SIGKILL of ``passerelle up``; the processes it had started that still run 20 s later."""
    children = child_pids(system.process.pid)
    started = children + [g for c in children for g in child_pids(c)]
    system.process.send_signal(signal.SIGKILL)
    system.process.wait(10)
    deadline = time.monotonic() + 20
    while [p for p in started if alive(p)] and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in started if alive(p)]


def test_decisions_survive_ctrl_c_and_sigkill_of_the_whole_system(tmp_path):
    system = RunningSystem(tmp_path, PASSERELLE_LOG_FORMAT="json").wait_ready(90)
    try:
        assert "OPPOSITION recorded" in consent_cli(system, "oppose", "--country", "PT", "--patient-id", OPPOSED)
        pharmacist = system.token(PHARMACIST, "21")
        assert list_prescriptions(system, pharmacist).json()["status"] == "completed"
        for _ in range(3):
            assert settled(system, pharmacist, dispense(system, pharmacist, PRESCRIPTION, ITEM, 1))["status"] == "acknowledged"
        before = decisions(system)
        assert before == {"opposed": ("denied", "PATIENT_OPPOSED"), "free": "completed",
                          "fourth package": ("rejected", "QUANTITY_EXCEEDED")}
        assert system.interrupt() == 0
        audited = audit_rows(tmp_path)
        assert audited > 0

        system = RunningSystem(tmp_path, PASSERELLE_LOG_FORMAT="json").wait_ready(90)  # Ctrl-C, then make run again
        assert decisions(system) == before
        assert audit_rows(tmp_path) > audited  # the store was kept and goes on
        assert sigkill_whole_system(system) == []  # no child outlives passerelle up

        system = RunningSystem(tmp_path, PASSERELLE_LOG_FORMAT="json").wait_ready(90)
        assert decisions(system) == before
        assert audit_rows(tmp_path) > audited
        store = AuditStore(f"sqlite:///{tmp_path / 'state' / 'audit.sqlite3'}")
        assert store.verify() == []  # one hash chain across the three runs
    finally:
        if system.process.poll() is None:
            system.interrupt()


def test_an_unreadable_journal_makes_consent_refuse_everyone_and_say_why(tmp_path):
    # (dispensations refused in that case: tests/unit/test_safety_journal.py)
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "journal.sqlite3").write_bytes(b"not a database" * 512)
    system = RunningSystem(tmp_path, PASSERELLE_LOG_FORMAT="json").wait_ready(90)
    try:
        token = system.token()
        answer = wait_for_answer(system, ask(system, request_body(patient_id=FREE), token).json()["request_id"], token)
        assert answer["status"] == "denied" and answer["error"]["code"] == "CONSENT_REGISTRY_UNAVAILABLE"
        assert "restauré" in answer["error"]["message"]
        assert "safety state NOT restored" in system.log.read_text()
    finally:
        system.interrupt()


def pid_running(parent: int, needle: bytes) -> int:
    """The child of ``parent`` whose command line contains ``needle``."""
    for pid in child_pids(parent):
        try:
            if needle in open(f"/proc/{pid}/cmdline", "rb").read():
                return pid
        except FileNotFoundError:
            continue
    raise LookupError(needle)


def readiness(system: RunningSystem) -> int | str:
    try:
        return httpx.get(f"{system.url}/readyz", timeout=2).status_code
    except httpx.HTTPError:
        return "down"  # the gateway itself is being restarted on the new broker


def test_a_killed_broker_is_restarted_with_the_journal_and_readiness_says_so_meanwhile(tmp_path):
    system = RunningSystem(tmp_path, PASSERELLE_LOG_FORMAT="json").wait_ready(90)
    try:
        assert "OPPOSITION recorded" in consent_cli(system, "oppose", "--country", "PT", "--patient-id", OPPOSED)
        journal = pid_running(system.process.pid, b"passerelle.journal")
        os.kill(pid_running(journal, b"tansu"), signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # not ready while the broker is gone, then ready again
            statuses.append(readiness(system))
            if set(statuses) - {200} and statuses[-1] == 200:
                break
            time.sleep(0.1)
        assert set(statuses) - {200} and statuses[-1] == 200, statuses
        system.wait_ready(60)
        assert "embedded broker exited; restarting it and every service" in system.log.read_text()
        token = system.token()
        answer = wait_for_answer(system, ask(system, request_body(patient_id=OPPOSED), token).json()["request_id"], token)
        assert (answer["status"], answer["error"]["code"]) == ("denied", "PATIENT_OPPOSED")
    finally:
        system.interrupt()
