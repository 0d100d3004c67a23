"""Wiring: PatientSummaryRequested → ConsentDecision (+ a DENIED outcome when refused, + security
alerts), decided against the registry view caught up with the registry topic before each batch."""

from __future__ import annotations

import time

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.consent.handlers import ConsentRules, decide_patient_summary
from services.consent.registry import ConsentRegistry
from services.consent.settings import consent_rules
from services.consent.view import RegistryView


class ConsentProcessor(Processor):
    """The relay of every service, plus the registry view: started first, caught up before each batch."""

    def __init__(self, settings: Settings, serde: AvroSerde, rules: ConsentRules, view: RegistryView):
        topics = Topics(settings.topic_prefix)

        def handle(incoming):
            return decide_patient_summary(incoming, topics, rules, int(time.time() * 1000))

        super().__init__("consent", settings, serde, handle, topics=[topics.ps_requested, topics.ep_requested])
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


def build(settings: Settings, serde: AvroSerde) -> Processor:
    registry = ConsentRegistry()
    view = RegistryView(settings, serde, Topics(settings.topic_prefix).consent_registry, registry)
    return ConsentProcessor(settings, serde, consent_rules(settings, registry), view)
