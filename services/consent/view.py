"""The registry view: the whole compacted registry topic, read by this instance into memory.

No consumer group: every consent instance reads every partition (the registry is small next to
the request flow), so any instance can decide any request. Before a batch of requests is decided,
``catch_up`` reads up to the end offsets the broker reports at that moment: a directive
acknowledged by the broker before the decision started is always applied (a revocation takes
effect for every request decided after it).
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.events import CONSENT_DIRECTIVE
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from services.consent.registry import ConsentRegistry

log = structlog.get_logger()


class RegistryView:
    def __init__(self, settings: Settings, serde: AvroSerde, topic: str, registry: ConsentRegistry):
        self.settings, self.serde, self.topic, self.registry = settings, serde, topic, registry
        self._consumer = None
        self._offsets = None

    async def start(self) -> None:
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
            raise RuntimeError(f"registry topic {self.topic} not found")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        await self.catch_up()
        log.info("consent registry loaded", partitions=len(assigned))

    async def stop(self) -> None:
        for client in (self._consumer, self._offsets):
            if client is not None:
                await client.stop()

    async def catch_up(self) -> int:
        """Apply every directive up to the current end of the topic; how many were applied."""
        consumer = self._consumer
        end = await self._offsets.end_offsets(list(consumer.assignment()))
        applied = 0
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for rec in records:
                    self._apply(rec)
                    applied += 1
        return applied

    def _apply(self, rec) -> None:
        if rec.value is None:
            self.registry.apply(rec.key, None)
            return
        try:
            event_type, event = self.serde.decode(rec.value)
        except DecodeError:
            event_type, event = None, None
        if event_type != CONSENT_DIRECTIVE:
            # Fail closed: an unreadable directive might have been an opposition or a revocation, so
            # the patient its key names is refused until a readable directive replaces it. A key
            # that names no patient stops the service (a bug or a foreign writer: never guess).
            log.error("unreadable consent directive", partition=rec.partition, offset=rec.offset)
            self.registry.mark_unreadable(rec.key)
            return
        self.registry.apply(rec.key, event)
