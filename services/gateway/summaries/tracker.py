"""Which requests exist, who made them and how they ended: rebuilt from the topics.

Every gateway instance reads the request and outcome topics whole (the gateway's one follower,
``follower.py``), so any instance can answer for any request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import structlog

from passerelle.errors import error
from passerelle.events import PS_OUTCOME, PS_REQUESTED
from passerelle.serde import DecodeError
from passerelle.topics import Topics
from services.gateway.waiters import Waiters

log = structlog.get_logger()


@dataclass
class Tracked:
    rpps: str
    requested_at: float  # epoch seconds
    #: The outcome event as it came off the topic, decoded again when an answer needs it
    #: (``RequestTracker.outcome``): decoded, a translated summary is about 130 KiB of Python objects
    #: (23 KiB encoded) that the garbage collector walks on every full pass, for each of the
    #: ``max_requests`` kept; encoded, it is one bytes object it never looks into.
    encoded_outcome: bytes | None = None


class RequestTracker:
    """Requests in arrival order; the oldest are forgotten past ``max_requests`` or ``ttl_seconds``,
    so summaries (health data) do not linger in the gateway's memory."""

    REQUESTED, OUTCOME = PS_REQUESTED, PS_OUTCOME  # the event types that start and end a request

    @staticmethod
    def followed(topics: Topics) -> list[str]:
        return [topics.ps_requested, topics.ps_outcomes]

    def __init__(self, max_requests: int, ttl_seconds: float, decode: Callable[[bytes], dict], clock=time.time,
                 ready: asyncio.Event | None = None):
        self.requests: OrderedDict[str, Tracked] = OrderedDict()
        self.decode = decode  # an outcome's bytes -> the event (the gateway's serde)
        self.max_requests = max_requests
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        #: set once the gateway's follower has read what the topics held at its start (shared by
        #: every view it feeds)
        self.ready = ready or asyncio.Event()
        #: request id -> the GETs long-polling it (``wait_for_outcome``)
        self._waiters = Waiters()

    def requested(self, request_id: str, rpps: str, at: float | None = None) -> None:
        self.requests.setdefault(request_id, Tracked(rpps, self.clock() if at is None else at))
        self._forget_old()

    def ended(self, outcome: dict, encoded: bytes) -> None:
        """``outcome``, decoded by the follower, says which request ended; ``encoded`` is what is kept."""
        request_id = outcome["envelope"]["correlation_id"]
        self.requested(request_id, outcome["hp"]["rpps"], outcome["envelope"]["occurred_at"].timestamp())
        if request_id in self.requests:
            self.requests[request_id].encoded_outcome = encoded
        self._waiters.wake(request_id)

    def outcome(self, tracked: Tracked) -> dict | None:
        """The request's outcome event, None while it is pending. The follower read only its head:
        if what it skipped cannot be read, the request failed (``OUTCOME_UNREADABLE``), not the call."""
        if tracked.encoded_outcome is None:
            return None
        try:
            return self.decode(tracked.encoded_outcome)
        except DecodeError as exc:
            log.warning("outcome unreadable: answered OUTCOME_UNREADABLE", error_class=type(exc).__name__)
            return {"status": "FAILED", "error": error("OUTCOME_UNREADABLE"), "summary": None}

    async def wait_for_outcome(self, request_id: str, timeout: float) -> None:
        """Return as soon as the request has an outcome, or after ``timeout`` seconds (a long poll:
        the client learns the answer when it arrives, without polling the gateway again and again)."""
        tracked = self.requests.get(request_id)
        if tracked is None or tracked.encoded_outcome is not None or timeout <= 0:
            return
        await self._waiters.wait(request_id, timeout)

    def lookup(self, request_id: str, rpps: str) -> Tracked | None:
        """The request, if it exists, is recent enough and was made by this professional."""
        self._forget_old()
        tracked = self.requests.get(request_id)
        return tracked if tracked is not None and tracked.rpps == rpps else None

    def _forget_old(self) -> None:
        horizon = self.clock() - self.ttl_seconds
        while self.requests and (len(self.requests) > self.max_requests
                                 or next(iter(self.requests.values())).requested_at < horizon):
            self.requests.popitem(last=False)

    def apply_record(self, rec, event_type: str | None, event: dict | None) -> None:
        """A record of a followed topic, from the gateway's follower (``follower.py``)."""
        if event_type == self.REQUESTED:
            self.requested(event["envelope"]["correlation_id"], event["hp"]["rpps"],
                           event["envelope"]["occurred_at"].timestamp())
        elif event_type == self.OUTCOME:
            self.ended(event, rec.value)
