"""Consent rules: access is refused unless every rule allows it; each refusal has its code."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.errors import error
from passerelle.events import CONSENT_DECISION, ps_outcome
from passerelle.processor import Incoming, RejectedEvent
from passerelle.settings import Settings
from passerelle.tokens import ConfirmationVerifier
from passerelle.topics import Topics
from services.consent.app import decisions
from services.consent.handlers import decide_patient_summary, first_refusal
from services.consent.settings import consent_rules

from tests.bad_input import DeadLettered, through
from tests.integration.conftest import patient_summary_request

NOW = int(time.time() * 1000)
TOPICS = Topics("p")
#: RPPS numbers of data/rpps-dev.yaml, by what they are
PHYSICIAN, PHARMACIST, NURSE = "10001234565", "10002000007", "10002000015"
OCCUPATIONAL, INSURER, INDUSTRY, DENTAL_ASSISTANT = "10002000056", "10002000064", "10002000072", "10002000080"
PROFESSION = {PHYSICIAN: "10", PHARMACIST: "21", NURSE: "60", OCCUPATIONAL: "10", INSURER: "10", INDUSTRY: "21",
              DENTAL_ASSISTANT: "31"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return Settings(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def rules(settings):
    return consent_rules(settings)


def request_by(rpps: str, **kw) -> dict:
    return patient_summary_request(rpps=rpps, profession=kw.pop("profession", PROFESSION[rpps]), **kw)


def decide(request: dict, rules, now: int = NOW):
    return list(decide_patient_summary(Incoming("p.ps.requested.v1", "fr.passerelle.ps.PatientSummaryRequested", request),
                                       TOPICS, rules, now))


def test_a_request_meeting_every_rule_is_authorised_with_a_treatment_confirmation(rules):
    request = patient_summary_request()
    [decision] = decide(request, rules)
    assert decision.topic == "p.consent.decisions.v1"
    assert decision.record["authorised"] and decision.record["reason_code"] == "AUTHORISED"
    assert decision.record["envelope"]["correlation_id"] == request["envelope"]["correlation_id"]
    assert decision.record["envelope"]["causation_id"] == request["envelope"]["event_id"]


@pytest.mark.parametrize("request_, code", [
    (request_by(PHYSICIAN, confirmed=False), "CONSENT_NOT_CONFIRMED"),
    (request_by(PHYSICIAN, notice=False), "INFORMATION_NOTICE_NOT_GIVEN"),
    (request_by(DENTAL_ASSISTANT), "PROFESSION_NOT_ELIGIBLE"),
    (request_by(PHYSICIAN, profession="21"), "PROFESSION_MISMATCH"),
    (request_by(OCCUPATIONAL), "PROFESSION_ACTIVITY_EXCLUDED"),
    (request_by(INSURER), "PROFESSION_ACTIVITY_EXCLUDED"),
    (request_by(INDUSTRY), "PROFESSION_ACTIVITY_EXCLUDED"),
    (request_by(PHYSICIAN, auth_method="PASSWORD"), "STRONG_AUTHENTICATION_REQUIRED"),
    (patient_summary_request(rpps="10001234567"), "RPPS_INVALID"),  # Luhn key wrong
    (patient_summary_request(rpps="1000123456"), "RPPS_INVALID"),  # 10 digits
    (patient_summary_request(rpps="10002000114"), "RPPS_UNKNOWN"),  # well formed, not in the directory
    (request_by(PHYSICIAN, purpose="EMERGENCY", country="FI"), "EMERGENCY_NOT_ALLOWED"),
    (request_by(PHYSICIAN, purpose="EMERGENCY", country="ZZ"), "EMERGENCY_NOT_ALLOWED"),
])
def test_each_refusal_is_a_decision_and_a_denied_outcome(rules, request_, code):
    decision, outcome, *alerts = decide(request_, rules)
    assert not decision.record["authorised"] and decision.record["reason_code"] == code
    assert decision.record["treatment_relationship"] is None
    assert outcome.topic == "p.ps.outcomes.v1" and outcome.record["status"] == "DENIED"
    assert outcome.record["error"]["code"] == code and outcome.record["error"]["message"]


def test_an_organisation_is_required(rules):
    request = request_by(NURSE)
    request["hp"]["organisation"] = "  "
    assert first_refusal(request, rules, "patient-summary", NOW) == "ORGANISATION_MISSING"


def test_which_service_a_profession_may_use_is_data(rules):
    assert first_refusal(request_by(NURSE), rules, "eprescription", NOW) == "SERVICE_NOT_ALLOWED_FOR_PROFESSION"
    assert first_refusal(request_by(PHARMACIST), rules, "edispensation", NOW) is None
    assert first_refusal(request_by(PHYSICIAN), rules, "edispensation", NOW) == "SERVICE_NOT_ALLOWED_FOR_PROFESSION"


def test_an_assertion_older_than_four_hours_is_refused(rules):
    request = patient_summary_request()
    request["hp"]["assertion_issued_at"] = NOW
    assert first_refusal(request, rules, "patient-summary", NOW + 4 * 3600 * 1000 - 1000) is None
    assert first_refusal(request, rules, "patient-summary", NOW + 4 * 3600 * 1000 + 1000) == "ASSERTION_EXPIRED"


def test_an_emergency_is_allowed_only_where_the_country_accepts_it_and_is_always_flagged(rules):
    decision, alert = decide(request_by(PHYSICIAN, purpose="EMERGENCY", country="PT"), rules)
    assert decision.record["authorised"] and decision.record["purpose"] == "EMERGENCY"
    assert alert.topic == "p.security.events.v1" and alert.record["kind"] == "EMERGENCY_ACCESS"
    assert alert.record["envelope"]["correlation_id"] == decision.record["envelope"]["correlation_id"]


def test_the_treatment_confirmation_names_this_professional_and_this_patient(rules, settings):
    request = patient_summary_request(patient_id="193857264")
    [decision] = decide(request, rules, now=int(time.time() * 1000))
    confirmed = ConfirmationVerifier(settings.tokens, settings.state_dir).verify(decision.record["treatment_relationship"])
    assert confirmed.binds("10001234565", "PT", "193857264") and not confirmed.binds("10001234565", "PT", "284716395")
    assert confirmed.expires_at - time.time() <= 7200 and confirmed.request_id == request["envelope"]["correlation_id"]


@given(confirmed=st.booleans(), notice=st.booleans(),
       who=st.sampled_from([PHYSICIAN, PHARMACIST, NURSE, OCCUPATIONAL, INDUSTRY, DENTAL_ASSISTANT]),
       method=st.sampled_from(["CPS", "E_CPS", "PASSWORD"]), age_hours=st.floats(0, 8))
def test_authorised_exactly_when_every_rule_holds(rules, confirmed, notice, who, method, age_hours):
    request = request_by(who, confirmed=confirmed, notice=notice, auth_method=method)
    request["hp"]["assertion_issued_at"] = NOW - int(age_hours * 3600 * 1000)
    every_rule = (confirmed and notice and who in (PHYSICIAN, PHARMACIST, NURSE) and method != "PASSWORD"
                  and age_hours <= 4)
    emits = [e for e in decide(request, rules) if e.topic != "p.security.events.v1"]
    assert emits[0].record["authorised"] is every_rule
    assert len(emits) == (1 if every_rule else 2)


def test_an_event_of_another_type_is_rejected(rules):
    """The consent service's routing table (what its processor runs) takes the request events and
    rejects any other type, so the processor dead-letters it."""
    table = decisions(TOPICS, rules, lambda: NOW)
    with pytest.raises(RejectedEvent, match="fr.passerelle.audit.AuditRecord"):
        list(table(Incoming("t", "fr.passerelle.audit.AuditRecord", {})))
    request = request_by(PHYSICIAN)
    incoming = Incoming("p.ps.requested.v1", "fr.passerelle.ps.PatientSummaryRequested", request)
    assert [e.record["authorised"] for e in table(incoming) if e.event_type == CONSENT_DECISION] == [True]


def test_an_event_of_another_type_is_dead_lettered_by_the_consent_processor(settings, serde):
    from services.consent.app import build

    outcome = ps_outcome(TOPICS, request_by(PHYSICIAN), "router", "FAILED", error("COUNTRY_UNKNOWN"))
    verdict = through(build(settings, serde), "p.ps.requested.v1", serde.encode(outcome.event_type, outcome.record))
    assert isinstance(verdict, DeadLettered) and verdict.error_class == "RejectedEvent"
    assert outcome.event_type in verdict.reason
