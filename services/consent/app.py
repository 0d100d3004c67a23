"""Wiring: PatientSummaryRequested, PrescriptionsRequested and OriginalDocumentsRequested → ConsentDecision (+ a DENIED outcome
when refused, + security alerts); PatientIdentificationRequested → PatientIdentificationQuery (or a
DENIED identification outcome), decided against the registry view caught up with the registry
topic before each batch (``passerelle.topic_view``)."""

from __future__ import annotations

import time
from typing import Callable

from passerelle.events import EP_REQUESTED, IDENTIFICATION_REQUESTED, ORCD_REQUESTED, PS_REQUESTED
from passerelle.processor import Handlers, Processor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topic_view import ViewProcessor
from passerelle.topics import Topics
from services.consent.handlers import ConsentRules, decide_patient_summary
from services.consent.identification import decide_identification
from passerelle.consent_registry import ConsentRegistry
from services.consent.settings import consent_rules
from passerelle.consent_view import RegistryView


def build(settings: Settings, serde: AvroSerde) -> Processor:
    registry = ConsentRegistry(lost=settings.safety_state_lost)
    view = RegistryView(settings, serde, Topics(settings.topic_prefix).consent_registry, registry)
    rules = consent_rules(settings, registry)
    topics = Topics(settings.topic_prefix)

    return ViewProcessor(Service.CONSENT, settings, serde, decisions(topics, rules), view=view)


def _now_ms() -> int:
    return int(time.time() * 1000)


def decisions(topics: Topics, rules: ConsentRules, now_ms: Callable[[], int] = _now_ms) -> Handlers:
    """The consent service's routing table: each request decided at the time it is handled."""
    handlers = Handlers()
    handlers.on(PS_REQUESTED, EP_REQUESTED, ORCD_REQUESTED)(lambda e: decide_patient_summary(e, topics, rules, now_ms()))
    handlers.on(IDENTIFICATION_REQUESTED)(lambda e: decide_identification(e, topics, rules, now_ms()))
    return handlers
