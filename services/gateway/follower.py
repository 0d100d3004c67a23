"""The gateway's one reader of the topics, feeding every view the gateway keeps in memory: the
summary and identification trackers, the prescription tracker and the stream dashboard.

The topics are read whole from the beginning (no consumer group), so any gateway instance can answer
for any request. One consumer follows the union of the views' topics; each record is decoded once
and handed to the views that follow its topic (one consumer is one poller on the broker instead of
one per view). A Patient Summary outcome is decoded without its summary's body (``SUMMARY_BODY``):
no view reads it from the follower; the summaries tracker keeps the record's bytes and decodes the
whole answer when a professional asks for it (``summaries/tracker.py``).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Iterable, Protocol

import structlog

from passerelle import kafka
from passerelle.events import PS_OUTCOME
from passerelle.processor import when_registry_answers
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.service import Service
from passerelle.topics import Topics
from passerelle.tracing import described, tracing_for

log = structlog.get_logger()
#: What no view reads of an outcome as the follower hands it over: Avro skips these bytes instead
#: of building a translated summary's thousand objects on every outcome.
SUMMARY_BODY = frozenset({"summary.sections", "summary.document", "summary.missing_sections",
                          "summary.embedded_documents"})


class View(Protocol):
    def followed(self, topics: Topics) -> list[str]:
        """The topics whose records this view reads."""

    def apply_record(self, rec, event_type: str | None, event: dict | None) -> None:
        """One record of a followed topic, decoded; ``event_type`` and ``event`` are None when the
        record cannot be decoded (the processors dead-letter it; the gateway only reads)."""


class Follower:
    def __init__(self, settings: Settings, serde: AvroSerde, views: Iterable[View], ready: asyncio.Event | None = None):
        self.settings, self.serde = settings, serde.reading_without(SUMMARY_BODY, events=frozenset({PS_OUTCOME}))
        #: set once caught up on every followed topic: every record that was on them when the
        #: partitions were assigned has been applied (before that, an unknown request may exist)
        self.ready = ready or asyncio.Event()
        self.views_of: dict[str, list[View]] = {}  # topic -> the views that follow it
        for view in views:
            for topic in view.followed(Topics(settings.topic_prefix)):
                self.views_of.setdefault(topic, []).append(view)
        #: With traces on, the records read once caught up (what the gateway waits for) end their
        #: trace with a span of the gateway; the history read at start does not.
        self.tracing = tracing_for(Service.GATEWAY, settings)

    def apply(self, rec) -> None:
        if self.tracing is None or not self.ready.is_set():
            self._apply(rec, None)
            return
        with self.tracing.consuming(rec, "receive", None) as span:
            self._apply(rec, span)

    def _apply(self, rec, span) -> None:
        try:
            event_type, event = self.serde.decode(rec.value)
        except DecodeError:
            event_type, event = None, None
        if span is not None:
            described(span, event_type, event)
        for view in self.views_of.get(rec.topic, ()):
            view.apply_record(rec, event_type, event)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the topics until ``stop``."""
        consumer = kafka.consumer(self.settings.kafka, None, *self.views_of)
        await consumer.start()
        start_ends = None  # end offsets when the partitions were first assigned
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for rec in records:  # a record the registry cannot name yet waits (not dropped)
                        await when_registry_answers(lambda: self.apply(rec), stop, topic=rec.topic,
                                                    partition=rec.partition, offset=rec.offset)
                if not self.ready.is_set() and consumer.assignment():
                    if start_ends is None:
                        start_ends = await consumer.end_offsets(list(consumer.assignment()))
                    if all([await consumer.position(tp) >= end for tp, end in start_ends.items()]):
                        self.ready.set()
        finally:
            await consumer.stop()
            if self.tracing:
                await self.tracing.drain()


def stop_gateway_if_failed(task: asyncio.Task) -> None:
    """Done callback of the follower's task: a follower that failed leaves every view stale, so the
    gateway stops (SIGTERM to itself: uvicorn shuts down, its supervisor or Kubernetes restarts it)
    instead of answering from views that no longer move."""
    if task.cancelled() or task.exception() is None:
        return
    log.error("topic follower failed: stopping the gateway", error_class=type(task.exception()).__name__)
    signal.raise_signal(signal.SIGTERM)
