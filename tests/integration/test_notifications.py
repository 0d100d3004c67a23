"""The notifications service on the real broker with a real SMTP server on loopback: one message per
disclosure, none twice (redelivery, restart), refusals and timeouts retried then dead-lettered, bad
bytes dead-lettered; SQLite and PostgreSQL stores."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import datetime, timezone

import pytest

from passerelle import PROJECT_ROOT, kafka
from passerelle.envelope import new_envelope
from passerelle.events import PATIENT_ACCESS_NOTIFIED
from passerelle.settings import NotificationSettings
from system.supervisor import ensure_topics
from passerelle.testing import consume
from passerelle.topics import Topics
from services.notifications.app import Notifier
from passerelle.notification_store import DEAD, NO_ADDRESS, SENDING, SENT, NotificationStore

from tests.smtp_server import smtp_server

pytestmark = pytest.mark.integration
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CAMILLE, PAUL = "286037505604238", "185072A12345665"
EMAILS = {CAMILLE: "camille.durand@example.org", PAUL: "paul.santoni@example.org"}
VSM = (PROJECT_ROOT / "data" / "dmp" / CAMILLE[:13] / "vsm.xml").read_text()


def disclosure(ins: str = CAMILLE, purpose: str = "TREATMENT", country: str = "DE") -> dict:
    return {"envelope": new_envelope("audit"), "patient": {"country": "FR", "patient_id": ins},
            "hp": {"rpps": "DE-HP-1", "profession": "physician", "organisation": "Klinikum Musterstadt",
                   "auth_method": "NCP_ASSERTION", "assertion_issued_at": 1764931200000},
            "purpose": purpose, "action": "NCP_PS_OUTCOME", "accessed_at": datetime(2026, 12, 5, 7, 30, tzinfo=timezone.utc),
            "audit_source_event_id": str(uuid.uuid4()), "hp_country": country, "hp_name": "Dr. Anna Schmidt",
            "document_id": f"VSM-{CAMILLE[:13]}-1"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'n.sqlite3'}" if request.param == "sqlite" else POSTGRES
    s = NotificationStore(url, f"t{uuid.uuid4().hex[:8]}_")
    yield s
    s.drop()


def with_smtp(settings, port: int, **overrides):
    config = NotificationSettings(smtp_host="127.0.0.1", smtp_port=port, backoff_seconds=0.01, **overrides)
    return settings.model_copy(update={"notifications": config, "topic_partitions": 1})


async def publish(settings, serde, events: list[dict], raw: list[bytes] = ()) -> None:
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        topic = Topics(settings.topic_prefix).audit_access_notifications
        acks = [await producer.send(topic, serde.encode(PATIENT_ACCESS_NOTIFIED, e)) for e in events]
        acks += [await producer.send(topic, r) for r in raw]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def running(notifier: Notifier, until) -> None:
    """Run ``notifier`` until ``until`` (a coroutine) returns, then stop it cleanly."""
    stop = asyncio.Event()
    task = asyncio.create_task(notifier.run(stop))
    try:
        return await until
    finally:
        stop.set()
        await task


async def test_one_message_per_disclosure_none_twice_across_redelivery_and_restart(settings, serde, store):
    with smtp_server() as (mailbox, port):
        settings = with_smtp(settings, port)
        await ensure_topics(settings)
        first, emergency, paul = disclosure(), disclosure(purpose="EMERGENCY", country="PT"), disclosure(PAUL)
        unknown = disclosure("279035121518989")  # no address in the DMP: in-app only
        await publish(settings, serde, [first, emergency, paul, first, unknown], raw=[b"not an event"])
        dead_letters = Topics(settings.topic_prefix).dead_letters
        [dead] = await running(Notifier(settings, serde, store, EMAILS),
                               _both(asyncio.to_thread(mailbox.wait, lambda m: len(m.messages) >= 3),
                                     consume(settings, dead_letters, 1)))
        assert dead.value == b"not an event"
        assert sorted(m["To"] for m in mailbox.messages) == sorted([EMAILS[CAMILLE], EMAILS[CAMILLE], EMAILS[PAUL]])
        # A restart that reads everything again (a new consumer group), then one more disclosure.
        last = disclosure()
        await publish(settings, serde, [first, last])  # in order, one partition: the duplicate comes first
        await running(Notifier(settings, serde, store, EMAILS, group=f"{settings.topic_prefix}.again"),
                      asyncio.to_thread(mailbox.wait, lambda m: len(m.messages) >= 4))
    assert len(mailbox.messages) == 4 and mailbox.tries == 4
    assert sorted(m["X-Passerelle-Notification"] for m in mailbox.messages) == sorted(
        e["envelope"]["event_id"] for e in (first, emergency, paul, last))
    assert store.count() == 5
    assert store.status(unknown["envelope"]["event_id"])["email_status"] == NO_ADDRESS
    assert {store.status(e["envelope"]["event_id"])["email_status"] for e in (first, emergency, paul, last)} == {SENT}
    urgent = next(m for m in mailbox.messages if m["X-Passerelle-Notification"] == emergency["envelope"]["event_id"])
    text = urgent.get_content()
    assert urgent["Subject"].startswith("URGENCE")
    assert "Portugal" in text and "médecin" in text and "Klinikum Musterstadt" in text and "accès en urgence" in text
    assert "05/12/2026 à 08:30" in text  # 07:30 UTC, Paris time
    assert CAMILLE[:13] not in text and "durand" not in text.lower()  # no identifier, no name
    total, page = store.for_patient("FR", CAMILLE, limit=2)
    assert total == 3 and len(page) == 2


async def _both(a, b):
    _, second = await asyncio.gather(a, b)
    return second


@pytest.mark.parametrize("mode, overrides", [("refuse", {}), ("hang", {"smtp_timeout_seconds": 0.3})])
async def test_refusals_and_timeouts_are_retried_then_dead_lettered(settings, serde, tmp_path, mode, overrides):
    store = NotificationStore(f"sqlite:///{tmp_path / 'n.sqlite3'}")
    with smtp_server(mode) as (mailbox, port):
        settings = with_smtp(settings, port, max_attempts=3, **overrides)
        await ensure_topics(settings)
        event = disclosure()
        await publish(settings, serde, [event])
        [dead] = await running(Notifier(settings, serde, store, EMAILS),
                               consume(settings, Topics(settings.topic_prefix).dead_letters, 1))
        assert mailbox.tries == 3 and mailbox.messages == []
    headers = dict(dead.headers)
    assert serde.decode(dead.value)[1]["envelope"]["event_id"] == event["envelope"]["event_id"]
    assert headers["dlq.error.class"] == b"EmailUndeliverable" and b"after 3 tries" in headers["dlq.error.message"]
    status = store.status(event["envelope"]["event_id"])
    assert status["email_status"] == DEAD and status["attempts"] == 3
    assert store.for_patient("FR", CAMILLE)[0] == 1  # the in-app notification is there all the same


async def test_a_crash_between_the_relays_acceptance_and_sent_resends_once_with_the_same_message_id(
        settings, serde, tmp_path):
    """The crash window SMTP leaves (docs/patient-space.md): the child process is killed after the
    relay accepted the message and before the store said ``sent``; the redelivered event is sent
    again, and both copies carry the one Message-ID derived from the event id."""
    url = f"sqlite:///{tmp_path / 'n.sqlite3'}"
    with smtp_server() as (mailbox, port):
        settings = with_smtp(settings, port)
        await ensure_topics(settings)
        event = disclosure()
        event_id = event["envelope"]["event_id"]
        await publish(settings, serde, [event])
        args = {"bootstrap": settings.kafka.bootstrap_servers, "topic_prefix": settings.topic_prefix,
                "smtp_port": port, "database_url": url, "state_dir": str(tmp_path / "child"), "emails": EMAILS}
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.notification_crash", json.dumps(args),
                                                      cwd=PROJECT_ROOT)
        assert await asyncio.wait_for(child.wait(), 90) == 9  # killed in the window, as asked
        assert len(mailbox.messages) == 1
        store = NotificationStore(url)
        assert store.status(event_id)["email_status"] == SENDING and store.status(event_id)["attempts"] == 1
        # The restarted service: the offset was never committed, the event comes again.
        await running(Notifier(settings, serde, store, EMAILS),
                      asyncio.to_thread(mailbox.wait, lambda m: len(m.messages) >= 2))
        await wait_until(lambda: store.status(event_id)["email_status"] == SENT)
        # Once sent, a further redelivery (a new group reads all again) sends nothing more.
        await running(Notifier(settings, serde, store, EMAILS, group=f"{settings.topic_prefix}.again"),
                      asyncio.sleep(1.5))
    assert len(mailbox.messages) == 2 and mailbox.tries == 2
    assert {m["Message-ID"].strip() for m in mailbox.messages} == {f"<{event_id}@passerelle.invalid>"}
    assert store.status(event_id)["attempts"] == 2


async def wait_until(condition, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.05)
