"""`passerelle produce` on the real broker: what it sends decodes as the event it was given;
a batch with one invalid record sends nothing."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from aiokafka import TopicPartition

from passerelle import kafka
from system.cli import app
from passerelle.events import PS_REQUESTED
from passerelle.testing import consume
from passerelle.topics import Topics
from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration


def env_of(settings) -> dict:
    return {"PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix, "PASSERELLE_STATE_DIR": str(settings.state_dir)}


def lines(*records: dict) -> str:
    return "\n".join(json.dumps(r, default=lambda v: v.isoformat()) for r in records) + "\n"


async def end_offset(settings, topic: str) -> int:
    consumer = kafka.consumer(settings.kafka, None)
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the cluster metadata
        partitions = consumer.partitions_for_topic(topic)
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def test_produced_events_are_consumed_and_decoded_and_an_invalid_batch_sends_nothing(topics_ready, serde, tmp_path):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    first, second = patient_summary_request(patient_id="PT-TEST-1"), patient_summary_request(patient_id="PT-TEST-2")
    del second["envelope"]  # filled by produce

    def invoke(*args: str, input: str | None = None):  # in a thread: the command runs its own event loop
        return asyncio.to_thread(CliRunner().invoke, app, ["produce", "--type", PS_REQUESTED, *args], input=input,
                                 env=env_of(settings))

    invalid = {**patient_summary_request(), "purpose": "CURIOSITY"}
    refused = await invoke(input=lines(first, invalid))
    assert refused.exit_code == 1
    assert "record 2 (line 2): purpose: expected one of TREATMENT, EMERGENCY" in refused.output
    assert await end_offset(settings, topics.ps_requested) == 0  # all or nothing

    dry = await invoke("--dry-run", input=lines(first, second))
    assert dry.exit_code == 0, dry.output
    assert await end_offset(settings, topics.ps_requested) == 0

    path = tmp_path / "requests.jsonl"
    path.write_text(lines(first, second))
    sent = await invoke("--producer", "hospital-x", str(path))
    assert sent.exit_code == 0, sent.output
    assert f"sent 2 to {topics.ps_requested}" in sent.output

    records = await consume(settings, topics.ps_requested, 2)
    decoded = sorted((serde.decode(r.value) for r in records), key=lambda d: d[1]["patient"]["patient_id"])
    assert [name for name, _ in decoded] == [PS_REQUESTED, PS_REQUESTED]
    assert [e["patient"]["patient_id"] for _, e in decoded] == ["PT-TEST-1", "PT-TEST-2"]
    assert decoded[0][1]["envelope"]["event_id"] == first["envelope"]["event_id"]
    assert decoded[0][1]["envelope"]["occurred_at"] == first["envelope"]["occurred_at"].replace(microsecond=first["envelope"]["occurred_at"].microsecond // 1000 * 1000)
    assert decoded[1][1]["envelope"]["producer"] == "hospital-x"
    keys = {r.key for r in records}
    assert keys == {e["envelope"]["correlation_id"].encode() for _, e in decoded}  # key = request id
