"""Scale-out on the real broker: two `passerelle worker NAME` processes of each consumer-group
service share the partitions; one of each is stopped (SIGTERM, as an orchestrator scales down)
while requests keep coming; every request is answered exactly once and audited exactly once,
and the survivors own every partition."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.broker import free_port
from passerelle.events import PS_REQUESTED
from passerelle.supervisor import WORKERS
from passerelle.testing import consume
from passerelle.topic_admin import apply_topics
from passerelle.topics import Topics, declared_topics
from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
GROUP_SERVICES = [name for name in WORKERS if name != "gateway"]  # the gateway has no consumer group
REQUESTS = 150
AUDIT_STEPS = 5  # requested, consent, routed, retrieved, outcome


def start_worker(name: str, settings, log: Path) -> tuple[subprocess.Popen, int]:
    """``passerelle worker NAME`` as production runs it; returns the process and its metrics port."""
    port = free_port()
    env = {**os.environ,
           "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "PASSERELLE_KAFKA__SESSION_TIMEOUT_MS": str(settings.kafka.session_timeout_ms),
           "PASSERELLE_KAFKA__HEARTBEAT_INTERVAL_MS": str(settings.kafka.heartbeat_interval_ms),
           "PASSERELLE_KAFKA__FETCH_MAX_WAIT_MS": str(settings.kafka.fetch_max_wait_ms),
           "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix, "PASSERELLE_STATE_DIR": str(settings.state_dir),
           "PASSERELLE_NCP_DATA": str(settings.ncp_data), "PASSERELLE_CATALOGUE_DIR": str(settings.catalogue_dir),
           "PASSERELLE_METRICS_PORT": str(port)}
    process = subprocess.Popen([Path(sys.executable).parent / "passerelle", "worker", name], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return process, port


def consumed(port: int) -> float:
    """Events this worker has consumed, from its own Prometheus metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("passerelle_events_consumed_total{"))


async def members(admin, group: str) -> int | None:
    """Members of a stable ``group`` (None while it rebalances). The embedded broker does not
    report member assignments, so the partitions are followed from the workers' side."""
    [response] = await admin.describe_consumer_groups([group])
    _error, _group, state, _ptype, _protocol, group_members = response.groups[0][:6]
    return len(group_members) if state == "Stable" else None


async def wait_until(condition, what: str, timeout: float = 40):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await condition()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)
    return result


async def test_two_workers_per_service_lose_one_each_under_load_and_answer_every_request_once(
        settings, serde, tmp_path):
    await apply_topics(settings)
    topics = Topics(settings.topic_prefix)
    workers = {(name, i): start_worker(name, settings, tmp_path / f"{name}-{i}.log")
               for name in GROUP_SERVICES for i in (1, 2)}
    groups = {name: f"{settings.topic_prefix}.{name}" for name in GROUP_SERVICES}
    admin = kafka.admin(settings.kafka)
    await admin.start()
    producer = kafka.producer(settings.kafka)
    await producer.start()
    requests = [patient_summary_request() for _ in range(REQUESTS)]

    async def send(batch):
        acks = []
        for request in batch:
            acks.append(await producer.send(topics.ps_requested, serde.encode(PS_REQUESTED, request),
                                            key=request["envelope"]["correlation_id"].encode()))
            await asyncio.sleep(0.02)  # about 50 requests a second
        return [(await ack).partition for ack in acks]

    async def group_sizes(size):
        return all([await members(admin, g) == size for g in groups.values()])

    try:
        await wait_until(lambda: group_sizes(2), "every group at two members")
        await send(requests[:REQUESTS // 3])
        # The work is shared: each of the ten workers has consumed events of its group's topics.
        await wait_until(lambda: asyncio.to_thread(lambda: all(consumed(port) > 0 for _, port in workers.values())),
                         "every worker consuming")
        for name in GROUP_SERVICES:  # under load: one worker of each service stops
            workers[name, 1][0].send_signal(signal.SIGTERM)
        partitions_after_stop = await send(requests[REQUESTS // 3:])
        assert all(workers[name, 1][0].wait(20) == 0 for name in GROUP_SERVICES), "a graceful stop exits 0"
        await wait_until(lambda: group_sizes(1), "every group down to its survivor")
        await consume(settings, topics.ps_outcomes, REQUESTS, timeout=60)
        await consume(settings, topics.audit_records, REQUESTS * AUDIT_STEPS, timeout=60)
        survivors = {name: consumed(workers[name, 2][1]) for name in GROUP_SERVICES}
    finally:
        await producer.stop()
        await admin.close()
        for process, _ in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {key: process.wait(20) for key, (process, _) in workers.items()}
    assert set(codes.values()) == {0}, codes

    # Every process has stopped: nothing more can be written. Read both topics to their end.
    outcomes = await read_all(settings, serde, topics.ps_outcomes)
    audited = await read_all(settings, serde, topics.audit_records)
    expected = {r["envelope"]["correlation_id"] for r in requests}
    answered = collections.Counter(o["envelope"]["correlation_id"] for o in outcomes)
    assert set(answered) == expected and set(answered.values()) == {1}, "each request answered exactly once"
    assert all(o["status"] == "COMPLETED" for o in outcomes)
    steps = collections.Counter((a["envelope"]["correlation_id"], a["action"]) for a in audited)
    assert len(steps) == REQUESTS * AUDIT_STEPS and set(steps.values()) == {1}, "each step audited exactly once"
    # Rebalanced: requests sent after the stop landed on every partition and were all answered, so
    # the survivors read the partitions the stopped workers had.
    assert set(partitions_after_stop) == set(range(declared_topics()["ps_requested"].partitions))
    assert all(count > 0 for count in survivors.values()), survivors


async def read_all(settings, serde, topic: str) -> list[dict]:
    """Every event of ``topic``, from its beginning to its current end."""
    consumer = kafka.consumer(settings.kafka, None)
    await consumer.start()
    try:
        await consumer.topics()  # metadata
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        events = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                events += [serde.decode(r.value)[1] for r in records]
        return events
    finally:
        await consumer.stop()
