"""Bad-input campaign on the real broker (issue 9, part 4): every processor (consent, router,
foreign NCP, translation, audit, audit store on PostgreSQL, prescription), the notifications service
(with an SMTP server on loopback) and the gateway's topic followers run in-process; the worst inputs
are sent to every topic they read, interleaved with valid Patient Summary and prescriptions
requests and valid access notifications.

Then: the dead-letter topic holds exactly the bad inputs, once per consumer group that read them,
with their original bytes and key and the reason headers; every valid request has its outcome, its
audit records in the store, and is known to the gateway's followers; every valid access notification
its e-mail; every processor still runs.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import datetime, timezone

import pytest

from passerelle import kafka
from passerelle.envelope import new_envelope
from passerelle.events import (AUDIT_RECORD, EP_OUTCOME, EP_REQUESTED, EP_RETRIEVED, PATIENT_ACCESS_NOTIFIED,
                               PS_REQUESTED, PS_RETRIEVED)
from passerelle.notification_store import NotificationStore
from passerelle.settings import NotificationSettings
from passerelle.serde import SINGLE_OBJECT_MAGIC
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.audit.store.app import build as audit_store
from passerelle.audit_store import AuditStore
from services.consent.app import build as consent
from services.foreign_ncp.app import build as foreign_ncp
from services.notifications.app import Notifier
from services.gateway.dashboard.tracker import StreamWatch
from services.gateway.follower import Follower
from services.gateway.prescriptions.rules import prescriptions_requested
from services.gateway.prescriptions.tracker import PrescriptionTracker
from services.gateway.summaries.tracker import RequestTracker
from services.prescription.app import build as prescription
from services.router.app import build as router
from services.translation.app import build as translation

from tests.bad_input import BILLION_LAUGHS, TRIED, XXE_FILE, frame, future_version
from tests.integration.conftest import patient_summary_request
from tests.smtp_server import smtp_server

pytestmark = pytest.mark.integration
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PHARMACIST = "10002000007"
CAMILLE = "286037505604238"
ROUNDS = 3


def readers(topics: Topics) -> dict[str, list[str]]:
    """Topic -> the consumer groups that read it (and so dead-letter what they cannot read)."""
    return {topics.ps_requested: ["consent", "audit"], topics.ep_requested: ["consent", "audit"],
            topics.consent_decisions: ["router", "audit"], topics.ncp_outbound("PT"): ["foreign-ncp", "audit"],
            topics.ncp_inbound: ["translation", "audit"], topics.ep_retrieved: ["translation", "prescription", "audit"],
            topics.ep_commands: ["prescription", "audit"], topics.ps_outcomes: ["audit"], topics.ep_outcomes: ["audit"],
            topics.security_events: ["audit"], topics.audit_reads: ["audit"], topics.audit_records: ["audit-store"],
            topics.audit_access_notifications: ["notifications"]}


def access_notified(**changes) -> dict:
    """A disclosure told to Camille (valid unless ``changes`` spoil it)."""
    return {"envelope": new_envelope("audit"), "patient": {"country": "FR", "patient_id": CAMILLE},
            "hp": {"rpps": "DE-HP-1", "profession": "physician", "organisation": "Klinikum Musterstadt",
                   "auth_method": "NCP_ASSERTION", "assertion_issued_at": 0},
            "purpose": "TREATMENT", "action": "NCP_PS_OUTCOME", "accessed_at": datetime(2026, 12, 5, tzinfo=timezone.utc),
            "audit_source_event_id": str(uuid.uuid4()), "hp_country": "DE", "hp_name": None, "document_id": None,
            **changes}


def worst_inputs(serde, topic: str, topics: Topics, round_: int) -> list[bytes]:
    """Bytes every reader must dead-letter: not ours, unknown or future schema, cut, endless, big,
    or a valid event of a type nobody takes on this topic. Unique per topic and round."""
    tag = f"{topic}#{round_}".encode()
    request = patient_summary_request()
    valid = serde.encode(PS_REQUESTED, request)
    schema = serde.schemas[PS_REQUESTED]
    future = future_version(schema.source)
    from fastavro.schema import parse_schema
    from passerelle.serde import schema_fingerprint
    inputs = [b"\x00\x01not avro at all " + tag,
              SINGLE_OBJECT_MAGIC + uuid.uuid4().bytes[:8] + b"\x02body" + tag,  # unknown fingerprint
              b"\x00\x00\x00\x00\x07" + tag,  # Confluent framing, no registry configured
              frame(schema_fingerprint(future), parse_schema(future), {**request, "added_in_a_future_version": tag.decode()}),
              valid[:len(valid) // 2] + tag[:0],  # truncated (the cut differs by request ids)
              SINGLE_OBJECT_MAGIC + schema.fingerprint + b"\xff" * 32 + tag]  # a varint without end
    if round_ == 0:
        inputs.append(b"\xc3\x01" + os.urandom(1024 * 1024))  # 1 MiB of noise behind our magic
    if topic != topics.audit_records:  # a valid event of a type nobody takes here
        record = {"envelope": request["envelope"], "action": "X", "outcome": "SUCCESS", "source_topic": topic,
                  "source_event_id": str(uuid.uuid4()), "source_event_type": "x", "source_occurred_at": 0}
        inputs.append(serde.encode(AUDIT_RECORD, record))
    else:  # another event type; an audit record the store's columns cannot hold
        inputs.append(serde.encode(PS_REQUESTED, patient_summary_request()))
        unstorable = {"envelope": {**request["envelope"], "correlation_id": "x" * 100}, "action": "X", "outcome": "SUCCESS",
                      "source_topic": topic, "source_event_id": str(uuid.uuid4()), "source_event_type": "x",
                      "source_occurred_at": 0}
        inputs.append(serde.encode(AUDIT_RECORD, unstorable))
    if topic == topics.audit_access_notifications:  # valid Avro that tells no one of anything
        inputs += [serde.encode(PATIENT_ACCESS_NOTIFIED, access_notified(hp_country="ZZ")),
                   serde.encode(PATIENT_ACCESS_NOTIFIED, access_notified(patient={"country": "FR", "patient_id": ""}))]
    if topic == topics.ep_outcomes:  # a status the audit has no rule for (was a crash of the audit)
        outcome = {"envelope": patient_summary_request()["envelope"], "hp": request["hp"], "patient": request["patient"],
                   "purpose": "TREATMENT", "status": "", "error": None, "prescriptions": []}
        inputs.append(serde.encode(EP_OUTCOME, outcome))
    return inputs


def handled_oddities(serde, topics: Topics) -> list[tuple[str, bytes]]:
    """Valid events with hostile content: handled (delivered as sent or refused, with a code), never fatal."""
    out = []
    for document in (BILLION_LAUGHS, XXE_FILE, b"\xff not a document"):
        request = patient_summary_request()
        retrieved = {**{k: request[k] for k in ("envelope", "hp", "patient", "purpose")}, "error": None,
                     "document": {"format": "CDA", "language": "pt-PT", "content": document}}
        out.append((topics.ncp_inbound, serde.encode(PS_RETRIEVED, retrieved)))
        listing = {**{k: request[k] for k in ("envelope", "hp", "patient", "purpose")}, "error": None,
                   "documents": [{"language": None, "content": document}]}
        out.append((topics.ep_retrieved, serde.encode(EP_RETRIEVED, listing)))
    return out


async def test_bad_inputs_at_every_consumer_are_dead_lettered_and_valid_work_goes_on(topics_ready, serde, tmp_path):
    smtp = smtp_server()
    mailbox, port = smtp.__enter__()
    settings = topics_ready.model_copy(update={"audit": topics_ready.audit.model_copy(
        update={"database_url": POSTGRES, "table_prefix": f"t{uuid.uuid4().hex[:10]}_"}),
        "notifications": NotificationSettings(smtp_host="127.0.0.1", smtp_port=port, backoff_seconds=0.01)})
    topics = Topics(settings.topic_prefix)
    store = AuditStore.from_settings(settings)
    stop = asyncio.Event()
    requests, prescriptions, watch = RequestTracker(1000, 3600, serde.record), PrescriptionTracker(1000), StreamWatch(settings)
    tasks = {name: asyncio.create_task(build(settings, serde).run(stop)) for name, build in (
        ("consent", consent), ("router", router), ("foreign-ncp", foreign_ncp), ("translation", translation),
        ("audit", audit), ("audit-store", audit_store), ("prescription", prescription))}
    tasks |= {"gateway.follower": asyncio.create_task(
                  Follower(settings, serde, [requests, prescriptions, watch], requests.ready).run(stop)),
              "gateway.dashboard": asyncio.create_task(watch.run(stop)),
              "notifications": asyncio.create_task(Notifier(settings, serde, NotificationStore(
                  f"sqlite:///{tmp_path / 'notifications.sqlite3'}"), {CAMILLE: "camille@example.org"}).run(stop))}
    producer = kafka.producer(settings.kafka)
    await producer.start()
    expected_dead, ps_ids, ep_ids, oddities, told = {}, [], [], handled_oddities(serde, topics), []
    try:
        for round_ in range(ROUNDS):
            for topic, groups in readers(topics).items():
                for i, value in enumerate(worst_inputs(serde, topic, topics, round_)):
                    key = f"bad-{round_}-{i}".encode()
                    await producer.send(topic, value, key=key)
                    for group in groups:
                        expected_dead[(topic, value, group)] = key
                        TRIED[f"{group} (broker)"] += 1
            ps = patient_summary_request()
            ep = prescriptions_requested(patient_summary_request(profession="21", rpps=PHARMACIST)["hp"], "FI",
                                         "FI-TEST-1", "TREATMENT", True, True, "127.0.0.1")
            ps_ids.append(ps["envelope"]["correlation_id"])
            ep_ids.append(ep["envelope"]["correlation_id"])
            await producer.send(topics.ps_requested, serde.encode(PS_REQUESTED, ps), key=ps_ids[-1].encode())
            await producer.send(topics.ep_requested, serde.encode(EP_REQUESTED, ep), key=ep_ids[-1].encode())
            topic, value = oddities[round_ % len(oddities)]
            await producer.send(topic, value)
            told.append(access_notified())
            await producer.send(topics.audit_access_notifications, serde.encode(PATIENT_ACCESS_NOTIFIED, told[-1]))
        await producer.flush()

        dead = await _watching(tasks, consume(settings, topics.dead_letters, len(expected_dead), timeout=90))
        outcomes = await _watching(tasks, _until(settings, serde, topics.ps_outcomes,
                                                 lambda e: e["envelope"]["correlation_id"] in ps_ids, ROUNDS))
        listings = await _watching(tasks, _until(settings, serde, topics.ep_outcomes,
                                                 lambda e: e["envelope"]["correlation_id"] in ep_ids, ROUNDS))
        stored = await _watching(tasks, _stored(store, set(ps_ids), per_request=5))
        await _watching(tasks, asyncio.to_thread(mailbox.wait, lambda m: len(m.messages) >= ROUNDS))
        with pytest.raises(TimeoutError):  # and nothing more
            await consume(settings, topics.dead_letters, len(expected_dead) + 1, timeout=3)
        alive = {name: not task.done() for name, task in tasks.items()}
    finally:
        await producer.stop()
        stop.set()
        results = await asyncio.gather(*tasks.values(), return_exceptions=True)
        store.drop()
        smtp.__exit__(None, None, None)

    crashed = {name: repr(r) for name, r in zip(tasks, results) if isinstance(r, BaseException)}
    assert not crashed and all(alive.values()), f"stopped: {crashed or alive}"

    got = {(dict(r.headers)["dlq.source.topic"].decode(), r.value, dict(r.headers)["dlq.consumer"].decode()): r for r in dead}
    assert len(dead) == len(got) == len(expected_dead), "a bad input was dead-lettered twice, or something valid was"
    assert set(got) == set(expected_dead)
    for (topic, value, group), rec in got.items():
        headers = dict(rec.headers)
        assert rec.key == expected_dead[(topic, value, group)]
        assert headers["dlq.error.class"] in (b"DecodeError", b"RejectedEvent", b"NotAnAuditRecord",
                                                                                   b"UnstorableAuditRecord") and headers["dlq.error.message"]
        assert headers["dlq.source.partition"].isdigit() and headers["dlq.source.offset"].isdigit()

    assert {e["envelope"]["correlation_id"] for e in outcomes} == set(ps_ids)
    assert all(e["status"] == "COMPLETED" and e["summary"]["translated"] for e in outcomes)
    assert {e["envelope"]["correlation_id"] for e in listings} == set(ep_ids)
    assert all(e["status"] == "COMPLETED" and e["prescriptions"] for e in listings)
    assert stored == {i: 5 for i in ps_ids}, "valid requests' audit records are missing from the store"
    assert sorted(m["X-Passerelle-Notification"] for m in mailbox.messages) == sorted(
        e["envelope"]["event_id"] for e in told), "a valid access notification was not told, or told twice"
    for request_id in ps_ids:
        assert requests.outcome(requests.lookup(request_id, "10001234565"))["status"] == "COMPLETED"
    for request_id in ep_ids:
        assert prescriptions.prescriptions_list(request_id, PHARMACIST)["outcome"]["status"] == "COMPLETED"
    print(f"bad-input campaign: broker: {len(expected_dead)} dead letters expected and found, "
          f"{ROUNDS * 2} valid requests completed, {ROUNDS} notifications delivered, {len(tasks)} consumers alive")


async def _watching(tasks: dict[str, asyncio.Task], waiting):
    """Await ``waiting``, failing at once if a consumer stops meanwhile (rather than at the timeout)."""
    waiter = asyncio.ensure_future(waiting)
    await asyncio.wait([waiter, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
    stopped = {name: t.exception() or "returned" for name, t in tasks.items() if t.done()}
    if stopped:
        waiter.cancel()
        raise AssertionError(f"a consumer stopped on bad input: {stopped}")
    return waiter.result()


async def _until(settings, serde, topic: str, wanted, count: int, timeout: float = 60) -> list[dict]:
    """Read ``topic`` until ``count`` events satisfy ``wanted``."""
    consumer = kafka.consumer(settings.kafka, None, topic)
    await consumer.start()
    found: list[dict] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(found)} of {count} on {topic}")
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                for rec in batch:
                    try:
                        event = serde.decode(rec.value)[1]
                    except Exception:
                        continue
                    if wanted(event):
                        found.append(event)
    finally:
        await consumer.stop()
    return found


async def _stored(store: AuditStore, request_ids: set[str], per_request: int, timeout: float = 60) -> dict[str, int]:
    """How many audit records the store holds for each request, once each has ``per_request``."""
    import json
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        counts = dict.fromkeys(request_ids, 0)
        for body in (await asyncio.to_thread(store.body_of)).values():
            correlation = json.loads(body)["envelope"]["correlation_id"]
            if correlation in counts:
                counts[correlation] += 1
        if all(n >= per_request for n in counts.values()) or asyncio.get_running_loop().time() > deadline:
            return counts
        await asyncio.sleep(0.5)
