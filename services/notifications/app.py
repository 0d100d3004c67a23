"""Wiring: ``audit.access-notifications`` → one e-mail and one in-app notification per disclosure;
``consent.registry`` → the French patients' choices, listed in their space.

Its own consumer group (``<prefix>.notifications``). Per batch: decode → store every notice not
stored yet (one transaction; the event id is the key) → send the e-mails still pending, concurrently,
each try recorded first (``sending``) and retried with backoff → ``sent`` once the relay accepted it;
after the last try, the event goes to the dead-letter topic with its original bytes and the reason →
commit the Kafka offsets. A crash before the commit redelivers the batch, which the store absorbs: an
event already sent (or dead-lettered) is not sent again; one left ``sending`` is sent again with the
same Message-ID (SMTP cannot say whether the relay accepted the first; docs/patient-space.md).
Bytes that are not an access notification go to the dead-letter topic (ADR 4). Retention purges
(``retention_days``) run at start and then hourly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from prometheus_client import Counter

from passerelle import kafka
from passerelle.consent_registry import CROSS_BORDER_SERVICE
from passerelle.dmp import load_dmp
from passerelle.processor import CONSUMED, DEAD_LETTERS, RejectedEvent, dead_letter_headers
from passerelle.serde import AvroSerde, DecodeError
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.notification_store import NotificationStore
from passerelle.topics import Topics
from services.notifications.handlers import Notice, choice, notice
from services.notifications.mailer import deliver, message

SERVICE = Service.NOTIFICATIONS
PURGE_INTERVAL_S = 3600
log = structlog.get_logger()
SENT = Counter("passerelle_notifications_sent", "Access notifications delivered by e-mail")
UNDELIVERED = Counter("passerelle_notifications_dead_lettered", "Access notifications not delivered after the last try")
RESENT = Counter("passerelle_notifications_resent_after_crash",
                 "Access notifications sent again after a crash left their try unrecorded (same Message-ID)")


class EmailUndeliverable(Exception):
    """Every try to send the notice failed: the event goes to the dead-letter topic."""


def addresses(dmp_data: Path) -> dict[str, str]:
    """INS → the patient's e-mail address, from the DMP simulator (``patient.json``, ``email``)."""
    return {ins: r.patient.email for ins, r in load_dmp(dmp_data).items() if r.patient.email}


class Notifier:
    def __init__(self, settings: Settings, serde: AvroSerde, store: NotificationStore | None = None,
                 emails: dict[str, str] | None = None, group: str | None = None):
        self.settings, self.serde = settings, serde
        names = Topics(settings.topic_prefix)
        self.source, self.dead_letters = names.audit_access_notifications, names.dead_letters
        self.registry = names.consent_registry
        self.topics, self.pattern = [self.source, self.registry], None
        self.store = store or NotificationStore.from_settings(settings)
        self.emails = addresses(settings.dmp_data) if emails is None else emails
        self.group = group or f"{settings.topic_prefix}.{SERVICE}"
        #: SMTP connections open at once (a batch of hundreds must not open hundreds).
        self.gate = asyncio.Semaphore(settings.notifications.max_connections)
        #: Fault injection for tests only: awaited with the event id once the relay accepted the
        #: message and before the store says ``sent`` (the crash window).
        self.after_accept: Callable[[str], Awaitable[None]] | None = None

    async def run(self, stop: asyncio.Event) -> None:
        idle = self.settings.kafka.model_copy(update={"fetch_max_wait_ms": self.settings.notifications.fetch_max_wait_ms})
        consumer = kafka.consumer(idle, self.group)
        producer = kafka.producer(self.settings.kafka)
        await producer.start()
        await kafka.start_reading(consumer, self.settings.kafka, self.topics)
        log.info("notifications started", group=self.group, patients_with_address=len(self.emails))
        next_purge = 0.0
        try:
            while not stop.is_set():
                if time.monotonic() >= next_purge:
                    purged = await asyncio.to_thread(self.store.purge, self.settings.notifications.retention_days)
                    if purged:
                        log.info("notifications purged (retention)", purged=purged)
                    next_purge = time.monotonic() + PURGE_INTERVAL_S
                batch = await consumer.getmany(timeout_ms=500, max_records=self.settings.kafka.max_batch)
                records = [r for part in batch.values() for r in part]
                if records:
                    await self._handle(producer, records)
                    await consumer.commit()
                    for rec in records:
                        CONSUMED.labels(SERVICE, rec.topic).inc()
        finally:
            await kafka.close(self.settings.kafka.shutdown_timeout_ms / 1000, consumer, producer)  # bounded: the broker may be gone
            log.info("notifications stopped", group=self.group)

    async def _handle(self, producer, records) -> None:
        notices, choices, acks = {}, [], []
        for rec in records:
            if rec.topic == self.registry and rec.value is None:
                continue  # a tombstone (an erasure): nothing to show
            try:
                if rec.topic == self.registry:
                    choices.append(choice(*self.serde.decode(rec.value), CROSS_BORDER_SERVICE))
                    continue
                n = notice(*self.serde.decode(rec.value))
                notices.setdefault(n.event_id, (n, rec))
            except (DecodeError, RejectedEvent) as exc:
                acks.append(await self._dead_letter(producer, rec, exc))
        await asyncio.to_thread(self.store.record_choices, [c for c in choices if c is not None])
        pending = await asyncio.to_thread(
            self.store.record, [(n, n.patient_id in self.emails) for n, _ in notices.values()])
        failures = [f for f in await asyncio.gather(*(self._send(notices[i][0]) for i in pending)) if f]
        for event_id, _, exc in failures:
            acks.append(await self._dead_letter(producer, notices[event_id][1], exc))
        await asyncio.gather(*acks)
        # Marked dead only once its dead letter is acknowledged: a crash in between sends it again.
        for event_id, attempts, exc in failures:
            await asyncio.to_thread(self.store.dead, event_id, attempts, str(exc))
            UNDELIVERED.inc()

    async def _send(self, n: Notice) -> tuple[str, int, EmailUndeliverable] | None:
        """None once delivered (and recorded as sent), else what failed."""
        config = self.settings.notifications

        async def before_try() -> None:
            if await asyncio.to_thread(self.store.attempting, n.event_id) > 1 and not tried:
                RESENT.inc()  # a try before this process's first: an earlier run's, maybe accepted
                log.warning("notification sent again after an unfinished try", notification=n.event_id)
            tried.append(True)
        tried: list[bool] = []
        outcome = await deliver(message(n, config.sender, self.emails[n.patient_id]), config, self.gate, before_try)
        if outcome.delivered:
            if self.after_accept is not None:
                await self.after_accept(n.event_id)
            await asyncio.to_thread(self.store.delivered, n.event_id)
            SENT.inc()
            return None
        return n.event_id, outcome.attempts, EmailUndeliverable(
            f"e-mail not delivered after {outcome.attempts} tries: {outcome.reason}")

    async def _dead_letter(self, producer, rec, exc: Exception):
        DEAD_LETTERS.labels(SERVICE, type(exc).__name__).inc()
        log.warning("dead-lettered", topic=rec.topic, partition=rec.partition, offset=rec.offset,
                    error_class=type(exc).__name__)
        return await producer.send(self.dead_letters, rec.value, key=rec.key,
                                   headers=dead_letter_headers(rec, SERVICE, exc))


def build(settings: Settings, serde: AvroSerde) -> Notifier:
    return Notifier(settings, serde)
