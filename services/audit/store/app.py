"""Wiring of the store writer: the audit topic → the audit store, then commit.

Its own consumer group (``<prefix>.audit-store``). Per batch: decode → write every record in one
database transaction (records already stored are skipped) → commit the Kafka offsets. A crash
anywhere before the commit redelivers the batch, which the store absorbs: nothing lost, nothing
twice. Bytes that are not an audit record go to the dead-letter topic (ADR 4). Retention purges
run at start and then hourly.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from prometheus_client import Counter

from passerelle import kafka
from passerelle.events import AUDIT_RECORD
from passerelle.processor import CONSUMED, DEAD_LETTERS, dead_letter_headers
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.audit.settings import batch_reading
from passerelle.audit_store import AuditStore, Coordinates, Entry, describe_url
from passerelle.service import Service

log = structlog.get_logger()
STORED = Counter("passerelle_audit_records_stored", "Audit records written to the store (new ones)")
PURGE_INTERVAL_S = 3600


class NotAnAuditRecord(Exception):
    """A decodable event of another type on the audit topic."""


class UnstorableAuditRecord(Exception):
    """An audit record the store's columns cannot hold (a value too long, a NUL character): it would
    fail its whole batch's transaction, on every redelivery."""


class StoreWriter:
    def __init__(self, settings: Settings, serde: AvroSerde, store: AuditStore | None = None):
        self.settings, self.serde = settings, serde
        names = Topics(settings.topic_prefix)
        self.source, self.dead_letters = names.audit_records, names.dead_letters
        #: What it reads, as a Processor says it (tests/static/test_k8s.py sizes replicas on it).
        self.topics, self.pattern = [self.source], None
        self.store = store or AuditStore.from_settings(settings)
        self.group = f"{settings.topic_prefix}.audit-store"

    async def run(self, stop: asyncio.Event) -> None:
        k = self.settings.kafka
        consumer = kafka.consumer(k, self.group)
        producer = kafka.producer(k)
        await producer.start()
        await kafka.start_reading(consumer, k, [self.source])
        log.info("audit store writer started", group=self.group, store=describe_url(self.store.url))
        next_purge = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_purge:
                    await self._purge()
                    next_purge = time.monotonic() + PURGE_INTERVAL_S
                batch = await consumer.getmany(timeout_ms=500, max_records=k.max_batch)
                records = [r for part in batch.values() for r in part]
                if records:
                    await self._write(producer, records)
                    await consumer.commit()
                    CONSUMED.labels(Service.AUDIT_STORE, self.source).inc(len(records))
        finally:
            await kafka.close(k.shutdown_timeout_ms / 1000, consumer, producer)  # bounded: the broker may be gone
            log.info("audit store writer stopped", group=self.group)

    async def _write(self, producer, records) -> None:
        decoded, dead = [], []
        for rec in records:
            try:
                event_type, record = self.serde.decode(rec.value)
                if event_type != AUDIT_RECORD:
                    raise NotAnAuditRecord(f"{event_type} is not {AUDIT_RECORD}")
                entry = Entry.of(record, Coordinates(rec.topic, rec.partition, rec.offset))
                if reason := self.store.unstorable(entry):
                    raise UnstorableAuditRecord(reason)
                decoded.append(entry)
            except (DecodeError, NotAnAuditRecord, UnstorableAuditRecord) as exc:
                log.warning("dead-lettered", topic=rec.topic, partition=rec.partition, offset=rec.offset,
                            error_class=type(exc).__name__)
                dead.append(await producer.send(self.dead_letters, rec.value, key=rec.key,
                                                headers=dead_letter_headers(rec, Service.AUDIT_STORE, exc)))
                DEAD_LETTERS.labels(Service.AUDIT_STORE, type(exc).__name__).inc()
        new = await asyncio.to_thread(self.store.append, decoded)
        await asyncio.gather(*dead)
        STORED.inc(new)
        log.info("audit records stored", received=len(records), new=new, duplicates=len(decoded) - new)

    async def _purge(self) -> None:
        purged = await asyncio.to_thread(self.store.purge, self.settings.audit.retention_days)
        if purged:
            log.info("audit records purged (retention)", purged=purged,
                     retention_days=self.settings.audit.retention_days)


def build(settings: Settings, serde: AvroSerde) -> StoreWriter:
    return StoreWriter(batch_reading(settings), serde)
