"""Wiring: ConsentDecision (authorised) → PatientSummaryQuery (or PrescriptionQuery), and an allowed
PatientIdentificationQuery → the same query, on ``ncp.<country>.outbound``."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.router.handlers import route
from services.router.settings import country_registry


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    registry = country_registry(settings)
    return Processor("router", settings, serde, lambda e: route(e, topics, registry),
                     topics=[topics.consent_decisions, topics.identification_authorised])
