"""Consent rules: access is refused unless every rule allows it; each refusal has its code."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle import PROJECT_ROOT
from passerelle.processor import Incoming, RejectedEvent
from passerelle.topics import Topics
from services.consent.handlers import decide_patient_summary, first_refusal
from services.consent.settings import load_professions

from tests.integration.conftest import patient_summary_request

PROFESSIONS = load_professions(PROJECT_ROOT / "data" / "professions.yaml")
NOW = int(time.time() * 1000)
TOPICS = Topics("p")


def decide(request: dict, now: int = NOW):
    return list(decide_patient_summary(Incoming("p.ps.requested.v1", "fr.passerelle.ps.PatientSummaryRequested", request),
                                       TOPICS, PROFESSIONS, now))


def test_a_request_meeting_every_rule_is_authorised_and_goes_on_alone():
    request = patient_summary_request()
    [decision] = decide(request)
    assert decision.topic == "p.consent.decisions.v1"
    assert decision.record["authorised"] and decision.record["reason_code"] == "AUTHORISED"
    assert decision.record["envelope"]["correlation_id"] == request["envelope"]["correlation_id"]
    assert decision.record["envelope"]["causation_id"] == request["envelope"]["event_id"]


@pytest.mark.parametrize("request_, code", [
    (patient_summary_request(confirmed=False), "CONSENT_NOT_CONFIRMED"),
    (patient_summary_request(notice=False), "INFORMATION_NOTICE_NOT_GIVEN"),
    (patient_summary_request(profession="31"), "PROFESSION_NOT_ELIGIBLE"),  # dental assistant
    (patient_summary_request(auth_method="PASSWORD"), "STRONG_AUTHENTICATION_REQUIRED"),
])
def test_each_refusal_is_a_decision_and_a_denied_outcome(request_, code):
    decision, outcome = decide(request_)
    assert not decision.record["authorised"] and decision.record["reason_code"] == code
    assert outcome.topic == "p.ps.outcomes.v1" and outcome.record["status"] == "DENIED"
    assert outcome.record["error"]["code"] == code and outcome.record["error"]["message"]


def test_an_assertion_older_than_four_hours_is_refused():
    request = patient_summary_request()
    request["hp"]["assertion_issued_at"] = NOW
    assert first_refusal(request, PROFESSIONS, "patient-summary", NOW + 4 * 3600 * 1000 - 1000) is None
    assert first_refusal(request, PROFESSIONS, "patient-summary", NOW + 4 * 3600 * 1000 + 1000) == "ASSERTION_EXPIRED"


@given(confirmed=st.booleans(), notice=st.booleans(), profession=st.sampled_from(["10", "21", "60", "31", "99"]),
       method=st.sampled_from(["CPS", "E_CPS", "PASSWORD"]), age_hours=st.floats(0, 8))
def test_authorised_exactly_when_every_rule_holds(confirmed, notice, profession, method, age_hours):
    request = patient_summary_request(confirmed=confirmed, notice=notice, profession=profession, auth_method=method)
    request["hp"]["assertion_issued_at"] = NOW - int(age_hours * 3600 * 1000)
    every_rule = confirmed and notice and profession in ("10", "21", "60") and method != "PASSWORD" and age_hours <= 4
    emits = decide(request)
    assert emits[0].record["authorised"] is every_rule
    assert len(emits) == (1 if every_rule else 2)


def test_an_event_of_another_type_is_rejected():
    with pytest.raises(RejectedEvent):
        list(decide_patient_summary(Incoming("t", "fr.passerelle.audit.AuditRecord", {}), TOPICS, PROFESSIONS, NOW))
