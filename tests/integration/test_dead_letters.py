"""A message that cannot be decoded goes to the dead-letter topic; the processor keeps going."""

from __future__ import annotations

import asyncio

import pytest

from passerelle import kafka
from passerelle.testing import consume
from passerelle.topics import Topics
from services.consent.app import build

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration


async def test_undecodable_and_foreign_events_are_dead_lettered_and_processing_goes_on(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    processor = build(settings, serde)
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    garbage = b"\x00\x01not avro at all"
    wrong_type = serde.encode("fr.passerelle.audit.AuditRecord", {
        "envelope": patient_summary_request()["envelope"], "action": "X", "outcome": "SUCCESS",
        "source_topic": "t", "source_event_id": "s", "source_event_type": "x", "source_occurred_at": 0})
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        first, second = patient_summary_request(), patient_summary_request()
        await producer.send_and_wait(topics.ps_requested, serde.encode("fr.passerelle.ps.PatientSummaryRequested", first), partition=0)
        await producer.send_and_wait(topics.ps_requested, garbage, key=b"k1", partition=0)
        await producer.send_and_wait(topics.ps_requested, wrong_type, partition=0)
        await producer.send_and_wait(topics.ps_requested, serde.encode("fr.passerelle.ps.PatientSummaryRequested", second), partition=0)

        decisions = await consume(settings, topics.consent_decisions, 2)
        dead = await consume(settings, topics.dead_letters, 2)
    finally:
        await producer.stop()
        stop.set()
        await task

    decided = {serde.decode(r.value)[1]["envelope"]["correlation_id"] for r in decisions}
    assert decided == {first["envelope"]["correlation_id"], second["envelope"]["correlation_id"]}
    by_reason = {dict(r.headers)["dlq.error.class"]: r for r in dead}
    assert set(by_reason) == {b"DecodeError", b"RejectedEvent"}
    undecodable = by_reason[b"DecodeError"]
    assert undecodable.value == garbage and undecodable.key == b"k1"
    headers = dict(undecodable.headers)
    assert headers["dlq.source.topic"] == topics.ps_requested.encode()
    assert headers["dlq.source.partition"] == b"0" and headers["dlq.source.offset"] == b"1"
    assert headers["dlq.consumer"] == b"consent"
    assert b"unknown framing" in headers["dlq.error.message"]
    assert by_reason[b"RejectedEvent"].value == wrong_type
