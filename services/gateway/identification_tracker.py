"""Which patient identifications exist, who asked and how they ended: rebuilt from the topics.

Like the summary requests' tracker (``tracker.py``): every gateway instance reads
``identification.requested`` and ``identification.outcomes`` whole (no consumer group), so any
instance answers for any identification; bounded in number and time.
"""

from __future__ import annotations

import asyncio

from passerelle.events import IDENTIFICATION_OUTCOME, IDENTIFICATION_REQUESTED
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.gateway.tracker import RequestTracker, follow_topics


class IdentificationTracker(RequestTracker):
    async def follow(self, settings: Settings, serde: AvroSerde, stop: asyncio.Event) -> None:
        topics = Topics(settings.topic_prefix)
        await follow_topics(settings, [topics.identification_requested, topics.identification_outcomes],
                            lambda rec: self._apply(serde, rec), stop, self.ready)

    def _apply(self, serde: AvroSerde, rec) -> None:
        try:
            event_type, event = serde.decode(rec.value)
        except DecodeError:
            return  # the processors dead-letter it; the gateway only reads
        if event_type == IDENTIFICATION_REQUESTED:
            self.requested(event["envelope"]["correlation_id"], event["hp"]["rpps"],
                           event["envelope"]["occurred_at"].timestamp())
        elif event_type == IDENTIFICATION_OUTCOME:
            self.ended(event)
