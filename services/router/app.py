"""Wiring: ConsentDecision (authorised) → PatientSummaryQuery on ``ncp.<country>.outbound``."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.router.handlers import route_to_affiliation_country
from services.router.settings import country_registry


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    registry = country_registry(settings)
    return Processor("router", settings, serde, lambda e: route_to_affiliation_country(e, topics, registry),
                     topics=[topics.consent_decisions])
