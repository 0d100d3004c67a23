"""End to end: a French HP asks for a Portuguese patient's summary over HTTP and reads it in French."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from passerelle import PROJECT_ROOT
from services.translation.catalogue import LOINC, Catalogue

from tests.e2e.conftest import child_pids, stop

pytestmark = pytest.mark.e2e
PT_PATIENT = "193857264"  # data/ncp/PT/193857264: a full Patient Summary written in Portuguese


def ask(system, body: dict, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{system.url}/v1/patient-summaries", json=body, headers=headers, timeout=10)


def request_body(country="PT", patient_id=PT_PATIENT, confirmed=True) -> dict:
    return {"country": country, "patient_id": patient_id, "purpose": "TREATMENT",
            "consent": {"confirmed": confirmed, "information_notice_given": True}}


def wait_for_answer(system, request_id: str, token: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = httpx.get(f"{system.url}/v1/patient-summaries/{request_id}",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert resp.status_code == 200, resp.text
        if resp.json()["status"] != "pending":
            return resp.json()
        time.sleep(0.05)
    raise TimeoutError(f"request {request_id} still pending after {timeout}s")


def test_a_portuguese_patient_summary_comes_back_in_french(system):
    token = system.token()
    accepted = ask(system, request_body(), token)
    assert accepted.status_code == 202, accepted.text
    answer = wait_for_answer(system, accepted.json()["request_id"], token)
    assert answer["status"] == "completed" and answer["error"] is None
    summary = answer["summary"]
    assert summary["language"] == "fr-FR" and summary["source_language"] == "pt-PT"
    loinc = Catalogue.load(PROJECT_ROOT / "data" / "catalogue").systems[LOINC]
    assert [s["code"] for s in summary["sections"]] == ["48765-2", "10160-0", "11450-4", "47519-4", "46264-8",
                                                         "11369-6", "11348-0"]
    for section in summary["sections"]:
        assert section["title"] == loinc[section["code"]].fr != section["original_title"]
    assert next(s["original_title"] for s in summary["sections"]) == "Alergias e reações adversas"
    entries = [e for s in summary["sections"] for e in s["entries"]]
    assert any(e["translated"] for e in entries) and any(not e["translated"] for e in entries)
    assert all(e["original"] is not None or e["flag"] == "NULL_FLAVOR" for e in entries)
    assert summary["document"]["content_type"] == "application/xml"
    assert "<translation " in summary["document"]["content"]


def test_prefer_wait_answers_in_the_same_call_and_a_too_short_wait_still_gets_202(system):
    token = system.token()
    headers = {"Authorization": f"Bearer {token}", "Prefer": "respond-async, wait=20"}
    one_call = httpx.post(f"{system.url}/v1/patient-summaries", json=request_body(), headers=headers, timeout=30)
    assert one_call.status_code == 200, one_call.text
    assert one_call.headers["preference-applied"] == "wait=20"
    answer = one_call.json()
    assert answer["status"] == "completed" and answer["summary"]["language"] == "fr-FR"
    assert one_call.headers["content-location"] == f"/v1/patient-summaries/{answer['request_id']}"
    # the same answer as the GET gives for that request
    assert wait_for_answer(system, answer["request_id"], token) == answer
    # denied requests end within the wait too; an unknown preference or a wait of 0 keeps the 202
    denied = httpx.post(f"{system.url}/v1/patient-summaries", json=request_body(confirmed=False),
                        headers=headers, timeout=30)
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    for prefer in ("wait=0", "handling=lenient", "wait=soon"):
        accepted = httpx.post(f"{system.url}/v1/patient-summaries", json=request_body(),
                              headers={**headers, "Prefer": prefer}, timeout=30)
        assert accepted.status_code == 202 and set(accepted.json()) == {"request_id"}, prefer


def test_another_professional_cannot_read_the_answer(system):
    accepted = ask(system, request_body(), system.token())
    other = system.token(rpps="10009999995")
    resp = httpx.get(f"{system.url}/v1/patient-summaries/{accepted.json()['request_id']}",
                     headers={"Authorization": f"Bearer {other}"}, timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "REQUEST_NOT_FOUND"


@pytest.mark.parametrize("body, code", [
    (request_body(confirmed=False), "CONSENT_NOT_CONFIRMED"),
    (request_body(country="ZZ"), "COUNTRY_UNKNOWN"),
    (request_body(patient_id="000000000"), "PATIENT_NOT_FOUND"),
])
def test_refusals_reach_the_professional_in_french(system, body, code):
    token = system.token()
    answer = wait_for_answer(system, ask(system, body, token).json()["request_id"], token)
    assert answer["status"] in ("denied", "failed") and answer["error"]["code"] == code
    assert answer["summary"] is None and answer["error"]["message"]


def foreign_token(claims_override: dict | None = None) -> str:
    now = int(time.time())
    claims = {"iss": "passerelle-dev", "aud": "passerelle", "sub": "10001234565", "profession": "10",
              "organisation": "750000001", "amr": "CPS", "iat": now, "exp": now + 600, **(claims_override or {})}
    return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")


@pytest.mark.parametrize("make_token, code", [
    (lambda s: None, "TOKEN_MISSING"),
    (lambda s: "not-a-jwt", "TOKEN_INVALID"),
    (lambda s: foreign_token(), "TOKEN_INVALID"),  # signed by a key we do not trust
    (lambda s: jwt.encode({"sub": "1", "exp": int(time.time()) + 60}, key="", algorithm="none"), "TOKEN_INVALID"),
    (lambda s: s.token("10001234565", "10", "--ttl", "-120"), "TOKEN_EXPIRED"),
])
def test_bad_tokens_get_401_with_a_stable_code(system, make_token, code):
    resp = ask(system, request_body(), make_token(system))
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["message"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_oversized_or_non_utf8_body_is_refused_with_a_stable_code(system):
    headers = {"Authorization": f"Bearer {system.token()}", "Content-Type": "application/json"}
    big = httpx.post(f"{system.url}/v1/patient-summaries", content=b"{" + b" " * 100_000 + b"}", headers=headers)
    assert big.status_code == 413 and big.json()["error"]["code"] == "REQUEST_TOO_LARGE"
    garbled = httpx.post(f"{system.url}/v1/patient-summaries", content=b'{"country": "\xff\xfe"}', headers=headers)
    assert garbled.status_code == 400 and garbled.json()["error"]["code"] == "REQUEST_UNREADABLE"
    assert garbled.json()["error"]["message"].startswith("Le corps")
    nowhere = httpx.get(f"{system.url}/v1/nowhere")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "ROUTE_NOT_FOUND"


def test_invalid_body_gets_422_naming_the_fields_without_echoing_them(system):
    body = {"country": "Portugal", "patient_id": "../../etc/passwd", "consent": {"confirmed": "yes please"}}
    resp = ask(system, body, system.token())
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "REQUEST_INVALID"
    assert {d["field"] for d in error["details"]} >= {"country", "consent.information_notice_given", "consent.confirmed"}
    assert "etc/passwd" not in resp.text


def test_reference_and_operations_endpoints(system):
    countries = httpx.get(f"{system.url}/v1/countries").json()
    assert {"code": "PT", "name": "Portugal", "services": ["patient-summary", "eprescription", "original-documents",
                                                          "laboratory-results"]} in countries
    assert httpx.get(f"{system.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{system.url}/readyz").status_code == 200
    assert "passerelle_gateway_requests_total" in httpx.get(f"{system.url}/metrics").text
    assert "/v1/patient-summaries" in httpx.get(f"{system.url}/openapi.json").json()["paths"]


def test_a_killed_service_is_restarted_and_requests_still_complete(system):
    [consent] = [pid for pid in child_pids(system.process.pid)
                 if "services.consent" in Path(f"/proc/{pid}/cmdline").read_bytes().decode()]
    os.kill(consent, signal.SIGKILL)
    token = system.token()
    answer = wait_for_answer(system, ask(system, request_body(), token).json()["request_id"], token, timeout=60)
    assert answer["status"] == "completed"
    assert consent not in child_pids(system.process.pid)


def test_ctrl_c_stops_every_process_it_started_and_the_logs_hold_no_patient_data(system):
    code, survivors = stop(system)
    assert code == 0 and survivors == []
    log = system.log.read_text(encoding="utf-8")
    assert "processor started" in log  # the services did log
    for personal in (PT_PATIENT, "000000000", "Rodrigues", "Pinto", "Metformina"):
        assert personal not in log
