"""Registry mode: schemas registered by the deployment step and looked up at start through
Confluent's client with basic authentication; a Patient Summary request in the Confluent wire format
goes through consent and the router on the real broker; a schema never registered stops a service at
start, and the deployment step fails on a refused credential, with a message saying which
(tests/registry_server.py). A refused credential at run time: tests/integration/test_registry_degraded.py."""

from __future__ import annotations

import asyncio
import struct

import pytest
from pydantic import SecretStr

from passerelle import PROJECT_ROOT, kafka
from passerelle.registry import RegistryError, register_schemas, registry_serde
from passerelle.serde import SchemaSet
from passerelle.settings import SchemaRegistrySettings
from passerelle.testing import consume
from passerelle.topics import Topics
from services.consent.app import build as consent
from services.router.app import build as router

from tests.integration.conftest import patient_summary_request
from tests.registry_server import Registry

pytestmark = pytest.mark.integration
SCHEMAS = SchemaSet(PROJECT_ROOT / "schemas")
REQUESTED, QUERY = "fr.passerelle.ps.PatientSummaryRequested", "fr.passerelle.ncp.PatientSummaryQuery"


def registry_settings(url: str, password: str = "good") -> SchemaRegistrySettings:
    return SchemaRegistrySettings(url=url, username="passerelle", password=SecretStr(password))


async def test_a_request_in_the_confluent_wire_format_goes_through_consent_and_the_router(topics_ready):
    settings, topics = topics_ready, Topics(topics_ready.topic_prefix)
    with Registry("passerelle", "good") as registry:
        ids = register_schemas(SCHEMAS, registry_settings(registry.url))
        assert len(ids) == len(SCHEMAS.by_name) and len(set(ids.values())) == len(ids)
        serde = registry_serde(SCHEMAS, registry_settings(registry.url))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in (consent, router)]
        try:
            producer = kafka.producer(settings.kafka)
            await producer.start()
            request = patient_summary_request(patient_id="193857264")
            await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, request),
                                         key=request["envelope"]["correlation_id"].encode())
            await producer.stop()
            [routed] = await consume(settings, topics.ncp_outbound("PT"), 1)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        assert routed.value[:1] == b"\x00" and struct.unpack(">I", routed.value[1:5])[0] == ids[QUERY]
        reader = registry_serde(SCHEMAS, registry_settings(registry.url))  # a process that never wrote one
        name, query = reader.decode(routed.value)
        assert name == QUERY and query["envelope"]["correlation_id"] == request["envelope"]["correlation_id"]
        # ids looked up at start are read with the local schemas: no registry call per event at run time
        assert not any(call.startswith("GET /schemas/ids/") for call in registry.calls)


def test_an_unregistered_schema_stops_the_service_at_start_and_a_refused_credential_the_deployment_step():
    with Registry("passerelle", "good") as registry:
        with pytest.raises(RegistryError, match="registering .*: credentials refused"):
            register_schemas(SCHEMAS, registry_settings(registry.url, password="wrong"))
        with pytest.raises(RegistryError, match=r"looking up .*: not registered \(run passerelle register-schemas\)"):
            registry_serde(SCHEMAS, registry_settings(registry.url))


def test_a_username_needs_its_password():
    with pytest.raises(ValueError, match="username needs its password"):
        SchemaRegistrySettings(url="http://registry", username="passerelle")
