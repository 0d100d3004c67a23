"""GET /v1/audit/accesses, in process on an SQLite store: only for the audit:read scope, and every
answer or refusal audited (the producer is replaced by a recorder: no broker in unit tests)."""

from __future__ import annotations

import httpx
import pytest
from aiokafka.errors import KafkaConnectionError

from passerelle import PROJECT_ROOT
from passerelle.processor import Incoming
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import Settings
from passerelle.tokens import TokenVerifier, mint
from services.audit.handlers import audit_record
from passerelle.audit_store import AuditStore
from services.gateway.app import create_app

from tests.integration.conftest import patient_summary_request


def outcome(status: str, patient_id: str) -> dict:
    request = patient_summary_request(patient_id=patient_id)
    return {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"], "status": status,
            "error": None if status == "COMPLETED" else {"code": "X", "message": "m"}, "summary": None}


@pytest.fixture
async def gateway(tmp_path):
    settings = Settings(state_dir=tmp_path)
    store = AuditStore.from_settings(settings)
    events = [outcome("COMPLETED", "PT-A"), outcome("COMPLETED", "PT-A"), outcome("DENIED", "PT-A"),
              outcome("COMPLETED", "PT-B")]
    requests = [{**patient_summary_request(patient_id=e["patient"]["patient_id"]), "envelope": e["envelope"]}
                for e in events]  # the request of each outcome: it carries why and from where
    store.append([(audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", r)), None) for r in requests])
    store.append([(audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryOutcome", {**e, "envelope": {
        **e["envelope"], "event_id": e["envelope"]["event_id"] + "-outcome"}})), None) for e in events])
    app = create_app(settings)  # lifespan not started: no broker involved
    app.state.producer = RecordingProducer()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        yield c, settings, events, app.state.producer


class RecordingProducer:
    def __init__(self):
        self.sent, self.broken = [], False

    async def send_and_wait(self, topic, value, key=None):
        if self.broken:
            raise KafkaConnectionError("broker down")
        self.sent.append((topic, AvroSerde(SchemaSet(PROJECT_ROOT / "schemas")).decode(value)))


def token(settings, scope=None):
    return mint(settings.state_dir, settings.tokens, "10009999995", "10", "750000001", scope=scope)


async def test_an_authorised_caller_sees_who_accessed_the_patient_when_and_why(gateway):
    c, settings, events, producer = gateway
    resp = await c.get("/v1/audit/accesses", params={"country": "pt", "patient_id": "PT-A"},
                       headers={"Authorization": f"Bearer {token(settings, 'audit:read')}"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["country"], body["patient_id"]) == ("PT", "PT-A")
    assert len(body["accesses"]) == 2  # the denied request is no access; PT-B is another patient
    assert {a["request_id"] for a in body["accesses"]} == {e["envelope"]["correlation_id"] for e in events[:2]}
    first = body["accesses"][0]
    assert first["rpps"] == "10001234565" and first["purpose"] == "TREATMENT" and first["action"] == "PS_OUTCOME"
    assert body["accesses"][0]["accessed_at"] >= body["accesses"][1]["accessed_at"]  # newest first
    [(topic, (event_type, read))] = producer.sent  # the reading of the trail is itself audited
    assert topic.endswith(".audit.reads.v1") and event_type == "fr.passerelle.audit.AuditTrailRead"
    assert read["authorised"] and read["accesses_listed"] == 2 and read["hp"]["rpps"] == "10009999995"
    assert read["patient"] == {"country": "PT", "patient_id": "PT-A"}


@pytest.mark.parametrize("scope", [None, "audit:write", "openid profile"])
async def test_a_token_without_the_audit_scope_is_refused(gateway, scope):
    c, settings, _, producer = gateway
    resp = await c.get("/v1/audit/accesses", params={"country": "PT", "patient_id": "PT-A"},
                       headers={"Authorization": f"Bearer {token(settings, scope)}"})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "AUDIT_SCOPE_REQUIRED"
    assert "PT-A" not in resp.text
    [(_, (_, refusal))] = producer.sent
    assert refusal["authorised"] is False and refusal["reason_code"] == "AUDIT_SCOPE_REQUIRED"


async def test_a_list_whose_reading_cannot_be_audited_is_withheld_but_a_refusal_stands(gateway):
    c, settings, _, producer = gateway
    producer.broken = True
    params = {"country": "PT", "patient_id": "PT-A"}
    resp = await c.get("/v1/audit/accesses", params=params,
                       headers={"Authorization": f"Bearer {token(settings, 'audit:read')}"})
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "GATEWAY_UNAVAILABLE"
    assert "PT-A" not in resp.text
    resp = await c.get("/v1/audit/accesses", params=params, headers={"Authorization": f"Bearer {token(settings)}"})
    assert resp.status_code == 403


async def test_no_token_or_a_bad_query_gets_a_stable_error(gateway):
    c, settings, _, producer = gateway
    assert (await c.get("/v1/audit/accesses", params={"country": "PT", "patient_id": "PT-A"})).status_code == 401
    resp = await c.get("/v1/audit/accesses", params={"country": "Portugal", "patient_id": "x"},
                       headers={"Authorization": f"Bearer {token(settings, 'audit:read')}"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "REQUEST_INVALID"


def test_the_scope_claim_round_trips_through_a_token(tmp_path):
    settings = Settings(state_dir=tmp_path)
    verifier = TokenVerifier(settings.tokens, tmp_path)
    assert verifier.verify(token(settings, "audit:read other")).scopes == ("audit:read", "other")
    assert verifier.verify(token(settings)).scopes == ()
