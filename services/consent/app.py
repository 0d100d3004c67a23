"""Wiring: PatientSummaryRequested and PrescriptionsRequested → ConsentDecision (+ a DENIED outcome
when refused, + security alerts); PatientIdentificationRequested → PatientIdentificationQuery (or a
DENIED identification outcome), decided against the registry view caught up with the registry
topic before each batch (``passerelle.topic_view``)."""

from __future__ import annotations

import time

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topic_view import ViewProcessor
from passerelle.topics import Topics
from passerelle.events import IDENTIFICATION_REQUESTED
from services.consent.handlers import decide_patient_summary
from services.consent.identification import decide_identification
from services.consent.registry import ConsentRegistry
from services.consent.settings import consent_rules
from services.consent.view import RegistryView


def build(settings: Settings, serde: AvroSerde) -> Processor:
    registry = ConsentRegistry()
    view = RegistryView(settings, serde, Topics(settings.topic_prefix).consent_registry, registry)
    rules = consent_rules(settings, registry)
    topics = Topics(settings.topic_prefix)

    def handle(incoming):
        decide = decide_identification if incoming.event_type == IDENTIFICATION_REQUESTED else decide_patient_summary
        return decide(incoming, topics, rules, int(time.time() * 1000))

    return ViewProcessor("consent", settings, serde, handle, view=view,
                         topics=[topics.ps_requested, topics.ep_requested, topics.orcd_requested,
                                 topics.identification_requested])
