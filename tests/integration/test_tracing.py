"""OpenTelemetry traces on the real broker (docs/adr/0180-tracing.md): one Patient Summary request is
one trace from the gateway's HTTP span through consent, the router, country A and translation back
to the gateway, exported over OTLP/HTTP to a real receiver on loopback; a collector that does not
answer loses no event and blocks no worker."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client import REGISTRY

from passerelle import kafka
from passerelle.broker import free_port
from passerelle.service import Service
from passerelle.settings import TelemetrySettings
from passerelle.testing import consume
from passerelle.tokens import mint
from passerelle.topics import Topics
from passerelle.tracing import EXPORT_FAILURES, SPANS_DROPPED, tracing_for
from services.consent.app import build as consent
from services.foreign_ncp.app import build as foreign_ncp
from services.gateway.app import create_app
from services.router.app import build as router
from services.translation.app import build as translation

from tests.integration.conftest import patient_summary_request
from tests.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration
BODY = {"country": "PT", "patient_id": "PT-TEST-1", "purpose": "TREATMENT",
        "consent": {"confirmed": True, "information_notice_given": True}}
SERVICES = (Service.GATEWAY, Service.CONSENT, Service.ROUTER, Service.FOREIGN_NCP, Service.TRANSLATION)


def traced(settings, endpoint: str):
    return settings.model_copy(update={"telemetry": TelemetrySettings(otlp_endpoint=endpoint, schedule_delay_ms=50,
                                                                      export_timeout_seconds=1)})


def chain_to_root(span, by_id: dict) -> list:
    chain = [span]
    while chain[-1].parent_span_id:
        chain.append(by_id[chain[-1].parent_span_id])
    return chain[::-1]


def services_in_order(chain) -> list[str]:
    order: list[str] = []
    for span in chain:
        if not order or order[-1] != span.service:
            order.append(span.service)
    return order


async def test_one_patient_summary_is_one_trace_from_the_gateway_back_to_the_gateway(topics_ready, serde):
    with OtlpReceiver() as receiver:
        settings = traced(topics_ready, receiver.endpoint)
        outcomes = Topics(settings.topic_prefix).ps_outcomes
        stop = asyncio.Event()
        tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in (consent, router, foreign_ncp, translation)]
        app = create_app(settings)
        token = mint(settings.state_dir, settings.tokens, "10001234565", "10", "750000001", "CPS")
        try:
            async with app.router.lifespan_context(app):
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                    while (await client.get("/readyz")).status_code != 200:
                        await asyncio.sleep(0.05)
                    answer = await client.post("/v1/patient-summaries", json=BODY, timeout=30, headers={
                        "Authorization": f"Bearer {token}", "Prefer": "wait=20"})
            assert answer.status_code == 200 and answer.json()["status"] == "completed", answer.text
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        for service in SERVICES:
            await tracing_for(service, settings).drain()

        def ended(spans) -> bool:
            return any(s.service == "gateway" and s.name == f"receive {outcomes}" for s in spans)
        spans = await asyncio.to_thread(receiver.wait_for, ended)
        for service in SERVICES:
            tracing_for(service, settings).shutdown()

    assert len({s.trace_id for s in spans}) == 1, "every span of the request in one trace"
    by_id = {s.span_id: s for s in spans}
    root = [s for s in spans if not s.parent_span_id]
    assert [(r.service, r.name) for r in root] == [("gateway", "POST /v1/patient-summaries")]
    last = next(s for s in spans if s.service == "gateway" and s.name == f"receive {outcomes}")
    chain = chain_to_root(last, by_id)
    assert services_in_order(chain) == ["gateway", "consent", "router", "foreign-ncp", "translation", "gateway"]
    assert [s.start_ns for s in chain] == sorted(s.start_ns for s in chain)
    request_id = answer.json()["request_id"]
    processed = [s for s in chain if s.name.startswith("process ")]
    assert {s.attributes["passerelle.correlation_id"] for s in processed} == {request_id}
    assert all(s.attributes["messaging.system"] == "kafka" for s in processed)
    # nothing of the patient travels in a span: not the identifier, not the summary's content
    assert not [s for s in spans if "PT-TEST-1" in repr(s.attributes) or "Alergia" in repr(s.attributes)]


async def test_an_unreachable_collector_loses_no_event_blocks_no_worker_and_is_logged_once(topics_ready, serde, capfd):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = traced(topics_ready, closed)
    topics = Topics(settings.topic_prefix)
    timed = {"service": "consent", "topic": topics.ps_requested}
    processed = REGISTRY.get_sample_value("passerelle_event_processing_seconds_count", timed) or 0
    failures = EXPORT_FAILURES.labels(Service.CONSENT)._value.get()
    dropped = SPANS_DROPPED.labels(Service.CONSENT)._value.get()
    stop = asyncio.Event()
    worker = asyncio.create_task(consent(settings, serde).run(stop))
    producer = kafka.producer(settings.kafka)
    await producer.start()
    requests = [patient_summary_request() for _ in range(40)]
    try:
        for i, request in enumerate(requests):
            await producer.send_and_wait(topics.ps_requested, serde.encode("fr.passerelle.ps.PatientSummaryRequested", request),
                                         key=request["envelope"]["correlation_id"].encode())
            if i == 19:
                await asyncio.sleep(0.3)  # a first export fails meanwhile; the second half goes on
        decisions = await consume(settings, topics.consent_decisions, len(requests), timeout=20)
        deadline = time.monotonic() + 10  # the first export fails within its 1 s limit
        while EXPORT_FAILURES.labels(Service.CONSENT)._value.get() == failures and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()
        started = time.monotonic()
        stop.set()
        await worker
        stopped_in = time.monotonic() - started
        tracing = tracing_for(Service.CONSENT, settings)
        tracing.shutdown()
    decided = {serde.decode(r.value)[1]["envelope"]["correlation_id"] for r in decisions}
    assert decided == {r["envelope"]["correlation_id"] for r in requests}, "every event handled"
    assert stopped_in < 3, f"the worker took {stopped_in:.1f} s to stop"
    assert REGISTRY.get_sample_value("passerelle_event_processing_seconds_count", timed) - processed == len(requests)
    assert EXPORT_FAILURES.labels(Service.CONSENT)._value.get() > failures
    assert SPANS_DROPPED.labels(Service.CONSENT)._value.get() >= dropped + len(requests)
    logged = "".join(capfd.readouterr())
    assert logged.count("trace collector unreachable") == 1, logged[-2000:]
