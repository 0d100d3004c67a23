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
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.broker import EmbeddedBroker, free_port
from passerelle.settings import AuditSettings, KafkaSettings, Settings


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
        from testcontainers.community.kafka import KafkaContainer
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
    overrides.setdefault("audit", AuditSettings(fetch_max_wait_ms=10, fetch_min_bytes=1))
    return Settings(kafka=kafka, topic_prefix=f"t{uuid.uuid4().hex[:10]}", state_dir=state_dir, **overrides)


async def consume(settings: Settings, topic: str, count: int, timeout: float = 20.0) -> list:
    """Read ``count`` records of ``topic`` from the beginning (no consumer group)."""
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


async def read_records(settings: Settings, topic: str, timeout: float = 60.0) -> list:
    """Every record of ``topic``, from its beginning to its end offsets at the time of the call
    (no consumer group); none if the topic does not exist."""
    consumer = kafka.consumer(settings.kafka, None)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the cluster metadata
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list = []
        deadline = time.monotonic() + timeout
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic} not read to its end within {timeout}s")
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


async def read_topic(settings: Settings, serde, topic: str) -> list[dict]:
    """Every event of ``topic``, from its beginning to its end offsets at the time of the call."""
    return [serde.decode(r.value)[1] for r in await read_records(settings, topic)]


class RunningSystem:
    """``passerelle up`` (embedded broker unless ``broker`` is given, free HTTP port) as a child
    process, for e2e tests and benchmarks; stdout and stderr go to ``log``."""

    def __init__(self, workdir: Path, broker: str | None = None, **env: str):
        self.bin = Path(sys.executable).parent
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PASSERELLE_STATE_DIR": str(workdir / "state"),
                    "PASSERELLE_KAFKA__SESSION_TIMEOUT_MS": "2000", "PASSERELLE_KAFKA__HEARTBEAT_INTERVAL_MS": "300",
                    **env}
        self.log = workdir / "passerelle-up.log"
        if broker:  # an external broker: this run's own topics
            self.env["PASSERELLE_TOPIC_PREFIX"] = f"e2e{uuid.uuid4().hex[:8]}"
        command = [self.bin / "passerelle", "up", "--http", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(command + (["--broker", broker] if broker else []),
                                        env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60) -> "RunningSystem":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"passerelle up exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(self.log.read_text()[-3000:])

    def token(self, rpps: str = "10001234565", profession: str = "10", *extra: str) -> str:
        return subprocess.run([self.bin / "passerelle", "token", "--rpps", rpps, "--profession", profession, *extra],
                              env=self.env, capture_output=True, text=True, check=True).stdout.strip()

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)
