"""The whole flow on the real broker into a PostgreSQL audit store: every step stored once, the
access notified to the patient, listed on the patient side, the chain intact."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import pytest

from passerelle import kafka
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.store.app import StoreWriter
from passerelle.audit_store import AuditStore

from tests.integration.conftest import patient_summary_request
from tests.integration.test_patient_summary_flow import REQUESTED, running_services

pytestmark = pytest.mark.integration
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


async def test_a_read_summary_is_stored_notified_and_listed_and_a_denial_is_no_access(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    store = AuditStore(POSTGRES, f"t{uuid.uuid4().hex[:10]}_")
    read = patient_summary_request(patient_id="PT-TEST-1")
    denied = patient_summary_request(patient_id="PT-TEST-1", confirmed=False)
    stop = asyncio.Event()
    writer = asyncio.create_task(StoreWriter(settings, serde, store).run(stop))
    try:
        async with running_services(settings, serde):
            producer = kafka.producer(settings.kafka)
            await producer.start()
            for request in (read, denied):
                await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, request),
                                             key=request["envelope"]["correlation_id"].encode())
            await producer.stop()
            [notified] = await consume(settings, topics.audit_access_notifications, 1)
            deadline = time.monotonic() + 30
            while store.count() < 5 + 3:  # 5 steps of the read, 3 of the denial (request, decision, outcome)
                assert time.monotonic() < deadline, f"{store.count()} records stored"
                await asyncio.sleep(0.1)
        stop.set()
        await writer
        event_type, notification = serde.decode(notified.value)
        assert event_type == "fr.passerelle.audit.PatientAccessNotified"
        assert notification["patient"] == {"country": "PT", "patient_id": "PT-TEST-1"}
        assert notification["envelope"]["correlation_id"] == read["envelope"]["correlation_id"]
        [access] = store.accesses("PT", "PT-TEST-1")
        assert access["envelope"]["correlation_id"] == read["envelope"]["correlation_id"]
        assert access["purpose"] == "TREATMENT" and access["request_origin"] == "127.0.0.1"
        assert access["source_event_id"] == notification["audit_source_event_id"]
        assert store.count() == 8 and store.verify() == []
        actions = sorted(r["action"] for r in store.bodies() if r["envelope"]["correlation_id"] == denied["envelope"]["correlation_id"])
        assert actions == ["CONSENT_DECIDED", "PS_OUTCOME", "PS_REQUESTED"]
    finally:
        stop.set()
        await asyncio.gather(writer, return_exceptions=True)
        store.drop()
