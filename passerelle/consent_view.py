"""The registry view: the whole compacted registry topic, read by this instance into memory.

No consumer group: every consent instance reads every partition (the registry is small next to
the request flow), so any instance can decide any request. Before a batch of requests is decided,
``catch_up`` reads up to the end offsets the broker reports at that moment: a directive
acknowledged by the broker before the decision started is always applied (a revocation takes
effect for every request decided after it).
"""

from __future__ import annotations

import structlog

from passerelle.events import CONSENT_DIRECTIVE
from passerelle.processor import RejectedEvent
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.topic_view import TopicView
from passerelle.consent_registry import ConsentRegistry

log = structlog.get_logger()


class RegistryView(TopicView):
    service = "consent"

    def __init__(self, settings: Settings, serde: AvroSerde, topic: str, registry: ConsentRegistry):
        super().__init__(settings, serde, topic)
        self.registry = registry

    async def start(self) -> None:
        await super().start()
        log.info("consent registry loaded", partitions=len(self._consumer.assignment()))

    def _apply(self, rec) -> None:
        if rec.value is None:  # a tombstone: the patient's directive under this key is erased
            self.registry.apply(rec.key, None)
            return
        event_type, event = self.serde.decode(rec.value)
        if event_type != CONSENT_DIRECTIVE:
            raise RejectedEvent(f"{event_type} is not a {CONSENT_DIRECTIVE}")
        self.registry.apply(rec.key, event)

    def _failed(self, rec) -> None:
        """Fail closed: an unreadable directive might have been an opposition or a revocation, so the
        patient its key names is refused until a readable directive replaces it. A key that names
        no patient refuses nobody (there is no one to refuse); the record is dead-lettered."""
        if not self.registry.mark_unreadable(rec.key):
            log.error("unreadable consent directive names no patient", partition=rec.partition, offset=rec.offset)
