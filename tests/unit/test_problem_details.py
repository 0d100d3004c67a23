"""Errors as RFC 9457 problem details, every one declared in the OpenAPI document, 405 with Allow,
and the cursor pagination of GET /v1/audit/accesses (in process, SQLite store, no broker)."""

from __future__ import annotations

import httpx

from passerelle.errors import MESSAGES
from passerelle.processor import Incoming
from passerelle.settings import Settings
from services.audit.handlers import audit_record
from passerelle.audit_store import AuditStore
from services.gateway.app import create_app
from services.gateway.openapi_errors import error_statuses

from tests.integration.conftest import patient_summary_request
from tests.unit.test_audit_api import RecordingProducer, outcome, token


async def test_an_error_is_a_problem_with_its_code_and_french_message(tmp_path):
    app = create_app(Settings(state_dir=tmp_path))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        missing = await c.get("/v1/patient-summaries/abc")
        wrong_method = await c.put("/v1/patient-summaries")
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json() == {"type": "urn:passerelle:problem:TOKEN_MISSING", "title": MESSAGES["TOKEN_MISSING"],
                                   "status": 401, "code": "TOKEN_MISSING",
                                   "error": {"code": "TOKEN_MISSING", "message": MESSAGES["TOKEN_MISSING"]}}
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"
    assert wrong_method.json()["code"] == "METHOD_NOT_ALLOWED"


def test_every_operation_declares_its_errors_as_problems(tmp_path):
    spec = create_app(Settings(state_dir=tmp_path)).openapi()
    summaries = spec["paths"]["/v1/patient-summaries"]["post"]["responses"]
    assert {"400", "401", "403", "413", "422", "503"} <= set(summaries)
    assert summaries["422"]["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "404" in spec["paths"]["/v1/dispensations/{dispensation_id}"]["delete"]["responses"]
    assert "409" in spec["paths"]["/v1/dispensations/{dispensation_id}"]["delete"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert error_statuses("get", "/healthz", {}) == set()  # nothing to refuse, nothing declared


async def test_the_audit_list_comes_a_page_at_a_time_without_repeating_or_skipping(tmp_path):
    settings = Settings(state_dir=tmp_path)
    store = AuditStore.from_settings(settings)
    events = [outcome("COMPLETED", "PT-A") for _ in range(7)]
    store.append([(audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested",
                                         {**patient_summary_request(patient_id="PT-A"), "envelope": e["envelope"]})), None)
                  for e in events])
    store.append([(audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryOutcome", {**e, "envelope": {
        **e["envelope"], "event_id": e["envelope"]["event_id"] + "-o"}})), None) for e in events])
    app = create_app(settings)
    app.state.producer = RecordingProducer()
    headers = {"Authorization": f"Bearer {token(settings, 'audit:read')}"}
    seen, cursor, pages = [], None, 0
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        while True:
            params = {"country": "PT", "patient_id": "PT-A", "limit": 3} | ({"cursor": cursor} if cursor else {})
            page = await c.get("/v1/audit/accesses", params=params, headers=headers)
            assert page.status_code == 200, page.text
            seen += [a["request_id"] for a in page.json()["accesses"]]
            pages, cursor = pages + 1, page.json()["next_cursor"]
            assert ("link" in page.headers) == (cursor is not None)
            if cursor is None:
                break
        everything = await c.get("/v1/audit/accesses", params={"country": "PT", "patient_id": "PT-A"}, headers=headers)
        bad = await c.get("/v1/audit/accesses", params={"country": "PT", "patient_id": "PT-A", "cursor": "1.x"},
                          headers=headers)
    assert pages == 3 and len(seen) == 7 == len(set(seen))
    assert seen == [a["request_id"] for a in everything.json()["accesses"]]  # same order, newest first
    assert bad.status_code == 422 and bad.json()["errors"] == [{"field": "cursor", "problem": "string_pattern_mismatch"}]
