"""``passerelle bench --broker HOST:PORT`` measures on that Kafka instead of starting the embedded
broker: here the suite's own broker stands in for an external one, and the part of the bench that is
cheap enough for the suite (the raw broker round trip, 100 messages) runs on it. The stages alone and
the flow go through the same ``benchmarks.brokers.start``."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from benchmarks import bench, brokers
from passerelle.broker import EmbeddedBroker
from system.cli import app

pytestmark = pytest.mark.integration


async def topics_on(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def test_the_raw_hop_runs_on_the_given_broker_and_starts_none(bootstrap, monkeypatch):
    def refuse(self):
        raise AssertionError("the bench started a broker of its own")
    monkeypatch.setattr(EmbeddedBroker, "start", refuse)
    opts = bench.BenchOptions(broker=bootstrap, hop_messages=100, hop_latency_seconds=0.5, hop_rate=20)
    hop = bench.raw_hop(300, opts)
    assert hop["status"] == "ok" and hop["p50_ms"] > 0 and hop["client_cpu_ms_per_msg"] > 0
    # the broker's CPU and memory are not this machine's to read: said so, not reported as zero
    assert hop["broker_cpu_ms_per_msg"] is None and hop["broker_rss_mib_at_end"] is None
    assert {t for t in asyncio.run(topics_on(bootstrap)) if t.startswith("hop-")}  # its records are there


def test_an_external_broker_is_neither_started_nor_stopped():
    broker = brokers.start("kafka.example:9092")
    assert broker.bootstrap_servers == "kafka.example:9092" and brokers.pid(broker) is None
    broker.stop()  # nothing to stop: no process of ours


def test_the_country_a_flow_refuses_it():
    done = CliRunner().invoke(app, ["bench", "--flow", "country-a", "--broker", "kafka.example:9092"])
    assert done.exit_code != 0 and "--broker" in done.output
