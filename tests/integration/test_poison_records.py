"""Poison records never stop a service (issue 18): on every topic each service reads, the views'
topics included (the consent registry, the prescription states), records of random bytes, truncated
Avro, tombstones, with keys that are not JSON, not UTF-8, or absent, are sent before the services
start. Each goes to the dead-letter topic once per reader, with its original bytes, its key and the
reason; a registry record whose key names a patient refuses that patient; everything else goes on."""

from __future__ import annotations

import asyncio
import os

import pytest

from passerelle import kafka
from passerelle.events import EP_REQUESTED, PS_REQUESTED
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.audit.store.app import build as audit_store
from services.consent.app import build as consent
from services.consent.cli import directive
from passerelle.consent_registry import directive_key
from services.foreign_ncp.app import build as foreign_ncp
from services.notifications.app import Notifier
from passerelle.notification_store import NotificationStore
from services.gateway.follower import Follower
from services.gateway.prescriptions.rules import prescriptions_requested
from services.gateway.prescriptions.tracker import PrescriptionTracker
from services.gateway.summaries.tracker import RequestTracker
from services.prescription.app import build as prescription
from services.router.app import build as router
from services.translation.app import build as translation

from tests.integration.conftest import patient_summary_request
from tests.integration.test_bad_input_campaign import PHARMACIST, _until, _watching, readers

pytestmark = pytest.mark.integration
POISONED_PATIENT = "PT-POISON-1"


def every_reader(topics: Topics) -> dict[str, list[str]]:
    """Topic -> who dead-letters what it cannot read: the processors' groups, the two views, and the
    notifications service (access notifications, and the registry for the patients' choices)."""
    return {**readers(topics), topics.consent_registry: ["consent", "audit", "notifications"],
            topics.ep_state: ["prescription"],
            topics.identification_requested: ["consent", "audit"],
            topics.identification_authorised: ["router", "audit"], topics.identification_outcomes: ["audit"]}


def poisons(serde, topic: str, topics: Topics) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) pairs no reader can use, unique per topic."""
    tag = topic.encode()
    valid = serde.encode(PS_REQUESTED, patient_summary_request())
    records = [(b"not json {" + tag, os.urandom(64) + tag),  # random bytes, a key that is not JSON
               (b"\xff\xfe" + tag, valid[:len(valid) // 2]),  # truncated Avro, a key that is not UTF-8
               (None, b"\xc3\x01" + os.urandom(32) + tag),  # our magic then noise, no key
               (b"tombstone " + tag, None)]  # a tombstone
    if topic == topics.consent_registry:  # unreadable, under the key of a patient's opposition
        key = directive_key(directive("OPPOSITION", "PT", POISONED_PATIENT, None, None, None, None, "test"))
        records.append((key, os.urandom(48)))
    return records


async def test_poison_on_every_topic_is_dead_lettered_and_only_its_patient_fails_closed(topics_ready, serde, tmp_path):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    producer = kafka.producer(settings.kafka)
    await producer.start()
    expected = set()
    for topic, groups in every_reader(topics).items():
        for key, value in poisons(serde, topic, topics):
            await producer.send(topic, value, key=key)
            for group in groups:
                if not (value is None and topic == topics.consent_registry and group in ("consent", "notifications")):
                    # a tombstone on the registry is an erasure
                    expected.add((topic, key, value, group))
    await producer.flush()

    stop = asyncio.Event()
    requests, prescriptions = RequestTracker(1000, 3600, serde.record), PrescriptionTracker(1000)
    tasks = {name: asyncio.create_task(build(settings, serde).run(stop)) for name, build in (
        ("consent", consent), ("router", router), ("foreign-ncp", foreign_ncp), ("translation", translation),
        ("audit", audit), ("audit-store", audit_store), ("prescription", prescription))}
    tasks["notifications"] = asyncio.create_task(Notifier(
        settings, serde, NotificationStore(f"sqlite:///{tmp_path / 'notifications.sqlite3'}"), emails={}).run(stop))
    tasks["gateway.follower"] = asyncio.create_task(
        Follower(settings, serde, [requests, prescriptions], requests.ready).run(stop))
    try:
        free, poisoned = patient_summary_request(), patient_summary_request(patient_id=POISONED_PATIENT)
        ep = prescriptions_requested(patient_summary_request(profession="21", rpps=PHARMACIST)["hp"], "FI",
                                     "FI-TEST-1", "TREATMENT", True, True, "127.0.0.1")
        for event_type, topic, request in ((PS_REQUESTED, topics.ps_requested, free),
                                           (PS_REQUESTED, topics.ps_requested, poisoned),
                                           (EP_REQUESTED, topics.ep_requested, ep)):
            key = request["envelope"]["correlation_id"].encode()
            await producer.send_and_wait(topic, serde.encode(event_type, request), key=key)
        ids = {r["envelope"]["correlation_id"] for r in (free, poisoned)}
        outcomes = {o["envelope"]["correlation_id"]: o for o in await _watching(tasks, _until(
            settings, serde, topics.ps_outcomes, lambda e: e["envelope"]["correlation_id"] in ids, 2))}
        [listing] = await _watching(tasks, _until(settings, serde, topics.ep_outcomes,
                                                  lambda e: e["envelope"]["correlation_id"] == ep["envelope"]["correlation_id"], 1))
        dead = await _watching(tasks, consume(settings, topics.dead_letters, len(expected), timeout=60))
        with pytest.raises(TimeoutError):  # and nothing more
            await consume(settings, topics.dead_letters, len(expected) + 1, timeout=3)
        alive = {name: not task.done() for name, task in tasks.items()}
    finally:
        await producer.stop()
        stop.set()
        results = await asyncio.gather(*tasks.values(), return_exceptions=True)

    crashed = {name: repr(r) for name, r in zip(tasks, results) if isinstance(r, BaseException)}
    assert not crashed and all(alive.values()), f"stopped: {crashed or alive}"
    got = [(dict(r.headers)["dlq.source.topic"].decode(), r.key, r.value, dict(r.headers)["dlq.consumer"].decode())
           for r in dead]
    assert len(got) == len(set(got)) and set(got) == expected
    assert all(dict(r.headers)["dlq.error.class"] in (b"DecodeError", b"RejectedEvent", b"NotAnAuditRecord")
               and dict(r.headers)["dlq.error.message"] for r in dead)
    assert outcomes[free["envelope"]["correlation_id"]]["status"] == "COMPLETED"
    refused = outcomes[poisoned["envelope"]["correlation_id"]]
    assert refused["status"] == "DENIED" and refused["error"]["code"] == "CONSENT_REGISTRY_UNREADABLE"
    assert listing["status"] == "COMPLETED"
