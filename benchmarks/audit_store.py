"""Audit store throughput: records written per second to each database, through the store writer
(Kafka → database → commit), and replay records per second.

Databases: the embedded SQLite file and PostgreSQL (``--postgres``, default the test database at
127.0.0.1:5432, its own table prefix, dropped afterwards). Broker: the embedded one (Tansu, memory
only), so runs are bounded: at most 50,000 records.

    .venv/bin/python -m benchmarks.audit_store --records 20000

``--small-batches`` measures instead what the store writer pays per batch in the running system, where a
request makes 5 audit records arriving a few at a time: CPU of this process (the writer's side; the
PostgreSQL server's own CPU is not counted) per batch of 5 records, checked as the writer checks them
(``unstorable``) then appended. No broker.

    .venv/bin/python -m benchmarks.audit_store --small-batches
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from passerelle import PROJECT_ROOT, kafka
from passerelle.broker import EmbeddedBroker
from passerelle.envelope import new_envelope
from passerelle.events import AUDIT_RECORD
from passerelle.logging import configure_logging
from passerelle.processor import Incoming
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import KafkaSettings, Settings
from system.supervisor import ensure_topics
from passerelle.topics import Topics
from services.audit.handlers import audit_record
from services.audit.replay import replay
from services.audit.store.app import StoreWriter
from passerelle.audit_store import AuditStore, Entry

MAX_RECORDS = 50_000
BATCH = 500  # the writer's default max batch


def sample_records(n: int) -> list[dict]:
    hp = {"rpps": "10001234565", "profession": "10", "organisation": "750000001", "auth_method": "CPS",
          "assertion_issued_at": int(time.time() * 1000)}
    out = []
    for i in range(n):
        request = {"envelope": new_envelope("bench"), "hp": hp, "patient": {"country": "PT", "patient_id": f"B{i}"},
                   "purpose": "TREATMENT", "consent_confirmed": True, "information_notice_given": True,
                   "request_origin": "127.0.0.1"}
        out.append(audit_record(Incoming("bench", "fr.passerelle.ps.PatientSummaryRequested", request)))
    return out


def direct_writes(store: AuditStore, records: list[dict]) -> float:
    start = time.perf_counter()
    for i in range(0, len(records), BATCH):
        store.append([(r, None) for r in records[i:i + BATCH]])
    return len(records) / (time.perf_counter() - start)


def small_batches(url: str, records: list[dict], size: int = 5) -> dict:
    """CPU ms (user + system, this process) and wall ms per batch of ``size`` records, as the writer
    stores them: each record checked (``unstorable``), then the batch appended in one transaction."""
    store = AuditStore(url, f"b{uuid.uuid4().hex[:8]}_")
    try:
        store.append([(records[0], None)])  # tables, connection pool and statement caches warm
        batches = [records[i:i + size] for i in range(1, len(records) - size + 1, size)]
        cpu, wall = os.times(), time.perf_counter()
        for batch in batches:
            entries = [Entry.of(r) for r in batch]
            assert all(store.unstorable(e) is None for e in entries)
            store.append(entries)
        end, wall = os.times(), time.perf_counter() - wall
        assert store.count() == 1 + len(batches) * size
    finally:
        store.drop()
    n = len(batches)
    return {"cpu_ms": ((end.user - cpu.user) + (end.system - cpu.system)) / n * 1e3, "wall_ms": wall / n * 1e3,
            "batches": n}


def run_small_batches(n: int, postgres: str, size: int = 5) -> dict:
    records = sample_records(n * size + 1)
    with tempfile.TemporaryDirectory() as tmp:
        return {"sqlite": small_batches(f"sqlite:///{tmp}/audit.sqlite3", records, size),
                "postgresql": small_batches(postgres, records, size)}


async def publish(settings: Settings, serde: AvroSerde, records: list[dict]) -> None:
    producer = kafka.producer(settings.kafka)
    await producer.start()
    topic = Topics(settings.topic_prefix).audit_records
    for i in range(0, len(records), BATCH):
        acks = [await producer.send(topic, serde.encode(AUDIT_RECORD, r), key=r["envelope"]["correlation_id"].encode())
                for r in records[i:i + BATCH]]
        await asyncio.gather(*acks)
    await producer.stop()


async def through_writer(settings: Settings, serde: AvroSerde, store: AuditStore, n: int) -> float:
    """The topic already holds n records: from the first batch stored to the n-th record stored
    (the consumer group join, about one second on the embedded broker, is left out)."""
    stop = asyncio.Event()
    task = asyncio.create_task(StoreWriter(settings, serde, store).run(stop))
    while (first := store.count()) == 0:
        await asyncio.sleep(0.005)
    start = time.perf_counter()
    while store.count() < n:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    stop.set()
    await task
    return (n - first) / elapsed


async def run(n: int, postgres: str) -> dict:
    serde = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
    records = sample_records(n)
    results: dict = {"records": n}
    with tempfile.TemporaryDirectory() as tmp:
        broker = EmbeddedBroker().start()
        try:
            settings = Settings(kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers, session_timeout_ms=2000,
                                                    heartbeat_interval_ms=300),
                                topic_prefix=f"bench{uuid.uuid4().hex[:6]}", state_dir=Path(tmp))
            await ensure_topics(settings)
            await publish(settings, serde, records)
            databases = {"sqlite": f"sqlite:///{tmp}/audit.sqlite3", "postgresql": postgres}
            for name, url in databases.items():
                direct = AuditStore(url, f"b{uuid.uuid4().hex[:8]}_")
                via = AuditStore(url, f"b{uuid.uuid4().hex[:8]}_")
                try:
                    results[f"{name}_append_per_s"] = direct_writes(direct, records)
                    results[f"{name}_writer_per_s"] = await through_writer(settings, serde, via, n)
                    start = time.perf_counter()
                    assert via.verify() == []
                    results[f"{name}_verify_per_s"] = n / (time.perf_counter() - start)
                finally:
                    direct.drop()
                    via.drop()
                await _reset_group(settings)
            rebuilt = AuditStore(f"sqlite:///{tmp}/replayed.sqlite3")
            idle = 0.3
            report = await replay(settings, serde, rebuilt, write=True, idle_seconds=idle)
            results["replay_rebuild_sqlite_per_s"] = report.read / (report.seconds - idle)
            report = await replay(settings, serde, rebuilt, write=False, idle_seconds=idle)
            assert report.consistent
            results["replay_check_per_s"] = report.read / (report.seconds - idle)
        finally:
            broker.stop()
    return results


async def _reset_group(settings: Settings) -> None:
    """The next database's writer reads the topic from the beginning again (same group name)."""
    from aiokafka import TopicPartition
    from aiokafka.structs import OffsetAndMetadata

    topic = Topics(settings.topic_prefix).audit_records
    consumer = kafka.consumer(settings.kafka, f"{settings.topic_prefix}.audit-store", topic)
    await consumer.start()
    await consumer.getmany(timeout_ms=500)
    await consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(0, "")
                           for p in consumer.partitions_for_topic(topic)})
    await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument("--small-batches", action="store_true",
                        help="Only the CPU per small batch (5 records), as in the running system.")
    parser.add_argument("--batches", type=int, default=300, help="With --small-batches: how many batches.")
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    if args.small_batches:
        results = run_small_batches(args.batches, args.postgres)
        print(f"audit store, {args.batches} batches of 5 records (check + append), this process's CPU")
        for db, r in results.items():
            print(f"  {db:<10} {r['cpu_ms']:6.2f} ms CPU per batch   {r['wall_ms']:6.2f} ms wall per batch")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
        return
    results = asyncio.run(run(min(args.records, MAX_RECORDS), args.postgres))
    print(f"audit store, {results['records']:,} records (~0.4 KiB Avro, ~0.8 KiB JSON each), batches of {BATCH}")
    labels = {"append": "written (store.append, batches)", "writer": "written via the store writer (Kafka → DB → commit)",
              "verify": "chain verified"}
    for db in ("sqlite", "postgresql"):
        for what, label in labels.items():
            print(f"  {db:<10} {label:<52} {results[f'{db}_{what}_per_s']:>9,.0f} records/s")
    print(f"  {'replay':<10} {'rebuild into a fresh SQLite store':<52} {results['replay_rebuild_sqlite_per_s']:>9,.0f} records/s")
    print(f"  {'replay':<10} {'check against a store':<52} {results['replay_check_per_s']:>9,.0f} records/s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
