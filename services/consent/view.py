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
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topic_view import TopicView
from services.consent.registry import ConsentRegistry

log = structlog.get_logger()


class RegistryView(TopicView):
    def __init__(self, settings: Settings, serde: AvroSerde, topic: str, registry: ConsentRegistry):
        super().__init__(settings, serde, topic)
        self.registry = registry

    async def start(self) -> None:
        await super().start()
        log.info("consent registry loaded", partitions=len(self._consumer.assignment()))

    def _apply(self, rec) -> None:
        if rec.value is None:
            self.registry.apply(rec.key, None)
            return
        try:
            event_type, event = self.serde.decode(rec.value)
        except DecodeError:
            event_type, event = None, None
        if event_type != CONSENT_DIRECTIVE:
            # Fail closed: an unreadable directive might have been an opposition or a revocation, so
            # the patient its key names is refused until a readable directive replaces it. A key
            # that names no patient stops the service (a bug or a foreign writer: never guess).
            log.error("unreadable consent directive", partition=rec.partition, offset=rec.offset)
            self.registry.mark_unreadable(rec.key)
            return
        self.registry.apply(rec.key, event)
