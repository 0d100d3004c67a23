"""A bug in a handler stops the processor without committing: the event is processed again, and
what it produces again is recognisably the same events."""

from __future__ import annotations

import asyncio
import collections

import pytest

from passerelle import kafka
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import PS_REQUESTED, ps_outcome
from passerelle.processor import Emit, Handlers, Processor
from passerelle.testing import consume
from passerelle.topics import Topics

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
REQUESTED = "fr.passerelle.ps.PatientSummaryRequested"


def on_requests(function) -> Handlers:
    """A processor's routing table: ``function`` takes the Patient Summary requests."""
    handlers = Handlers()
    handlers.on(PS_REQUESTED)(function)
    return handlers


async def test_a_crashing_handler_commits_nothing_and_the_next_worker_redoes_the_work(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    request = patient_summary_request()
    producer = kafka.producer(settings.kafka)
    await producer.start()
    await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, request))
    await producer.stop()

    def buggy(incoming):
        raise ZeroDivisionError("a bug")

    def relay(incoming):
        yield Emit(topics.audit_records, "fr.passerelle.audit.AuditRecord", {
            "envelope": dict(incoming.event["envelope"]), "action": "SEEN", "outcome": "SUCCESS",
            "source_topic": incoming.topic, "source_event_id": incoming.event["envelope"]["event_id"],
            "source_event_type": incoming.event_type, "source_occurred_at": incoming.event["envelope"]["occurred_at"]})

    with pytest.raises(ZeroDivisionError):
        await asyncio.wait_for(Processor("worker", settings, serde, on_requests(buggy))
                               .run(asyncio.Event()), timeout=30)

    stop = asyncio.Event()
    task = asyncio.create_task(Processor("worker", settings, serde, on_requests(relay)).run(stop))
    [record] = await consume(settings, topics.audit_records, 1)
    stop.set()
    await task
    assert serde.decode(record.value)[1]["source_event_id"] == request["envelope"]["event_id"]


async def test_outputs_produced_before_a_crash_and_produced_again_after_it_carry_the_same_ids(topics_ready, serde):
    """The worker dies after producing the first event's outputs but before committing: the next
    worker handles that event again, and its outputs are the same events (same ids), not new ones."""
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    first, second = patient_summary_request(), patient_summary_request()
    producer = kafka.producer(settings.kafka)
    await producer.start()
    for request in (first, second):
        await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, request), key=b"one-partition")
    await producer.stop()

    def decide(incoming):  # two outputs per event, the second caused by the first (as consent does)
        decision = {"envelope": caused_by(incoming.event, "worker"), "hp": incoming.event["hp"],
                    "patient": incoming.event["patient"], "purpose": "TREATMENT", "service": "patient_summary",
                    "authorised": False, "reason_code": "CONSENT_NOT_CONFIRMED", "treatment_relationship": None}
        yield Emit(topics.consent_decisions, "fr.passerelle.consent.ConsentDecision", decision)
        yield ps_outcome(topics, decision, "worker", "DENIED", error("CONSENT_NOT_CONFIRMED"))

    def dies_on_the_second(incoming):
        if incoming.event["envelope"]["event_id"] == second["envelope"]["event_id"]:
            raise ZeroDivisionError("killed after producing the first event's outputs")
        return decide(incoming)

    with pytest.raises(ZeroDivisionError):
        await asyncio.wait_for(Processor("worker", settings, serde, on_requests(dies_on_the_second))
                               .run(asyncio.Event()), timeout=30)
    stop = asyncio.Event()
    task = asyncio.create_task(Processor("worker", settings, serde, on_requests(decide)).run(stop))
    records = await consume(settings, topics.ps_outcomes, 3)  # the first request's twice, the second's once
    decisions = await consume(settings, topics.consent_decisions, 3)
    stop.set()
    await task
    outcomes = [serde.decode(r.value)[1] for r in records]
    by_request = collections.defaultdict(list)
    for outcome in outcomes:
        by_request[outcome["envelope"]["correlation_id"]].append(outcome["envelope"])
    assert len(by_request[first["envelope"]["correlation_id"]]) == 2  # redelivered: produced twice ...
    assert len({e["event_id"] for e in by_request[first["envelope"]["correlation_id"]]}) == 1  # ... one event
    assert len({e["causation_id"] for e in by_request[first["envelope"]["correlation_id"]]}) == 1
    assert len({e["event_id"] for e in (serde.decode(r.value)[1]["envelope"] for r in decisions)}) == 2


async def test_offsets_are_committed_at_the_interval_and_when_the_processor_stops(topics_ready, serde):
    """Between two commits processed events stay uncommitted (a crash would redeliver them, with the
    same output ids); a clean stop commits them."""
    from aiokafka import TopicPartition

    from passerelle.topics import declared_topics

    settings = topics_ready.model_copy(update={"kafka": topics_ready.kafka.model_copy(
        update={"commit_interval_ms": 3_600_000})})  # nothing but the first batch and the stop commit
    topics = Topics(settings.topic_prefix)
    producer = kafka.producer(settings.kafka)
    await producer.start()
    for _ in range(3):
        await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, patient_summary_request()),
                                     key=b"one-partition")
    await producer.stop()
    seen = []

    def count(incoming):
        seen.append(incoming.event["envelope"]["event_id"])
        return []

    group = f"{settings.topic_prefix}.worker"
    admin = kafka.admin(settings.kafka)
    await admin.start()

    partitions = [TopicPartition(topics.ps_requested, p) for p in range(declared_topics()["ps_requested"].partitions)]

    async def committed() -> int:
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return sum(o.offset for o in offsets.values() if o.offset > 0)

    stop = asyncio.Event()
    task = asyncio.create_task(Processor("worker", settings, serde, on_requests(count)).run(stop))
    try:
        async with asyncio.timeout(30):
            while len(seen) < 3:
                await asyncio.sleep(0.05)
        first = await committed()  # the first batch was committed at once (the interval starts then)
        producer = kafka.producer(settings.kafka)
        await producer.start()
        await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, patient_summary_request()),
                                     key=b"one-partition")
        await producer.stop()
        async with asyncio.timeout(30):
            while len(seen) < 4:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert await committed() == first < 4  # processed, not committed: within the interval
        stop.set()
        await task
        assert await committed() == 4  # the clean stop committed everything processed
    finally:
        stop.set()
        await admin.close()
