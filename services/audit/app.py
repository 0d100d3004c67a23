"""Wiring: every event of the request flow → AuditRecord on the audit topic."""

from __future__ import annotations

from passerelle.processor import Processor
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.audit.handlers import NOT_AUDITED, record_step
from services.audit.settings import audited_pattern, batch_reading


def build(settings: Settings, serde: AvroSerde) -> Processor:
    topics = Topics(settings.topic_prefix)
    return Processor("audit", batch_reading(settings), serde.reading_without(NOT_AUDITED),
                     lambda e: record_step(e, topics), pattern=audited_pattern(topics))
