"""Wiring: PatientSummaryRequested → ConsentDecision (+ a DENIED outcome when refused)."""

from __future__ import annotations

import time

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.consent.handlers import decide_patient_summary
from services.consent.settings import load_professions


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    professions = load_professions(settings.professions_file)

    def handle(incoming):
        return decide_patient_summary(incoming, topics, professions, int(time.time() * 1000))

    return Processor("consent", settings, serde, handle, topics=[topics.ps_requested])
