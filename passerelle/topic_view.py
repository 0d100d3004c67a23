"""A topic read whole into memory by one process (no consumer group), kept caught up, and the
processor whose decisions read such a view.

Before a batch is handled, ``catch_up`` reads up to the end offsets the broker reports at that
moment: whatever was acknowledged before the batch started is applied (docs/adr/0040). Used for the
consent registry (``passerelle/consent_view.py``) and the prescription state
(``services/prescription/view.py``); each says what one record does in ``_apply``.

A record ``_apply`` cannot read (it raises ``DecodeError`` or ``RejectedEvent``, after failing closed
for whatever the record's key names) goes to the dead-letter topic with its original bytes and the
reason, with an error log and the dead-letter counter (the alert); the view goes on. The view reads
its topic from the beginning at every start, so such a record is dead-lettered again at each start.
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.processor import DEAD_LETTERS, Processor, RejectedEvent, dead_letter_headers
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topics import Topics

log = structlog.get_logger()


class TopicView:
    #: Who reads the view (the ``dlq.consumer`` header of what it dead-letters).
    service = "view"

    def __init__(self, settings: Settings, serde: AvroSerde, topic: str):
        self.settings, self.serde, self.topic = settings, serde, topic
        self._consumer = None
        self._offsets = None
        self._producer = None

    def _apply(self, rec) -> None:
        """Apply one record; raise ``DecodeError`` or ``RejectedEvent`` for one that cannot be read."""
        raise NotImplementedError

    def _failed(self, rec) -> None:
        """Fail closed for what an unreadable record's key names (it is dead-lettered after)."""

    async def start(self) -> None:
        self._producer = kafka.producer(self.settings.kafka)
        await self._producer.start()
        self._consumer = kafka.consumer(self.settings.kafka, None)
        await self._consumer.start()
        # A second client that never fetches, to ask for end offsets: on the reading client the
        # question would queue behind its pending fetch (a whole fetch wait on Tansu).
        self._offsets = kafka.consumer(self.settings.kafka, None)
        await self._offsets.start()
        partitions = None
        for _ in range(100):  # metadata of a topic created a moment ago may lag
            await self._consumer.topics()  # refreshes the cluster metadata
            partitions = self._consumer.partitions_for_topic(self.topic)
            if partitions:
                break
            await asyncio.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"topic {self.topic} not found")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        await self.catch_up()

    async def stop(self) -> None:
        await kafka.close(self.settings.kafka.shutdown_timeout_ms / 1000, self._consumer, self._offsets, self._producer)

    async def catch_up(self) -> int:
        """Apply every record up to the current end of the topic; how many were applied."""
        consumer = self._consumer
        end = await self._offsets.end_offsets(list(consumer.assignment()))
        applied, unreadable = 0, []
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for rec in records:
                    try:
                        self._apply(rec)
                    except (DecodeError, RejectedEvent) as exc:
                        self._failed(rec)
                        unreadable.append((rec, exc))
                    applied += 1
        if unreadable:
            await self._dead_letter(unreadable)
        return applied

    async def _dead_letter(self, unreadable: list) -> None:
        topic = Topics(self.settings.topic_prefix).dead_letters
        acks = []
        for rec, exc in unreadable:
            DEAD_LETTERS.labels(self.service, type(exc).__name__).inc()
            log.error("unreadable record on a view's topic: dead-lettered", topic=rec.topic, partition=rec.partition,
                      offset=rec.offset, error_class=type(exc).__name__)
            acks.append(await self._producer.send(topic, rec.value, key=rec.key,
                                                  headers=dead_letter_headers(rec, self.service, exc)))
        await asyncio.gather(*acks)


class ViewProcessor(Processor):
    """The relay of every service, plus a view: started first, caught up before each batch."""

    def __init__(self, *args, view: TopicView, **kwargs):
        super().__init__(*args, **kwargs)
        self.view = view

    async def run(self, stop) -> None:
        try:
            await self.view.start()
            await super().run(stop)
        finally:
            await self.view.stop()

    async def _process(self, producer, records) -> None:
        await self.view.catch_up()
        await super()._process(producer, records)
