"""Every step of the flow becomes one audit record; an event with no audit rule is rejected."""

from __future__ import annotations

import pytest

from passerelle.processor import Incoming, RejectedEvent
from services.audit.handlers import audit_record

from tests.integration.conftest import patient_summary_request


def test_a_request_is_recorded_with_who_whom_why_and_from_where():
    request = patient_summary_request()
    record = audit_record(Incoming("p.ps.requested.v1", "fr.passerelle.ps.PatientSummaryRequested", request))
    assert (record["action"], record["outcome"]) == ("PS_REQUESTED", "SUCCESS")
    assert record["hp"] == request["hp"] and record["patient"] == request["patient"]
    assert record["purpose"] == "TREATMENT" and record["request_origin"] == "127.0.0.1"
    assert record["source_topic"] == "p.ps.requested.v1"
    assert record["source_event_id"] == request["envelope"]["event_id"]
    assert record["envelope"]["correlation_id"] == request["envelope"]["correlation_id"]


@pytest.mark.parametrize("status, outcome", [("COMPLETED", "SUCCESS"), ("DENIED", "DENIED"), ("FAILED", "FAILURE")])
def test_outcomes_map_to_audit_outcomes(status, outcome):
    request = patient_summary_request()
    event = {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"], "status": status,
             "error": None if status == "COMPLETED" else {"code": "X", "message": "m"}, "summary": None}
    record = audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryOutcome", event))
    assert record["outcome"] == outcome and record["reason_code"] == (None if status == "COMPLETED" else "X")


def test_an_event_without_an_audit_rule_is_rejected():
    with pytest.raises(RejectedEvent):
        audit_record(Incoming("t", "fr.passerelle.audit.AuditRecord", {"envelope": {}}))


def test_the_audit_follows_every_flow_topic_and_nothing_else():
    import re

    from passerelle.topics import Topics
    from services.audit.settings import audited_pattern

    topics = Topics("p.x")
    pattern = re.compile(audited_pattern(topics))
    flow = [topics.ps_requested, topics.consent_decisions, topics.ncp_outbound("pt"), topics.ncp_inbound,
            topics.ps_outcomes]
    assert all(pattern.match(t) for t in flow)
    assert not any(pattern.match(t) for t in (topics.audit_records, topics.dead_letters, "pYx.ps.requested.v1",
                                              "p.x.ps.requested.v1.extra"))
