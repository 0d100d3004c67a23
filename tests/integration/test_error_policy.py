"""A bug in a handler stops the processor without committing: the event is processed again."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import kafka
from passerelle.processor import Emit, Processor
from passerelle.testing import consume
from passerelle.topics import Topics

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
REQUESTED = "fr.passerelle.ps.PatientSummaryRequested"


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
        await asyncio.wait_for(Processor("worker", settings, serde, buggy, topics=[topics.ps_requested])
                               .run(asyncio.Event()), timeout=30)

    stop = asyncio.Event()
    task = asyncio.create_task(Processor("worker", settings, serde, relay, topics=[topics.ps_requested]).run(stop))
    [record] = await consume(settings, topics.audit_records, 1)
    stop.set()
    await task
    assert serde.decode(record.value)[1]["source_event_id"] == request["envelope"]["event_id"]
