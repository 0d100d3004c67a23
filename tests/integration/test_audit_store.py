"""The audit store on real databases (SQLite file, PostgreSQL at 127.0.0.1:5432 db ``test``):
written once, hash-chained, tampering named by ``passerelle audit verify``.

Each test has its own table prefix, so parallel runs never share tables.
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from system.cli import app as cli
from passerelle.processor import Incoming
from services.audit.handlers import audit_record
from passerelle.audit_chain import canonical_body
from passerelle import audit_store as db
from passerelle.audit_store import AuditStore, Entry, query_columns

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}" if request.param == "sqlite" else POSTGRES
    s = AuditStore(url, f"t{uuid.uuid4().hex[:10]}_")
    yield s
    s.drop()


def records(n: int) -> list[dict]:
    return [audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested",
                                  patient_summary_request(patient_id=f"PT-{i}"))) for i in range(n)]


def run_verify(s: AuditStore):
    env = {"PASSERELLE_AUDIT__DATABASE_URL": s.url, "PASSERELLE_AUDIT__TABLE_PREFIX": s.records.name[:-len("records")]}
    return CliRunner().invoke(cli, ["audit", "verify"], env=env)


def test_each_record_is_written_once_whatever_the_duplicates(store):
    batch = records(20)
    assert store.append([(r, None) for r in batch + batch[:5]]) == 20  # duplicates inside one batch
    assert store.append([(r, None) for r in batch[10:]]) == 0  # a redelivered batch
    again = [dict(r, envelope={**r["envelope"], "event_id": "another"}) for r in batch[:3]]
    assert store.append([(r, None) for r in again]) == 0  # the audit service re-emitting the same step
    assert store.count() == 20 and store.verify() == []


def test_a_batch_partly_stored_already_continues_the_chain_from_its_head(store, monkeypatch):
    monkeypatch.setattr(db, "IDS_PER_QUERY", 2)  # the stored ids and the head read over several queries
    batch = records(9)
    assert store.append([(r, None) for r in batch[:5]]) == 5
    # Redelivered records around the head (seq 5), new ones after them, and one twice.
    assert store.append([Entry.of(r) for r in batch[3:9] + batch[6:7]]) == 4
    assert [(r.seq, r.source_event_id) for r in store.rows()] == [(i + 1, r["source_event_id"]) for i, r in enumerate(batch)]
    assert store.verify() == []


def test_an_entry_is_the_record_as_the_store_keeps_it(store):
    record = records(1)[0]
    entry = Entry.of(record)
    assert entry.body == canonical_body(record) and entry.columns == query_columns(entry.body)
    assert store.unstorable(entry) is None and store.unstorable(record) is None
    assert store.unstorable(Entry.of({**record, "source_event_id": "e" * 65})) == \
        "source_event_id is longer than the store's 64 characters"


def test_concurrent_writers_keep_one_linear_chain(store):
    batches = [records(30) for _ in range(4)]
    errors = []

    def write(batch):
        try:
            for i in range(0, len(batch), 5):
                store.append([(r, None) for r in batch[i:i + 5]])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 120
    assert [r.seq for r in store.rows()] == list(range(1, 121))
    assert store.verify() == []


def test_verify_names_a_modified_a_removed_and_a_reordered_record(store):
    store.append([(r, None) for r in records(10)])
    rows = {r.seq: r for r in store.rows()}
    assert run_verify(store).exit_code == 0
    t = store.records.name
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE {t} SET body = replace(body, 'PT-2', 'PT-X') WHERE seq = 3"))
        conn.execute(text(f"DELETE FROM {t} WHERE seq = 5"))
        conn.execute(text(f"UPDATE {t} SET seq = 100 WHERE seq = 8"))
        conn.execute(text(f"UPDATE {t} SET seq = 8 WHERE seq = 9"))
        conn.execute(text(f"UPDATE {t} SET seq = 9 WHERE seq = 100"))
    result = run_verify(store)
    assert result.exit_code == 1
    out = result.output
    assert f"seq 3 (event {rows[3].source_event_id}): MODIFIED" in out
    assert f"seq 6 (event {rows[6].source_event_id}): REMOVED" in out
    assert f"(event {rows[8].source_event_id}): REORDERED" in out
    assert f"(event {rows[9].source_event_id}): REORDERED" in out
    assert "NOT intact" in out


def test_changing_a_query_column_is_detected_even_with_the_body_intact(store):
    store.append([(r, None) for r in records(3)])
    with store.engine.begin() as conn:
        conn.execute(text(f"UPDATE {store.records.name} SET patient_id = 'someone-else' WHERE seq = 2"))
    [problem] = store.verify()
    assert (problem.seq, problem.kind) == (2, "MODIFIED")


def test_retention_purges_the_oldest_records_and_the_chain_still_verifies(store):
    old, young = records(5), records(3)
    day = 86_400_000
    for r in old:
        r["source_occurred_at"] = 1_000 * day  # long ago
    store.append([(r, None) for r in old + young])
    now = max(int(r["source_occurred_at"].timestamp() * 1000) for r in young)
    assert store.purge(retention_days=30, now_ms=now) == 5
    assert store.count() == 3 and store.verify() == []
    assert store.purge(retention_days=30, now_ms=now) == 0
    store.append([(r, None) for r in records(2)])
    assert store.verify() == [] and [r.seq for r in store.rows()] == [6, 7, 8, 9, 10]
    assert store.purge(retention_days=0) == 0  # 0 keeps everything


def test_after_a_purge_of_every_record_the_chain_continues_from_the_anchor(store):
    old = records(4)
    for r in old:
        r["source_occurred_at"] = 1_000 * 86_400_000  # long ago
    store.append([(r, None) for r in old])
    assert store.purge(retention_days=30) == 4 and store.count() == 0
    store.append([(r, None) for r in records(2)])
    assert [r.seq for r in store.rows()] == [5, 6] and store.verify() == []


def test_export_writes_fhir_audit_events(store, tmp_path):
    import json

    from fhir.resources.R4B.auditevent import AuditEvent

    store.append([(r, None) for r in records(4)])
    env = {"PASSERELLE_AUDIT__DATABASE_URL": store.url, "PASSERELLE_AUDIT__TABLE_PREFIX": store.records.name[:-7]}
    out = tmp_path / "audit.ndjson"
    result = CliRunner().invoke(cli, ["audit", "export", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(events) == 4 and all(AuditEvent.model_validate(e).get_resource_type() == "AuditEvent" for e in events)
    bundle = CliRunner().invoke(cli, ["audit", "export", "--bundle"], env=env)
    assert len(json.loads(bundle.stdout)["entry"]) == 4
