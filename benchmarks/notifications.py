"""Notifications throughput: access notifications delivered per second by the notifications service
(Kafka → store → SMTP → commit) to an SMTP server on loopback (aiosmtpd, accepting every message),
with the embedded SQLite store. Broker: the embedded one (memory only), so runs are bounded.

    .venv/bin/python -m benchmarks.notifications --events 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from aiosmtpd.controller import Controller

from passerelle import kafka
from passerelle.broker import EmbeddedBroker, free_port
from passerelle.envelope import new_envelope
from passerelle.events import PATIENT_ACCESS_NOTIFIED
from passerelle.logging import configure_logging
from passerelle.runtime import make_serde
from passerelle.settings import KafkaSettings, NotificationSettings, Settings
from system.supervisor import ensure_topics
from passerelle.topics import Topics
from services.notifications.app import Notifier
from passerelle.notification_store import NotificationStore

INS = "286037505604238"


class Counting:
    def __init__(self, expected: int):
        self.count, self.expected, self.done = 0, expected, threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        if self.count >= self.expected:
            self.done.set()
        return "250 OK"


def event() -> dict:
    return {"envelope": new_envelope("audit"), "patient": {"country": "FR", "patient_id": INS},
            "hp": {"rpps": "DE-1", "profession": "physician", "organisation": "Charité", "auth_method": "NCP_ASSERTION",
                   "assertion_issued_at": 0}, "purpose": "TREATMENT", "action": "NCP_PS_OUTCOME",
            "accessed_at": datetime.now(timezone.utc), "audit_source_event_id": "x", "hp_country": "DE",
            "hp_name": "Dr. Anna Schmidt", "document_id": "VSM-1"}


async def run(events: int) -> dict:
    broker = EmbeddedBroker().start()
    mailbox, port = Counting(events), free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with tempfile.TemporaryDirectory() as state:
            settings = Settings(kafka=KafkaSettings(bootstrap_servers=broker.bootstrap_servers, fetch_max_wait_ms=10),
                                topic_prefix=f"b{uuid.uuid4().hex[:8]}", state_dir=Path(state), topic_partitions=1,
                                notifications=NotificationSettings(smtp_port=port))
            await ensure_topics(settings)
            serde = make_serde(settings)
            producer = kafka.producer(settings.kafka)
            await producer.start()
            topic = Topics(settings.topic_prefix).audit_access_notifications
            await asyncio.gather(*[await producer.send(topic, serde.encode(PATIENT_ACCESS_NOTIFIED, event()))
                                   for _ in range(events)])
            await producer.stop()
            store = NotificationStore.from_settings(settings)
            stop = asyncio.Event()
            started, cpu = time.perf_counter(), time.process_time()
            task = asyncio.create_task(Notifier(settings, serde, store, {INS: "camille@example.org"}).run(stop))
            await asyncio.to_thread(mailbox.done.wait, 600)
            elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu
            stop.set()
            await task
            return {"events": events, "delivered": mailbox.count, "stored": store.count(),
                    "seconds": round(elapsed, 2), "per_second": round(mailbox.count / elapsed, 1),
                    "cpu_ms_per_message": round(cpu_used * 1000 / max(1, mailbox.count), 2)}
    finally:
        smtp.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    configure_logging("console", "WARNING")
    print(json.dumps(asyncio.run(run(min(args.events, 20_000))), indent=2))


if __name__ == "__main__":
    main()
