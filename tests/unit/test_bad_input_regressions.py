"""Defects the bad-input campaign found (tests/unit/test_bad_input_campaign.py), each pinned by the
smallest input that showed it: every one used to stop its service (an exception outside the error
policy), and now is dead-lettered or handled."""

from __future__ import annotations

import pytest

from passerelle.processor import Incoming, RejectedEvent
from passerelle.topics import Topics
from services.audit.handlers import audit_record

from tests.integration.conftest import patient_summary_request

TOPICS = Topics("p")


@pytest.mark.parametrize("status", ["", "completed", "UNKNOWN"])
def test_a_prescriptions_outcome_with_an_unknown_status_is_dead_lettered_by_the_audit(status):
    # PrescriptionListOutcome.status is a string in the schema: any value decodes.
    request = patient_summary_request()
    outcome = {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"],
               "purpose": "TREATMENT", "status": status, "error": None, "prescriptions": []}
    with pytest.raises(RejectedEvent):
        audit_record(Incoming("p.ep.outcomes.v1", "fr.passerelle.ep.PrescriptionListOutcome", outcome))


@pytest.mark.parametrize("content", [b"", b"not xml", b"<unclosed"])
def test_country_a_documents_that_are_not_xml_list_nothing_and_stop_nothing(content):
    from services.prescription.handlers import handle

    request = patient_summary_request(country="FI")
    retrieved = {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"],
                 "purpose": "TREATMENT", "error": None, "documents": [{"format": "CDA", "language": None, "content": content}]}
    assert list(handle(Incoming("p.ep.retrieved.v1", "fr.passerelle.ep.PrescriptionsRetrieved", retrieved), TOPICS, {})) == []


def test_the_gateway_skips_a_dispensation_state_it_does_not_know_and_keeps_the_others(tmp_path):
    from services.gateway.prescriptions.tracker import PrescriptionTracker
    from tests.prescription_flow import prescription_flow

    state = next(e for e in prescription_flow(tmp_path) if e.event_type == "fr.passerelle.ep.PrescriptionState"
                 and e.record["dispensations"]).record
    known = state["dispensations"][0]
    odd = {**known, "dispensation_id": "odd", "status": "SOMETHING_NEW"}
    tracker = PrescriptionTracker(100)
    tracker.apply("fr.passerelle.ep.PrescriptionState", {**state, "dispensations": [odd, known]})
    assert "odd" not in tracker.dispensations and known["dispensation_id"] in tracker.dispensations


def test_an_event_whose_output_would_not_fit_in_a_message_is_dead_lettered(tmp_path, serde):
    """A document of coded sections only: its translation (a French title added to each) is three
    times as big, over the message limit (8 MiB by default, 1 MiB here: a 3 MB document does the
    same with the default). The producer would refuse the send, the processor stop, and the
    redelivered event stop it again, forever: it is dead-lettered instead."""
    from passerelle.settings import KafkaSettings, Settings
    from services.translation.app import build
    from tests.bad_input import DeadLettered, through

    import secrets  # random titles: the document and its translation do not compress (passerelle/documents.py)
    sections = b"".join(b'<component><section><code code="48765-2" codeSystem="2.16.840.1.113883.6.1"/><title>'
                        + secrets.token_hex(64).encode() + b"</title></section></component>" for _ in range(4_000))
    document = (b'<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody>' + sections
                + b"</structuredBody></component></ClinicalDocument>")
    request = patient_summary_request()
    retrieved = {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"],
                 "purpose": "TREATMENT", "error": None, "document": {"format": "CDA", "language": "pt-PT", "content": document}}
    processor = build(Settings(state_dir=tmp_path, topic_prefix="p", kafka=KafkaSettings(max_message_bytes=2**20)), serde)
    verdict = through(processor, "p.ncp.inbound.v1", serde.encode("fr.passerelle.ncp.PatientSummaryRetrieved", retrieved))
    assert verdict == DeadLettered("OutputTooLarge", verdict.reason) and "message limit" in verdict.reason


@pytest.mark.parametrize("event_id, patient", [
    ("a\nb", {"country": "FR", "patient_id": "286037505604238"}),          # a header split in two
    ("\x80", {"country": "FR", "patient_id": "286037505604238"}),          # not ASCII: no Message-ID
    ("\t", {"country": "FR", "patient_id": "286037505604238"}),            # not a dot-atom
    ("x" * 65, {"country": "FR", "patient_id": "286037505604238"}),        # over the store's key
    ("ok", {"country": "FRA", "patient_id": "286037505604238"}),           # over the store's column
    ("ok", {"country": "FR", "patient_id": "2860\x00375056042"}),          # PostgreSQL refuses NUL
])
def test_an_access_notification_the_email_or_the_store_cannot_hold_is_dead_lettered(event_id, patient):
    """Found by the notifications' campaign: an event id that is no header value made building the
    e-mail raise (ValueError, HeaderParseError, UnicodeEncodeError) inside the service's send, which
    stopped it, and the redelivered event stopped it again; a patient the store's columns cannot hold
    failed the batch's transaction on PostgreSQL. Now refused, so dead-lettered."""
    from services.notifications.handlers import notice
    from tests.integration.test_notifications import disclosure

    event = disclosure()
    event["envelope"]["event_id"], event["patient"] = event_id, patient
    with pytest.raises(RejectedEvent):
        notice("fr.passerelle.audit.PatientAccessNotified", event)
    event["envelope"]["event_id"], event["patient"] = "3f1c-ok", {"country": "FR", "patient_id": "286037505604238"}
    assert notice("fr.passerelle.audit.PatientAccessNotified", event).event_id == "3f1c-ok"
