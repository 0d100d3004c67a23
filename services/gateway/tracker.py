"""Which requests exist, who made them and how they ended: rebuilt from the topics.

Every gateway instance reads the request and outcome topics whole (no consumer group), so any
instance can answer for any request.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import structlog

from passerelle import kafka
from passerelle.events import PS_OUTCOME, PS_REQUESTED
from passerelle.serde import AvroSerde, DecodeError
from passerelle.settings import Settings
from passerelle.topics import Topics

log = structlog.get_logger()


@dataclass
class Tracked:
    rpps: str
    requested_at: float  # epoch seconds
    outcome: dict | None = None


class RequestTracker:
    """Requests in arrival order; the oldest are forgotten past ``max_requests`` or ``ttl_seconds``,
    so summaries (health data) do not linger in the gateway's memory."""

    REQUESTED, OUTCOME = PS_REQUESTED, PS_OUTCOME  # the event types that start and end a request

    @staticmethod
    def followed(topics: Topics) -> list[str]:
        return [topics.ps_requested, topics.ps_outcomes]

    def __init__(self, max_requests: int, ttl_seconds: float, clock=time.time, ready: asyncio.Event | None = None):
        self.requests: OrderedDict[str, Tracked] = OrderedDict()
        self.max_requests = max_requests
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        #: set once the follower has read what its topics held at its start; trackers fed by one
        #: follower (``follow(..., *others)``) share it
        self.ready = ready or asyncio.Event()
        #: request id -> futures of the GETs long-polling it (``wait_for_outcome``)
        self._waiters: dict[str, set[asyncio.Future]] = {}

    def requested(self, request_id: str, rpps: str, at: float | None = None) -> None:
        self.requests.setdefault(request_id, Tracked(rpps, self.clock() if at is None else at))
        self._forget_old()

    def ended(self, outcome: dict) -> None:
        request_id = outcome["envelope"]["correlation_id"]
        self.requested(request_id, outcome["hp"]["rpps"], outcome["envelope"]["occurred_at"].timestamp())
        if request_id in self.requests:
            self.requests[request_id].outcome = outcome
        for waiter in self._waiters.pop(request_id, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for_outcome(self, request_id: str, timeout: float) -> None:
        """Return as soon as the request has an outcome, or after ``timeout`` seconds (a long poll:
        the client learns the answer when it arrives, without polling the gateway again and again)."""
        tracked = self.requests.get(request_id)
        if tracked is None or tracked.outcome is not None or timeout <= 0:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(request_id, set()).add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            waiters = self._waiters.get(request_id)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[request_id]

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

    async def follow(self, settings: Settings, serde: AvroSerde, stop: asyncio.Event,
                     *others: "RequestTracker") -> None:
        """Follow this tracker's topics, and those of ``others`` with the same consumer."""
        topics = Topics(settings.topic_prefix)
        trackers = (self, *others)
        followed = [topic for tracker in trackers for topic in tracker.followed(topics)]
        by_type = {event_type: t for t in trackers for event_type in (t.REQUESTED, t.OUTCOME)}
        await follow_topics(settings, followed, lambda rec: self._apply(serde, rec, by_type), stop, self.ready)

    def _apply(self, serde: AvroSerde, rec, by_type: dict | None = None) -> None:
        try:
            event_type, event = serde.decode(rec.value)
        except DecodeError:
            return  # the processors dead-letter it; the gateway only reads
        tracker = (by_type or {self.REQUESTED: self, self.OUTCOME: self}).get(event_type)
        if tracker is None:
            return
        if event_type == tracker.REQUESTED:
            tracker.requested(event["envelope"]["correlation_id"], event["hp"]["rpps"],
                              event["envelope"]["occurred_at"].timestamp())
        else:
            tracker.ended(event)


async def follow_topics(settings: Settings, topics: list[str], apply: Callable[[object], None], stop: asyncio.Event,
                        ready: asyncio.Event | None = None) -> None:
    """Read ``topics`` whole from the beginning (no consumer group) until ``stop``, passing every
    record to ``apply``; ``ready`` is set once caught up: every record that was on the topics when
    the partitions were assigned has been applied (before that, an unknown request may exist)."""
    consumer = kafka.consumer(settings.kafka, None, *topics)
    await consumer.start()
    start_ends = None  # end offsets when the partitions were first assigned
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    apply(rec)
            if ready is not None and not ready.is_set() and consumer.assignment():
                if start_ends is None:
                    start_ends = await consumer.end_offsets(list(consumer.assignment()))
                if all([await consumer.position(tp) >= end for tp, end in start_ends.items()]):
                    ready.set()
    finally:
        await consumer.stop()
