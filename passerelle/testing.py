"""Test fixtures every service's tests share: a real broker, per-test settings and topics.

The broker is, in order of preference:
1. an external one named by ``PASSERELLE_TEST_BOOTSTRAP`` (e.g. a Kafka cluster in CI);
2. Apache Kafka in a container (testcontainers) when a container engine answers;
3. the embedded Tansu broker on a free loopback port (what these machines use).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from passerelle.broker import EmbeddedBroker
from passerelle.settings import KafkaSettings, Settings


def _container_engine_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0


@contextmanager
def real_broker() -> Iterator[str]:
    """Bootstrap servers of a real Kafka-protocol broker for the test session."""
    external = os.environ.get("PASSERELLE_TEST_BOOTSTRAP")
    if external:
        yield external
    elif _container_engine_available():
        from testcontainers.kafka import KafkaContainer
        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        broker = EmbeddedBroker().start()
        try:
            yield broker.bootstrap_servers
        finally:
            broker.stop()


def settings_for_test(bootstrap: str, state_dir: Path, **overrides) -> Settings:
    """Settings for one test: its own topic prefix (so tests never share topics), fast group joins."""
    kafka = KafkaSettings(bootstrap_servers=bootstrap, session_timeout_ms=2000, heartbeat_interval_ms=300,
                          fetch_max_wait_ms=10)
    return Settings(kafka=kafka, topic_prefix=f"t{uuid.uuid4().hex[:10]}", state_dir=state_dir, **overrides)


def child_env(settings: Settings) -> dict[str, str]:
    """Environment variables that give a child process the same settings."""
    return {
        "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "PASSERELLE_KAFKA__SESSION_TIMEOUT_MS": str(settings.kafka.session_timeout_ms),
        "PASSERELLE_KAFKA__HEARTBEAT_INTERVAL_MS": str(settings.kafka.heartbeat_interval_ms),
        "PASSERELLE_KAFKA__FETCH_MAX_WAIT_MS": str(settings.kafka.fetch_max_wait_ms),
        "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix,
        "PASSERELLE_STATE_DIR": str(settings.state_dir),
        "PASSERELLE_NCP_DATA": str(settings.ncp_data),
        "PASSERELLE_CATALOGUE_DIR": str(settings.catalogue_dir),
    }


async def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):
    """Poll ``predicate`` (sync or async) until it returns something truthy; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


async def consume(settings: Settings, topic: str, count: int, timeout: float = 20.0) -> list:
    """Read ``count`` records of ``topic`` from the beginning (no consumer group)."""
    from passerelle import kafka

    consumer = kafka.consumer(settings.kafka, None, topic)
    await consumer.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{len(records)} of {count} records on {topic} within {timeout}s")
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records
