"""Which patient identifications exist, who asked and how they ended: rebuilt from the topics.

The summary requests' tracker (``summaries/tracker.py``) for ``identification.requested`` and
``identification.outcomes``: the gateway's one follower (``follower.py``) reads them with the
request topics, so any instance answers for any identification; bounded in number and time.
"""

from __future__ import annotations

from passerelle.events import IDENTIFICATION_OUTCOME, IDENTIFICATION_REQUESTED
from passerelle.topics import Topics
from services.gateway.summaries.tracker import RequestTracker


class IdentificationTracker(RequestTracker):
    REQUESTED, OUTCOME = IDENTIFICATION_REQUESTED, IDENTIFICATION_OUTCOME

    @staticmethod
    def followed(topics: Topics) -> list[str]:
        return [topics.identification_requested, topics.identification_outcomes]
