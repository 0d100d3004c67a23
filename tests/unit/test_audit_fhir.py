"""Audit records exported as FHIR AuditEvent: valid R4B resources (fhir.resources), right codes."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from pydantic import ValidationError

from passerelle.processor import Incoming
from passerelle.audit_chain import canonical_body
from services.audit.fhir import audit_event
from services.audit.handlers import audit_record

from tests.integration.conftest import patient_summary_request


def stored(event_type: str, **changes) -> dict:
    """An audit record as the store keeps it (canonical JSON, times in epoch ms)."""
    request = patient_summary_request()
    event = {**request, "authorised": False, "reason_code": "CONSENT_NOT_CONFIRMED", "error": None,
             "document": None, "status": "COMPLETED", "summary": None, **changes}
    return json.loads(canonical_body(audit_record(Incoming("p.t", event_type, event))))


@pytest.mark.parametrize("event_type", [
    "fr.passerelle.ps.PatientSummaryRequested", "fr.passerelle.consent.ConsentDecision",
    "fr.passerelle.ncp.PatientSummaryQuery", "fr.passerelle.ncp.PatientSummaryRetrieved",
    "fr.passerelle.ps.PatientSummaryOutcome"])
def test_every_audited_step_exports_as_a_valid_r4b_audit_event(event_type):
    record = stored(event_type)
    resource = AuditEvent.model_validate(audit_event(record))
    assert resource.id == record["source_event_id"]
    assert resource.subtype[0].code == record["action"]


def test_who_what_when_whom_why_outcome_and_origin_are_in_the_export():
    record = stored("fr.passerelle.consent.ConsentDecision")
    event = audit_event(record)
    hp, organisation = event["agent"]
    assert hp["who"]["identifier"]["value"] == "10001234565" and hp["requestor"] is True
    assert hp["role"][0]["coding"][0]["code"] == "10"
    assert hp["network"] == {"address": "127.0.0.1", "type": "2"}
    assert organisation["who"]["identifier"]["value"] == "750000001"
    assert event["outcome"] == "4" and event["outcomeDesc"] == "CONSENT_NOT_CONFIRMED"  # denied
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "TREAT"
    assert event["recorded"].endswith("Z")
    patient = event["entity"][0]
    assert patient["what"]["identifier"] == {"system": "urn:passerelle:patient-id:PT", "value": "PT-TEST-1"}
    details = {d["type"]: d["valueString"] for d in event["entity"][-1]["detail"]}
    assert details["correlation_id"] == record["envelope"]["correlation_id"]
    assert details["source_event_id"] == record["source_event_id"]


def test_the_mapped_patient_and_point_of_care_are_exported_when_known():
    request = patient_summary_request()
    record = stored("fr.passerelle.ps.PatientSummaryRequested", mapped_patient={"country": "PT", "patient_id": "M-1"},
                    hp={**request["hp"], "point_of_care": "UF-1"})
    event = audit_event(record)
    AuditEvent.model_validate(event)
    assert [e["description"] for e in event["entity"][:2]] == ["patient as identified at source", "patient as mapped"]
    assert event["agent"][0]["location"]["identifier"]["value"] == "UF-1"


def test_the_validator_is_not_a_rubber_stamp():
    event = audit_event(stored("fr.passerelle.ps.PatientSummaryRequested"))
    with pytest.raises(ValidationError):
        AuditEvent.model_validate({**event, "outcome": ["not", "a", "code"]})
