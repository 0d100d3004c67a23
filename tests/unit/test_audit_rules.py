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
            topics.ps_outcomes, topics.audit_reads]
    assert all(pattern.match(t) for t in flow)
    assert not any(pattern.match(t) for t in (topics.audit_records, topics.dead_letters,
                                              topics.audit_access_notifications, "pYx.ps.requested.v1",
                                              "p.x.ps.requested.v1.extra"))


def _outcome_event(status: str, **hp_extra) -> dict:
    request = patient_summary_request()
    return {"envelope": {**request["envelope"], "causation_id": "cause-1"}, "hp": {**request["hp"], **hp_extra},
            "patient": request["patient"], "status": status,
            "error": None if status == "COMPLETED" else {"code": "X", "message": "m"}, "summary": None}


def test_a_completed_outcome_is_an_access_and_is_notified_to_the_patient():
    from passerelle.topics import Topics
    from services.audit.handlers import record_step

    topics = Topics("p")
    event = _outcome_event("COMPLETED")
    record, notification = record_step(Incoming("t", "fr.passerelle.ps.PatientSummaryOutcome", event), topics)
    assert record.record["patient_access"] is True and record.record["source_causation_id"] == "cause-1"
    assert notification.topic == topics.audit_access_notifications == "p.audit.access-notifications.v1"
    assert notification.event_type == "fr.passerelle.audit.PatientAccessNotified"
    n = notification.record
    assert n["patient"] == event["patient"] and n["hp"] == event["hp"]
    assert n["audit_source_event_id"] == event["envelope"]["event_id"]
    assert n["accessed_at"] == event["envelope"]["occurred_at"]
    assert n["envelope"]["causation_id"] == record.record["envelope"]["event_id"]
    assert notification.key == record.key == event["envelope"]["correlation_id"].encode()


@pytest.mark.parametrize("status", ["DENIED", "FAILED"])
def test_a_refused_or_failed_request_is_audited_but_is_no_access(status):
    from passerelle.topics import Topics
    from services.audit.handlers import record_step

    [record] = record_step(Incoming("t", "fr.passerelle.ps.PatientSummaryOutcome", _outcome_event(status)), Topics("p"))
    assert record.record["patient_access"] is False


@pytest.mark.parametrize("event_type", ["fr.passerelle.ps.PatientSummaryRequested", "fr.passerelle.ncp.PatientSummaryRetrieved"])
def test_steps_before_delivery_are_not_accesses(event_type):
    request = patient_summary_request()
    event = {**request, "error": None, "document": None}
    assert audit_record(Incoming("t", event_type, event))["patient_access"] is False


def test_the_point_of_care_and_the_mapped_patient_are_kept_when_the_source_asserts_them():
    request = patient_summary_request()
    event = {**request, "hp": {**request["hp"], "point_of_care": "UF-1234"},
             "mapped_patient": {"country": "PT", "patient_id": "PT-MAPPED-9"}}
    record = audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", event))
    assert record["point_of_care"] == "UF-1234"
    assert record["mapped_patient"] == {"country": "PT", "patient_id": "PT-MAPPED-9"}
    plain = audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", request))
    assert plain["point_of_care"] is None and plain["mapped_patient"] is None


def test_every_audited_event_type_has_an_fhir_export_type():
    from services.audit.fhir import EVENT_TYPES
    from services.audit.handlers import ACTIONS

    request = patient_summary_request()
    samples = [{**request, "authorised": True, "reason_code": None, "error": None, "status": "COMPLETED", "kind": kind,
                "document_id": document, "patient_space": view}
               for kind in ("GRANT", "REVOCATION", "OPPOSITION")  # the registry's directive kinds
               for document, view in ((None, None), ("VSM-1", "PAGE"), (None, "CSV"), (None, "PDF"))]
    actions = {ACTIONS[t](sample)[0] for t in ACTIONS for sample in samples}
    assert {"HP_AUTHENTICATION_FAILED", "CONSENT_REVOKED", "PATIENT_OPPOSED", "SECURITY_ALERT", "DOCUMENT_MASKED",
            "DOCUMENT_UNMASKED", "PATIENT_HISTORY_PAGE", "PATIENT_HISTORY_CSV", "PATIENT_HISTORY_PDF"} <= actions
    assert actions <= set(EVENT_TYPES), actions - set(EVENT_TYPES)


@pytest.mark.parametrize("authorised, outcome", [(True, "SUCCESS"), (False, "DENIED")])
def test_reading_the_audit_trail_is_audited_and_is_no_access_to_health_data(authorised, outcome):
    request = patient_summary_request()
    read = {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"],
            "authorised": authorised, "reason_code": None if authorised else "AUDIT_SCOPE_REQUIRED",
            "accesses_listed": 2 if authorised else 0, "request_origin": "10.0.0.1"}
    record = audit_record(Incoming("p.audit.reads.v1", "fr.passerelle.audit.AuditTrailRead", read))
    assert (record["action"], record["outcome"]) == ("AUDIT_TRAIL_READ", outcome)
    assert record["hp"] == request["hp"] and record["patient"] == request["patient"]
    assert record["request_origin"] == "10.0.0.1" and record["patient_access"] is False


def test_an_oversized_events_record_keeps_its_metadata_and_a_digest_of_the_rest():
    import json

    from passerelle.envelope import new_envelope
    from passerelle.processor import Incoming
    from services.audit.handlers import MAX_RECORD_BYTES, bounded, audit_record

    event = {"envelope": new_envelope("gateway"), "hp": {"rpps": "10001234565", "profession": "10",
                                                          "organisation": "750000001", "auth_method": "CPS",
                                                          "assertion_issued_at": 0},
             "patient": {"country": "PT", "patient_id": "193857264"}, "purpose": "TREATMENT",
             "request_origin": "x" * 4_000_000, "point_of_care": {"name": "y" * 100_000}}
    whole = audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", event))
    record = bounded(whole)
    assert len(json.dumps(record, default=str)) < MAX_RECORD_BYTES
    assert record["request_origin"] is None and record["point_of_care"] is None
    assert (record["hp"], record["patient"], record["action"]) == (whole["hp"], whole["patient"], "PS_REQUESTED")
    assert record["source_event_id"] == event["envelope"]["event_id"]
    assert record["oversized_digest"].startswith("sha256:") and record["oversized_digest"].endswith(" bytes")
    small = audit_record(Incoming("t", "fr.passerelle.ps.PatientSummaryRequested", {**event, "request_origin": "1.2.3.4",
                                                                                  "point_of_care": None}))
    assert bounded(small) is small and small["oversized_digest"] is None


def test_an_oversized_list_of_documents_is_emptied_and_the_record_still_encodes(serde):
    """``document_refs`` is an array (never null): past the bound it is emptied, the digest kept."""
    from passerelle.envelope import new_envelope
    from passerelle.events import AUDIT_RECORD, ORCD_OPENED
    from passerelle.processor import Incoming
    from services.audit.handlers import audit_record, bounded

    refs = [{"document_id": f"2.16.620.1.101.10.3.29.{i}^{'x' * 60}", "document_type": "11502-2"} for i in range(200)]
    event = {"envelope": new_envelope("gateway"), "hp": None, "patient": {"country": "PT", "patient_id": "193857264"},
             "purpose": "TREATMENT", "document_refs": refs, "media_type": "application/pdf", "request_origin": None}
    whole = audit_record(Incoming("t", ORCD_OPENED, event))
    assert whole["document_refs"] == refs
    record = bounded(whole)
    assert record["document_refs"] == [] and record["oversized_digest"].startswith("sha256:")
    assert serde.decode(serde.encode(AUDIT_RECORD, record))[1]["document_refs"] == []


def test_the_patients_own_reading_of_their_history_is_audited_with_no_professional():
    request = patient_summary_request(country="FR", patient_id="286037505604238")
    read = {"envelope": request["envelope"], "hp": None, "patient": request["patient"], "authorised": True,
            "reason_code": None, "accesses_listed": 20, "request_origin": "10.0.0.1", "patient_space": "PDF"}
    record = audit_record(Incoming("p.audit.reads.v1", "fr.passerelle.audit.AuditTrailRead", read))
    assert (record["action"], record["outcome"], record["hp"]) == ("PATIENT_HISTORY_PDF", "SUCCESS", None)
    assert record["patient"] == request["patient"] and record["patient_access"] is False


def _json_values():
    from datetime import datetime, timezone

    from hypothesis import strategies as st

    from passerelle.service import Service
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(),
                       st.datetimes(timezones=st.just(timezone.utc)), st.sampled_from(list(Service)),
                       st.just(datetime(2026, 1, 1)))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=20)


def test_the_cheap_size_bound_is_never_below_the_json_size():
    """``bounded`` trusts ``repr`` times ``JSON_PER_REPR_BYTE`` not to undercount what the record
    encodes to (quotes, control characters, infinities, datetimes, enums, any text)."""
    from hypothesis import given, settings

    from services.audit.handlers import JSON_PER_REPR_BYTE, _json

    @settings(max_examples=300, deadline=None)
    @given(_json_values())
    def bound_holds(value):
        assert len(_json(value)) <= JSON_PER_REPR_BYTE * len(repr(value).encode())

    bound_holds()
    assert len(_json(float("inf"))) > 2 * len(repr(float("inf")).encode())  # why 3, not 2
