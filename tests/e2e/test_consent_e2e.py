"""End to end (``passerelle up``, HTTP): identity rules, emergency per country, and a patient's
opposition recorded with ``passerelle consent oppose`` then lifted with ``passerelle consent grant``."""

from __future__ import annotations

import json
import os
import subprocess

import httpx
import pytest

from tests.e2e.test_patient_summary_api import ask, request_body, wait_for_answer

pytestmark = pytest.mark.e2e
PT_PATIENT = "284716395"  # data/ncp/PT/284716395


def broker_of(system) -> str:
    if os.environ.get("PASSERELLE_TEST_BOOTSTRAP"):
        return os.environ["PASSERELLE_TEST_BOOTSTRAP"]
    for line in system.log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{") and "embedded broker started" in line:
            return json.loads(line)["bootstrap"]
    raise AssertionError("embedded broker address not logged")


def consent_cli(system, *args: str) -> str:
    env = {**system.env, "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": broker_of(system)}
    return subprocess.run([system.bin / "passerelle", "consent", *args], env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout


@pytest.mark.parametrize("rpps, profession, extra, status, code", [
    ("10002000114", "10", [], 403, "RPPS_UNKNOWN"),
    ("10001234567", "10", [], 403, "RPPS_INVALID"),
    ("10002000072", "21", [], 403, "PROFESSION_ACTIVITY_EXCLUDED"),
    ("10001234565", "10", ["--auth-method", "PASSWORD"], 403, "STRONG_AUTHENTICATION_REQUIRED"),
    ("10001234565", "10", ["--issued-ago", str(4 * 3600 + 120)], 401, "ASSERTION_EXPIRED"),
])
def test_identity_rules_refuse_at_the_gateway_in_french(system, rpps, profession, extra, status, code):
    resp = ask(system, request_body(patient_id=PT_PATIENT), system.token(rpps, profession, *extra))
    assert resp.status_code == status and resp.json()["error"]["code"] == code
    assert resp.json()["error"]["message"]


def test_emergency_goes_through_where_the_country_allows_it_only(system):
    token = system.token()
    allowed = ask(system, {**request_body(patient_id=PT_PATIENT), "purpose": "EMERGENCY"}, token)
    assert wait_for_answer(system, allowed.json()["request_id"], token)["status"] == "completed"
    refused = ask(system, {**request_body(country="FI", patient_id="140772-946S"), "purpose": "EMERGENCY"}, token)
    answer = wait_for_answer(system, refused.json()["request_id"], token)
    assert answer["status"] == "denied" and answer["error"]["code"] == "EMERGENCY_NOT_ALLOWED"


def test_an_opposition_recorded_from_the_command_line_is_applied_then_lifted_by_a_grant(system):
    token = system.token()
    assert "OPPOSITION recorded" in consent_cli(system, "oppose", "--country", "PT", "--patient-id", PT_PATIENT)
    denied = wait_for_answer(system, ask(system, request_body(patient_id=PT_PATIENT), token).json()["request_id"], token)
    assert denied["status"] == "denied" and denied["error"]["code"] == "PATIENT_OPPOSED"
    consent_cli(system, "grant", "--country", "PT", "--patient-id", PT_PATIENT, "--professional", "10001234565",
                "--days", "1")
    granted = wait_for_answer(system, ask(system, request_body(patient_id=PT_PATIENT), token).json()["request_id"], token)
    assert granted["status"] == "completed"
    other = system.token("10009999995")
    still = wait_for_answer(system, ask(system, request_body(patient_id=PT_PATIENT), other).json()["request_id"], other)
    assert still["error"]["code"] == "PATIENT_OPPOSED"
    assert httpx.get(f"{system.url}/healthz").status_code == 200


def test_the_logs_hold_no_patient_identifier_and_no_token(system):
    log = system.log.read_text(encoding="utf-8")
    assert "consent registry loaded" in log  # the consent service did log
    assert PT_PATIENT not in log and "140772-946S" not in log and "eyJ" not in log
