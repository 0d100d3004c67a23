"""The gateway's HTTP spans (FastAPI instrumentation, passerelle/tracing.py) keep no query string:
``/v1/prescriptions?patient_id=…`` names a patient. Exported to a real OTLP/HTTP receiver."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from passerelle.settings import Settings, TelemetrySettings
from passerelle.tracing import tracing_for

from tests.otlp_receiver import OtlpReceiver


async def test_http_spans_name_the_route_and_keep_no_query_string(tmp_path):
    app = FastAPI()

    @app.get("/v1/prescriptions")
    async def prescriptions(country: str, patient_id: str):
        return {"country": country}

    with OtlpReceiver() as receiver:
        settings = Settings(state_dir=tmp_path, telemetry=TelemetrySettings(otlp_endpoint=receiver.endpoint))
        tracing = tracing_for("gateway", settings)
        try:
            tracing.instrument(app)
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                assert (await client.get("/v1/prescriptions?country=PT&patient_id=PT-SECRET-1")).status_code == 200
                assert (await client.get("/healthz")).status_code == 404  # excluded: no span
            tracing.flush()
            spans = receiver.wait_for(lambda received: received)
        finally:
            tracing.shutdown()
    assert [(s.service, s.name, s.kind) for s in spans] == [("gateway", "GET /v1/prescriptions", 2)]  # SERVER
    attributes = spans[0].attributes
    assert attributes.get("http.route") == "/v1/prescriptions"
    assert "PT-SECRET-1" not in repr(attributes) and "patient_id" not in repr(attributes), attributes


def test_an_unsampled_request_exports_nothing_and_tells_the_next_services_so(tmp_path):
    with OtlpReceiver() as receiver:
        settings = Settings(state_dir=tmp_path, telemetry=TelemetrySettings(otlp_endpoint=receiver.endpoint,
                                                                            sample_ratio=0.0))
        tracing = tracing_for("gateway", settings)
        try:
            with tracing.producing("p.ps.requested.v1", "fr.passerelle.ps.PatientSummaryRequested") as span:
                headers = dict(tracing.headers())
            assert not span.is_recording()
            tracing.flush()
        finally:
            tracing.shutdown()
        assert receiver.received() == [] and receiver.requests == 0
    flags = int(headers["traceparent"].rsplit(b"-", 1)[1], 16)
    assert flags & 1 == 0  # "sampled" unset: the next services record nothing of it either
