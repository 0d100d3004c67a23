"""Replay of the audit topic: from the beginning or from a time, into a store (rebuild) or against
one (check). No consumer group: replay never moves the store writer's offsets.

A replay reads each partition until it has caught up: past the end offset seen (listed or fetched)
and with nothing more arriving for ``idle_seconds`` — the end offsets alone cannot be trusted, the
embedded broker under-reports them. Records written after the replay began are left out, so a
replay of a live topic ends. Progress goes to a callback (the CLI prints a line every second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.events import AUDIT_RECORD
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topics import Topics
from passerelle.audit_chain import canonical_body
from passerelle.audit_store import AuditStore, Coordinates


@dataclass
class ReplayReport:
    read: int = 0
    written: int = 0
    undecodable: int = 0
    missing: list[str] = field(default_factory=list)  # on the topic, not in the store
    different: list[str] = field(default_factory=list)  # in both, with another content
    extra: list[str] = field(default_factory=list)  # in the store, not on the topic (full replays only)
    seconds: float = 0.0

    @property
    def consistent(self) -> bool:
        return not (self.missing or self.different or self.extra)


Progress = Callable[[int, int, float], None]  # records read, records to read, seconds elapsed


async def _open(settings: Settings, since_ms: int | None):
    topic = Topics(settings.topic_prefix).audit_records
    consumer = kafka.consumer(settings.kafka, None)
    await consumer.start()
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    if not partitions:
        await consumer.stop()
        raise LookupError(f"topic {topic} does not exist on {settings.kafka.bootstrap_servers}")
    consumer.assign(partitions)
    end = await consumer.end_offsets(partitions)
    start = await consumer.beginning_offsets(partitions)
    if since_ms is not None:
        found = await consumer.offsets_for_times({tp: since_ms for tp in partitions})
        start = {tp: (found[tp].offset if found[tp] else end[tp]) for tp in partitions}
    for tp in partitions:
        consumer.seek(tp, start[tp])
    return consumer, start, end


async def replay(settings: Settings, serde: AvroSerde, store: AuditStore, *, since_ms: int | None = None,
                 write: bool, progress: Progress | None = None, batch: int = 2000,
                 idle_seconds: float = 1.0) -> ReplayReport:
    """Read the audit topic; ``write``: append what the store lacks (rebuild), else compare (check)."""
    started_ms = int(time.time() * 1000)
    consumer, start, end = await _open(settings, since_ms)
    report, began, last_tick = ReplayReport(), time.monotonic(), 0.0
    stored = {} if write else store.body_of()
    seen: set[str] = set()
    remaining, last_data = set(end), {tp: time.monotonic() for tp in end}
    try:
        while remaining:
            pending: list[tuple[dict, Coordinates]] = []
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=200, max_records=batch)).items():
                last_data[tp] = time.monotonic()
                for rec in records:
                    if rec.timestamp > started_ms:  # written after the replay began: not this replay's
                        remaining.discard(tp)
                        break
                    if since_ms is not None and rec.timestamp < since_ms:
                        continue  # the broker's offset for a time is a starting point, not exact (Tansu)
                    report.read += 1
                    try:
                        event_type, record = serde.decode(rec.value)
                    except DecodeError:
                        event_type = None
                    if event_type != AUDIT_RECORD:
                        report.undecodable += 1
                        continue
                    pending.append((record, Coordinates(rec.topic, rec.partition, rec.offset)))
            if write:
                report.written += store.append(pending)
            else:
                for record, _ in pending:
                    _compare(record, stored, report, seen)
            now = time.monotonic()
            for tp in list(remaining):
                end[tp] = max(end[tp], consumer.highwater(tp) or 0)
                if now - last_data[tp] >= idle_seconds and await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)  # caught up: at the end seen and nothing more arrives
            if progress and (now - last_tick >= 1.0 or not remaining):
                progress(report.read, max(report.read, sum(end[tp] - start[tp] for tp in end)), now - began)
                last_tick = now
    finally:
        await consumer.stop()
    if not write and since_ms is None:
        report.extra = sorted(set(stored) - seen)
    report.seconds = time.monotonic() - began
    return report


def _compare(record: dict, stored: dict[str, str], report: ReplayReport, seen: set[str]) -> None:
    event_id = record["source_event_id"]
    if event_id in seen:
        return  # a duplicate delivery on the topic: the store keeps one
    seen.add(event_id)
    body = stored.get(event_id)
    if body is None:
        report.missing.append(event_id)
    elif body != canonical_body(record):
        report.different.append(event_id)
