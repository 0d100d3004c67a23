"""The state view: the compacted ``ep.state`` topic read into memory (prescription id → state).

Read whole at start, then up to the end offsets before each batch of commands, like the consent
registry view (docs/adr/0040): a state written by another instance before it committed the commands
that produced it (the processor awaits every ack before committing) is always seen by the instance
that takes those commands' partition over. A state record that cannot be read stops the service
(never guess a prescription's quantities).
"""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.events import EP_STATE
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings

log = structlog.get_logger()


class StateView:
    def __init__(self, settings: Settings, serde: AvroSerde, topic: str, states: dict[str, dict]):
        self.settings, self.serde, self.topic, self.states = settings, serde, topic, states
        self._consumer = None
        self._offsets = None

    async def start(self) -> None:
        self._consumer = kafka.consumer(self.settings.kafka, None)
        await self._consumer.start()
        self._offsets = kafka.consumer(self.settings.kafka, None)  # asks end offsets without queuing behind a fetch
        await self._offsets.start()
        partitions = None
        for _ in range(100):  # metadata of a topic created a moment ago may lag
            await self._consumer.topics()
            partitions = self._consumer.partitions_for_topic(self.topic)
            if partitions:
                break
            await asyncio.sleep(0.1)
        if not partitions:
            raise RuntimeError(f"state topic {self.topic} not found")
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_beginning(*assigned)
        await self.catch_up()
        log.info("prescription states loaded", prescriptions=len(self.states))

    async def stop(self) -> None:
        for client in (self._consumer, self._offsets):
            if client is not None:
                await client.stop()

    async def catch_up(self) -> int:
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
        try:
            event_type, event = self.serde.decode(rec.value)
        except DecodeError as exc:
            raise RuntimeError(f"unreadable prescription state at offset {rec.offset}") from exc
        if event_type != EP_STATE:
            raise RuntimeError(f"{event_type} on the state topic at offset {rec.offset}")
        self.states[rec.key.decode()] = event
