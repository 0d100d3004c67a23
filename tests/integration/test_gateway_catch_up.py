"""A gateway that (re)starts says it is ready only once it has read what the topics held: before
that, it would answer 404 for a request that exists (seen in the failure campaign)."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import kafka
from passerelle.events import PS_REQUESTED, request_key
from passerelle.topics import Topics
from services.gateway.settings import MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS
from services.gateway.tracker import RequestTracker

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
REQUESTS = 300


async def test_the_request_tracker_is_ready_only_once_it_knows_every_request_already_on_the_topic(topics_ready, serde):
    settings = topics_ready
    requests = [patient_summary_request() for _ in range(REQUESTS)]
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(Topics(settings.topic_prefix).ps_requested,
                                                   serde.encode(PS_REQUESTED, r), key=request_key(r)) for r in requests])
    finally:
        await producer.stop()
    tracker = RequestTracker(MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS)
    applied_after_ready = 0
    apply = tracker._apply

    def watched(*args):  # a record already on the topic, applied after "ready" was said
        nonlocal applied_after_ready
        applied_after_ready += tracker.ready.is_set()
        apply(*args)
    tracker._apply = watched
    stop = asyncio.Event()
    follower = asyncio.create_task(tracker.follow(settings, serde, stop))
    try:
        await asyncio.wait_for(tracker.ready.wait(), 30)
        known = set(tracker.requests)  # at the moment it says ready
    finally:
        stop.set()
        await follower
    assert known == {r["envelope"]["correlation_id"] for r in requests}
    assert applied_after_ready == 0
