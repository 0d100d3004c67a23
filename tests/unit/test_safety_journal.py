"""The safety journal (passerelle/journal.py) and what the services do when it is lost: no broker."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from passerelle.journal import Journal, JournalUnreadable
from passerelle.consent_registry import ConsentRegistry
from services.prescription.handlers import handle
from tests.unit.test_consent_registry import HP, PATIENT, PS, T0, said
from tests.unit.test_prescription_rules import TOPICS, dispense, line, observed


def rec(topic: str, key: bytes | None, value: bytes | None, headers=()):
    return SimpleNamespace(topic=topic, key=key, value=value, headers=list(headers))


def test_the_journal_keeps_the_latest_record_of_each_key_in_order_and_a_tombstone_erases(tmp_path):
    journal = Journal(tmp_path / "state" / "journal.sqlite3")
    journal.write([rec("r", b"a", b"1"), rec("r", b"b", b"2", [("h", b"\x00\xff")]), rec("s", b"a", b"3")])
    journal.write([rec("r", b"a", b"4"), rec("s", b"a", None), rec("r", None, b"keyless")])
    journal.close()
    again = Journal(tmp_path / "state" / "journal.sqlite3")  # as after a restart
    assert [(e.topic, e.key, e.value, e.headers) for e in again.entries()] == [
        ("r", b"b", b"2", [("h", b"\x00\xff")]), ("r", b"a", b"4", []), ("r", None, b"keyless", [])]


def test_the_journal_is_readable_by_its_owner_alone(tmp_path):
    Journal(tmp_path / "state" / "journal.sqlite3").write([rec("r", b"a", b"1")])
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    for name in ("journal.sqlite3", "journal.sqlite3-wal"):
        assert stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) == 0o600


def test_a_journal_that_is_not_a_database_is_reported_unreadable_and_left_as_it_is(tmp_path):
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(JournalUnreadable):
        Journal(path)
    assert path.read_bytes() == b"garbage" * 1000


def test_a_lost_registry_refuses_everyone_even_after_a_grant():
    registry = ConsentRegistry(lost="journal.sqlite3: file is not a database")
    said(registry, "GRANT", T0 - 1000, professional=HP["rpps"])
    assert registry.refusal(PATIENT, HP, PS, T0) == "CONSENT_REGISTRY_UNAVAILABLE"
    assert ConsentRegistry().refusal(PATIENT, HP, PS, T0) is None


def test_lost_prescription_states_refuse_every_dispensation_with_the_reason():
    states = {}
    list(handle(observed(), TOPICS, states, lost="journal unreadable"))
    [answer] = handle(dispense("d1", line(quantity=1)), TOPICS, states, lost="journal unreadable")
    assert answer.record["accepted"] is False and answer.record["error"]["code"] == "PRESCRIPTION_STATE_UNAVAILABLE"
    assert "restauré" in answer.record["error"]["message"]


def test_a_child_started_with_die_with_parent_dies_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time\n"
        "from passerelle.lifeline import die_with_parent\n"
        "child = subprocess.Popen(['sleep', '60'], preexec_fn=die_with_parent())\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait(5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        try:
            if open(f"/proc/{child}/stat").read().split(") ")[1][0] == "Z":
                return  # dead, waiting for init to reap it
        except FileNotFoundError:
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the child outlived its parent")


def test_a_prescription_whose_state_was_unreadable_refuses_its_dispensations_and_changes_no_more():
    states, unreadable = {}, {"1.2.3^RX-1"}
    assert list(handle(observed(), TOPICS, states, unreadable=unreadable)) == []  # no fresh state with 0 dispensed
    assert states == {}
    [answer] = handle(dispense("d1", line(quantity=1)), TOPICS, states, unreadable=unreadable)
    assert answer.record["accepted"] is False and answer.record["error"]["code"] == "PRESCRIPTION_STATE_UNREADABLE"
    list(handle(observed(), TOPICS, states))  # another prescription, or a readable state again: as before
    assert states["1.2.3^RX-1"]["dispensed"] == {}
