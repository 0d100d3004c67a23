"""A topic read whole into memory by one process (no consumer group), kept caught up, and the
processor whose decisions read such a view.

Before a batch is handled, ``catch_up`` reads up to the end offsets the broker reports at that
moment: whatever was acknowledged before the batch started is applied (docs/adr/0040). Used for the
consent registry (``services/consent/view.py``) and the prescription state
(``services/prescription/view.py``); each says what one record does in ``_apply``.
"""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings


class TopicView:
    def __init__(self, settings: Settings, serde: AvroSerde, topic: str):
        self.settings, self.serde, self.topic = settings, serde, topic
        self._consumer = None
        self._offsets = None

    def _apply(self, rec) -> None:
        raise NotImplementedError

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
            raise RuntimeError(f"topic {self.topic} not found")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        await self.catch_up()

    async def stop(self) -> None:
        for client in (self._consumer, self._offsets):
            if client is not None:
                await client.stop()

    async def catch_up(self) -> int:
        """Apply every record up to the current end of the topic; how many were applied."""
        consumer = self._consumer
        end = await self._offsets.end_offsets(list(consumer.assignment()))
        applied = 0
        while [tp for tp, offset in end.items() if await consumer.position(tp) < offset]:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for rec in records:
                    self._apply(rec)
                    applied += 1
        return applied


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
