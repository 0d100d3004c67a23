"""Wiring: ConsentDecision (authorised) → PatientSummaryQuery (or PrescriptionQuery), and an allowed
PatientIdentificationQuery → the same query, on ``ncp.<country>.outbound``."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.router.handlers import route
from services.router.settings import country_registry


def build(settings: Settings, serde: AvroSerde) -> Processor:
    return Processor(Service.ROUTER, settings, serde, route.bind(Topics(settings.topic_prefix), country_registry(settings)))
