"""Bad-input campaign at the audit store (PostgreSQL): audit records with odd values — too long for
their column, NUL characters, any string — are stored, or dead-lettered by the writer; never a
failed transaction that stops the writer on every redelivery of its batch."""

from __future__ import annotations

import os
import uuid
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle import kafka
from passerelle.events import AUDIT_RECORD
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.handlers import audit_record
from services.audit.store.app import StoreWriter
from passerelle.audit_store import AuditStore
from passerelle.processor import Incoming
from passerelle.serde import DecodeError

from tests.bad_input import TRIED, RecordStrategies
from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def record(**changes) -> dict:
    r = audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", patient_summary_request()))
    for path, value in changes.items():
        target, *keys = path.split("__")
        (r[target] if keys else r).__setitem__(keys[0] if keys else target, value)
    return r


@pytest.fixture
def store():
    s = AuditStore(POSTGRES, f"t{uuid.uuid4().hex[:10]}_")
    yield s
    s.drop()


async def test_records_the_store_cannot_hold_are_dead_lettered_and_the_batch_is_stored(topics_ready, serde, store):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    good = record()
    bad = [record(envelope__correlation_id="x" * 100), record(patient__patient_id="a\x00b"),
           record(patient__country="PTX"), record(source_event_id="e" * 65)]
    values = [serde.encode(AUDIT_RECORD, r) for r in [bad[0], good, *bad[1:]]]
    records = [SimpleNamespace(topic=topics.audit_records, partition=0, offset=i, key=b"k", value=v) for i, v in enumerate(values)]
    writer = StoreWriter(settings, serde, store)
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        await writer._write(producer, records)  # raised DataError: the writer stopped, again at each redelivery
    finally:
        await producer.stop()
    assert list(store.body_of()) == [good["source_event_id"]]
    dead = await consume(settings, topics.dead_letters, len(bad))
    assert {d.value for d in dead} == set(values) - {values[1]}
    assert {dict(d.headers)["dlq.error.class"] for d in dead} == {b"UnstorableAuditRecord"}


def test_any_audit_record_is_storable_or_named_unstorable(serde, store):
    strategies = RecordStrategies(serde.schemas[AUDIT_RECORD].source)
    valid = serde.decode(serde.encode(AUDIT_RECORD, record()))[1]

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(strategies.near(valid), strategies.values()))
    def campaign(candidate):
        TRIED["audit-store"] += 1
        try:
            decoded = serde.decode(serde.encode(AUDIT_RECORD, candidate))[1]  # as the writer reads it
        except DecodeError:
            return  # e.g. a time out of range: dead-lettered by the writer before the store
        if store.unstorable(decoded) is None:
            store.append([(decoded, None)])

    campaign()
    assert store.verify() == []
