"""Wiring: ep.retrieved and ep.commands → ep.commands (observed), ncp.<cc>.outbound (eDispensation),
ep.state (compacted), decided against the state view caught up before each batch."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.prescription.handlers import handle
from services.prescription.settings import input_topics
from services.prescription.view import StateView


class PrescriptionProcessor(Processor):
    def __init__(self, settings: Settings, serde: AvroSerde):
        topics = Topics(settings.topic_prefix)
        self.states: dict[str, dict] = {}
        super().__init__("prescription", settings, serde, lambda e: handle(e, topics, self.states),
                         topics=input_topics(settings))
        self.view = StateView(settings, serde, topics.ep_state, self.states)

    async def run(self, stop) -> None:
        try:
            await self.view.start()
            await super().run(stop)
        finally:
            await self.view.stop()

    async def _process(self, producer, records) -> None:
        await self.view.catch_up()
        await super()._process(producer, records)


def build(settings: Settings, serde: AvroSerde) -> Processor:
    return PrescriptionProcessor(settings, serde)
