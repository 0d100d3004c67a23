"""A wrong schema registry credential degrades a service, logged and counted, without losing an
event (issue 22, bad input): the loopback registry (tests/registry_server.py) answers 401 to the
service's credential. At start the service writes Avro single-object encoding instead of stopping;
a record in the Confluent wire format whose schema id it cannot resolve waits, retried with backoff,
and is processed once the registry accepts the credential again: never dead-lettered."""

from __future__ import annotations

import asyncio
import base64

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr
from structlog.testing import capture_logs

from passerelle import PROJECT_ROOT, kafka, processor
from passerelle.registry import register_schemas, registry_serde
from passerelle.serde import SINGLE_OBJECT_MAGIC, SchemaSet
from passerelle.settings import SchemaRegistrySettings
from passerelle.testing import consume, read_records
from passerelle.topics import Topics
from services.consent.app import build as consent

from tests.integration.conftest import patient_summary_request
from tests.registry_server import Registry

pytestmark = pytest.mark.integration
SCHEMAS = SchemaSet(PROJECT_ROOT / "schemas")
REQUESTED, DECISION = "fr.passerelle.ps.PatientSummaryRequested", "fr.passerelle.consent.ConsentDecision"


def registry_settings(url: str, password: str) -> SchemaRegistrySettings:
    return SchemaRegistrySettings(url=url, username="passerelle", password=SecretStr(password))


def failures(reason: str) -> float:
    return REGISTRY.get_sample_value("passerelle_schema_registry_failures_total", {"reason": reason}) or 0.0


def test_a_refused_credential_at_start_degrades_to_single_object_encoding():
    with Registry("passerelle", "good") as registry:
        register_schemas(SCHEMAS, registry_settings(registry.url, "good"))
        before = failures("credentials_refused")
        with capture_logs() as logs:
            serde = registry_serde(SCHEMAS, registry_settings(registry.url, "wrong"))
        encoded = serde.encode(REQUESTED, patient_summary_request())
    assert encoded[:2] == SINGLE_OBJECT_MAGIC and serde.decode(encoded)[0] == REQUESTED
    assert failures("credentials_refused") == before + 1
    assert REGISTRY.get_sample_value("passerelle_schema_registry_degraded") == 1
    [entry] = [e for e in logs if e["log_level"] == "error"]
    assert entry["reason"] == "credentials_refused" and "wrong" not in str(entry)  # never the secret


async def test_a_record_the_registry_cannot_name_waits_and_is_processed_once_it_can(topics_ready, monkeypatch):
    settings, topics = topics_ready, Topics(topics_ready.topic_prefix)
    monkeypatch.setattr(processor, "REGISTRY_RETRY_FIRST_S", 0.05)
    monkeypatch.setattr(processor, "REGISTRY_RETRY_MAX_S", 0.2)
    with Registry("passerelle", "good") as registry:
        register_schemas(SCHEMAS, registry_settings(registry.url, "good"))
        writer = registry_serde(SCHEMAS, registry_settings(registry.url, "good"))  # the gateway, say
        degraded = registry_serde(SCHEMAS, registry_settings(registry.url, "wrong"))  # consent, credential wrong
        request = patient_summary_request(patient_id="193857264")
        producer = kafka.producer(settings.kafka)
        await producer.start()
        await producer.send_and_wait(topics.ps_requested, writer.encode(REQUESTED, request),
                                     key=request["envelope"]["correlation_id"].encode())
        await producer.stop()
        stop, before = asyncio.Event(), failures("credentials_refused")
        task = asyncio.create_task(consent(settings, degraded).run(stop))
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while failures("credentials_refused") < before + 3:  # retried, each failure counted
                assert not task.done() and asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
            assert await read_records(settings, topics.consent_decisions) == []  # waiting, not dropped
            # the registry now accepts the service's credential (the secrets were put right)
            registry.auth = "Basic " + base64.b64encode(b"passerelle:wrong").decode()
            [decided] = await consume(settings, topics.consent_decisions, 1)
        finally:
            stop.set()
            await asyncio.gather(task)
    name, decision = degraded.decode(decided.value)
    assert name == DECISION and decision["envelope"]["correlation_id"] == request["envelope"]["correlation_id"]
    assert decided.value[:2] == SINGLE_OBJECT_MAGIC  # what a degraded service writes
    assert await read_records(settings, topics.dead_letters) == []
