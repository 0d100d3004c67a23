"""A gateway that (re)starts says it is ready only once it has read what the topics held: before
that, it would answer 404 for a request that exists (seen in the failure campaign). One follower
feeds every view: ready means caught up on every topic it follows."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import kafka
from passerelle.events import DISPENSATION_REQUESTED, PS_REQUESTED, request_key
from passerelle.topics import Topics
from services.gateway.follower import Follower
from services.gateway.prescriptions.rules import dispensation_requested
from services.gateway.prescriptions.tracker import PrescriptionTracker
from services.gateway.settings import MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS
from services.gateway.summaries.tracker import RequestTracker

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
REQUESTS = 300


async def test_the_gateway_is_ready_only_once_its_views_know_every_request_already_on_the_topics(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    requests = [patient_summary_request() for _ in range(REQUESTS)]
    line = {"item_id": "i", "quantity": 1, "substitution": None, "product_code": None, "product_name": None}
    body = {"country": "FI", "patient_id": "FI-TEST-1", "prescription_id": "p", "lines": [line]}
    dispensations = [dispensation_requested(r["hp"], body, None) for r in requests[:REQUESTS // 10]]
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        sent = [await producer.send(topics.ps_requested, serde.encode(PS_REQUESTED, r), key=request_key(r))
                for r in requests]
        sent += [await producer.send(topics.ep_commands, serde.encode(DISPENSATION_REQUESTED, d), key=b"p")
                 for d in dispensations]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
    ready = asyncio.Event()
    tracker = RequestTracker(MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS, serde.record, ready=ready)
    prescriptions = PrescriptionTracker(MAX_TRACKED_REQUESTS, ready=ready)
    follower = Follower(settings, serde, [tracker, prescriptions], ready)
    applied_after_ready = 0
    apply = follower.apply

    def watched(rec):  # a record already on a topic, applied after "ready" was said
        nonlocal applied_after_ready
        applied_after_ready += ready.is_set()
        apply(rec)
    follower.apply = watched
    stop = asyncio.Event()
    following = asyncio.create_task(follower.run(stop))
    try:
        await asyncio.wait_for(ready.wait(), 30)
        known, dispensed = set(tracker.requests), set(prescriptions.dispensations)  # at the moment it says ready
    finally:
        stop.set()
        await following
    assert known == {r["envelope"]["correlation_id"] for r in requests}
    assert dispensed == {d["dispensation_id"] for d in dispensations}
    assert applied_after_ready == 0
