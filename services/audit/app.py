"""Wiring: every event of the request flow → AuditRecord on the audit topic."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.audit.handlers import NOT_AUDITED, audit
from services.audit.settings import batch_reading


def build(settings: Settings, serde: AvroSerde) -> Processor:
    return Processor(Service.AUDIT, batch_reading(settings), serde.reading_without(NOT_AUDITED),
                     audit.bind(Topics(settings.topic_prefix)))
