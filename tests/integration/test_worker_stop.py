"""A worker stops on SIGTERM whatever its broker does: `passerelle worker NAME` started directly
(not under `passerelle up`, so nothing kills it for us) whose broker is gone still exits, cleanly and
within a bounded time (``KafkaSettings.shutdown_timeout_ms``). Before, a processor with handled,
uncommitted records looked for its group coordinator forever and had to be SIGKILLed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from passerelle import kafka
from passerelle.broker import EmbeddedBroker
from passerelle.testing import settings_for_test
from passerelle.topic_admin import apply_topics
from passerelle.topics import Topics

pytestmark = pytest.mark.integration
SHUTDOWN_TIMEOUT_MS = 1000
#: Once SIGTERM is sent: the bound (about twice the shutdown timeout) plus the machine's slack.
EXIT_WITHIN_S = 20.0


def wait_for(log: Path, text: bytes, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_bytes():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"{text!r} not logged within {seconds}s:\n{log.read_text()}"
        time.sleep(0.1)


async def produce(settings, topic: str, value: bytes) -> None:
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


def test_a_worker_whose_broker_is_gone_stops_on_sigterm(tmp_path):
    broker = EmbeddedBroker().start()  # its own: this test stops it
    try:
        settings = settings_for_test(broker.bootstrap_servers, tmp_path / "state")
        asyncio.run(apply_topics(settings))
        log = tmp_path / "router.log"
        env = {**os.environ, "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
               "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix, "PASSERELLE_STATE_DIR": str(settings.state_dir),
               # what it handles stays uncommitted until it stops: the commit that waited forever
               "PASSERELLE_KAFKA__COMMIT_INTERVAL_MS": "600000",
               "PASSERELLE_KAFKA__SHUTDOWN_TIMEOUT_MS": str(SHUTDOWN_TIMEOUT_MS)}
        process = subprocess.Popen([Path(sys.executable).parent / "passerelle", "worker", "router"], env=env,
                                   stdout=log.open("wb"), stderr=subprocess.STDOUT)
        try:
            wait_for(log, b"processor started", process, 90)
            asyncio.run(produce(settings, Topics(settings.topic_prefix).consent_decisions, b"not an event"))
            wait_for(log, b"dead-lettered", process, 30)  # handled, not committed
            broker.stop()
            time.sleep(1.0)  # the worker notices its broker is gone
            sent = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = process.wait(EXIT_WITHIN_S)
            took = time.monotonic() - sent
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert code == 0, log.read_text()
        assert took < EXIT_WITHIN_S
        assert b"processor stopped" in log.read_bytes()
    finally:
        broker.stop()
