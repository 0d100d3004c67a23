"""The store writer and replay on the real broker: every audit record stored once, even when the
writer is killed at any point; replay rebuilds or checks a store from the audit topic."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from passerelle import PROJECT_ROOT, kafka
from passerelle.events import AUDIT_RECORD
from passerelle.processor import Incoming
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.handlers import audit_record
from services.audit.replay import replay
from services.audit.store.app import StoreWriter
from passerelle.audit_store import AuditStore

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def new_records(n: int) -> list[dict]:
    return [audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested",
                                  patient_summary_request(patient_id=f"PT-{uuid.uuid4().hex[:6]}"))) for _ in range(n)]


async def publish(settings, serde, records: list[dict], extra: list[bytes] = ()) -> None:
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        topic = Topics(settings.topic_prefix).audit_records
        acks = [await producer.send(topic, serde.encode(AUDIT_RECORD, r), key=r["envelope"]["correlation_id"].encode())
                for r in records]
        acks += [await producer.send(topic, raw) for raw in extra]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def wait_for_count(store: AuditStore, n: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while store.count() < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{store.count()} of {n} records stored within {timeout}s")
        await asyncio.sleep(0.1)


@pytest.fixture
def store(tmp_path):
    s = AuditStore(f"sqlite:///{tmp_path / 'audit.sqlite3'}", "audit_")
    yield s
    s.drop()


async def test_the_writer_stores_each_record_once_and_dead_letters_garbage(topics_ready, serde, store):
    settings = topics_ready
    batch = new_records(30)
    await publish(settings, serde, batch + batch[:10], extra=[b"not an audit record"])  # 10 delivered twice
    stop = asyncio.Event()
    task = asyncio.create_task(StoreWriter(settings, serde, store).run(stop))
    await wait_for_count(store, 30)
    [dead] = await consume(settings, Topics(settings.topic_prefix).dead_letters, 1)
    stop.set()
    await task
    assert dead.value == b"not an audit record"
    assert store.count() == 30 and store.verify() == []
    assert {r.source_event_id for r in store.rows()} == {r["source_event_id"] for r in batch}


async def test_a_crash_after_the_write_and_before_the_commit_loses_nothing_and_duplicates_nothing(
        topics_ready, serde, store, monkeypatch):
    settings = topics_ready
    batch = new_records(25)
    await publish(settings, serde, batch)

    class Crash(Exception):
        pass

    original = AuditStore.append

    def write_then_crash(self, rows):
        original(self, rows)
        raise Crash("killed between the database commit and the Kafka commit")

    monkeypatch.setattr(AuditStore, "append", write_then_crash)
    with pytest.raises(Crash):
        await asyncio.wait_for(StoreWriter(settings, serde, store).run(asyncio.Event()), timeout=30)
    written_before_crash = store.count()
    assert written_before_crash > 0
    monkeypatch.setattr(AuditStore, "append", original)

    stop = asyncio.Event()
    task = asyncio.create_task(StoreWriter(settings, serde, store).run(stop))
    await wait_for_count(store, 25)
    await asyncio.sleep(0.5)  # let the redelivered batch be absorbed
    stop.set()
    await task
    assert store.count() == 25 and store.verify() == []


def spawn_writer(settings, database_url: str, table_prefix: str, log) -> subprocess.Popen:
    env = {**os.environ, "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix, "PASSERELLE_STATE_DIR": str(settings.state_dir),
           "PASSERELLE_KAFKA__SESSION_TIMEOUT_MS": "2000", "PASSERELLE_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
           "PASSERELLE_KAFKA__FETCH_MAX_WAIT_MS": "10", "PASSERELLE_AUDIT__FETCH_MAX_WAIT_MS": "10", "PASSERELLE_KAFKA__MAX_BATCH": "50",
           "PASSERELLE_AUDIT__DATABASE_URL": database_url, "PASSERELLE_AUDIT__TABLE_PREFIX": table_prefix,
           "PASSERELLE_LOG_FORMAT": "json"}
    return subprocess.Popen([sys.executable, "-m", "services.audit.store"], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_writer_killed_repeatedly_on_the_real_broker_loses_nothing(topics_ready, serde, tmp_path, database):
    settings = topics_ready
    url = f"sqlite:///{tmp_path / 'audit.sqlite3'}" if database == "sqlite" else POSTGRES
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    store = AuditStore(url, prefix)
    sent: list[dict] = []
    mid_stream: list[bool] = []
    log = (tmp_path / "writer.log").open("wb")
    writer = spawn_writer(settings, url, prefix, log)
    try:
        for _ in range(3):  # produce while the writer runs, kill it mid-stream, restart it
            before = store.count()
            burst = new_records(150)
            await publish(settings, serde, burst + burst[::7])  # some records delivered twice too
            sent += burst
            deadline = time.monotonic() + 30
            while store.count() == before:  # this writer has joined and is writing: kill it now
                assert time.monotonic() < deadline, "the writer never wrote"
                await asyncio.sleep(0.01)
            writer.send_signal(signal.SIGKILL)
            writer.wait(10)
            mid_stream.append(store.count() < len(sent))  # killed while records were still to write
            writer = spawn_writer(settings, url, prefix, log)
        await wait_for_count(store, len(sent), timeout=60)
        await asyncio.sleep(1.0)  # any redelivery after the last restart is absorbed, not added
        assert any(mid_stream), "the writer was never killed mid-stream"
        assert store.count() == len(sent) == 450
        assert {r.source_event_id for r in store.rows()} == {r["source_event_id"] for r in sent}
        assert store.verify() == []
        started = time.monotonic()  # the last writer may not be up yet if the killed one had finished
        while (tmp_path / "writer.log").read_text().count("audit store writer started") < 4:
            assert time.monotonic() - started < 30, "the last writer did not start"
            await asyncio.sleep(0.05)
        writer.send_signal(signal.SIGTERM)
        assert writer.wait(20) == 0  # a clean stop
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(10)
        log.close()
        store.drop()


async def test_replay_rebuilds_a_store_and_checks_one_against_the_topic(topics_ready, serde, store, tmp_path):
    settings = topics_ready
    early, late = new_records(40), new_records(20)
    await publish(settings, serde, early + early[:5])
    await asyncio.sleep(0.05)
    middle = int(datetime.now(timezone.utc).timestamp() * 1000)
    await asyncio.sleep(0.05)
    await publish(settings, serde, late)

    ticks = []
    report = await replay(settings, serde, store, write=True, progress=lambda *a: ticks.append(a), batch=7)
    assert (report.read, report.written, report.undecodable) == (65, 60, 0)
    assert store.count() == 60 and store.verify() == []
    assert ticks and ticks[-1][:2] == (65, 65)  # progress reported, ending at the total

    check = await replay(settings, serde, store, write=False)
    assert check.consistent and check.read == 65

    with store.engine.begin() as conn:
        from sqlalchemy import text
        conn.execute(text(f"DELETE FROM {store.records.name} WHERE source_event_id = :e"),
                     {"e": late[3]["source_event_id"]})
    damaged = await replay(settings, serde, store, write=False)
    assert damaged.missing == [late[3]["source_event_id"]] and not damaged.consistent

    other = AuditStore(f"sqlite:///{tmp_path / 'since.sqlite3'}")
    since = await replay(settings, serde, other, since_ms=middle, write=True)
    assert since.written == 20 and {r.source_event_id for r in other.rows()} == {r["source_event_id"] for r in late}
    other.drop()


async def test_the_replay_command_shows_progress_rebuilds_then_checks(topics_ready, serde, tmp_path):
    settings = topics_ready
    await publish(settings, serde, new_records(30))
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    env = {**os.environ, "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix, "PASSERELLE_STATE_DIR": str(tmp_path)}
    command = [str(Path(sys.executable).parent / "passerelle"), "audit", "replay", "--database", url,
               "--broker", settings.kafka.bootstrap_servers]

    def run(*extra):
        return subprocess.run(command + list(extra), env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)

    rebuilt = await asyncio.to_thread(run)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "replayed 30 of 30 (100%)" in rebuilt.stderr and "written 30" in rebuilt.stdout
    assert "hash chain verified (30 record(s))" in rebuilt.stderr
    checked = await asyncio.to_thread(run, "--check")
    assert checked.returncode == 0 and "store consistent with the topic" in checked.stderr
    await publish(settings, serde, new_records(1))  # on the topic, not in the store
    stale = await asyncio.to_thread(run, "--check")
    assert stale.returncode == 1 and "missing from the store: event" in stale.stdout
