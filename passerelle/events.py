"""The events' names (their Avro full names in ``schemas/``) and what several services build alike.

``tests/contract/test_schemas.py`` checks that these names and the schema files agree.
"""

from __future__ import annotations

import json

from passerelle.envelope import caused_by
from passerelle.processor import Emit
from passerelle.topics import Topics

PS_REQUESTED = "fr.passerelle.ps.PatientSummaryRequested"
CONSENT_DECISION = "fr.passerelle.consent.ConsentDecision"
PS_QUERY = "fr.passerelle.ncp.PatientSummaryQuery"
PS_RETRIEVED = "fr.passerelle.ncp.PatientSummaryRetrieved"
PS_OUTCOME = "fr.passerelle.ps.PatientSummaryOutcome"
AUDIT_RECORD = "fr.passerelle.audit.AuditRecord"
CONSENT_DIRECTIVE = "fr.passerelle.consent.ConsentDirective"
AUTHENTICATION_FAILED = "fr.passerelle.security.AuthenticationFailed"
SECURITY_ALERT = "fr.passerelle.security.SecurityAlert"
PATIENT_ACCESS_NOTIFIED = "fr.passerelle.audit.PatientAccessNotified"
AUDIT_TRAIL_READ = "fr.passerelle.audit.AuditTrailRead"
EP_REQUESTED = "fr.passerelle.ep.PrescriptionsRequested"
EP_QUERY = "fr.passerelle.ep.PrescriptionQuery"
EP_RETRIEVED = "fr.passerelle.ep.PrescriptionsRetrieved"
EP_OUTCOME = "fr.passerelle.ep.PrescriptionListOutcome"
EP_OBSERVED = "fr.passerelle.ep.PrescriptionObserved"
EP_STATE = "fr.passerelle.ep.PrescriptionState"
DISPENSATION_REQUESTED = "fr.passerelle.ep.DispensationRequested"
DISPENSATION_DISCARD_REQUESTED = "fr.passerelle.ep.DispensationDiscardRequested"
DISPENSATION_SUBMITTED = "fr.passerelle.ep.DispensationSubmitted"
DISPENSATION_ANSWERED = "fr.passerelle.ep.DispensationAnswered"
IDENTIFICATION_REQUESTED = "fr.passerelle.identification.PatientIdentificationRequested"
IDENTIFICATION_QUERY = "fr.passerelle.identification.PatientIdentificationQuery"
IDENTIFICATION_OUTCOME = "fr.passerelle.identification.PatientIdentificationOutcome"
#: France as country A (docs/country-a.md)
CROSSBORDER_REQUESTED = "fr.passerelle.crossborder.CrossBorderRequested"
CROSSBORDER_DECISION = "fr.passerelle.crossborder.CrossBorderDecision"
CROSSBORDER_IDENTIFICATION_OUTCOME = "fr.passerelle.crossborder.CrossBorderIdentificationOutcome"
CROSSBORDER_SUMMARY_OUTCOME = "fr.passerelle.crossborder.CrossBorderSummaryOutcome"
ORCD_REQUESTED = "fr.passerelle.orcd.OriginalDocumentsRequested"
ORCD_QUERY = "fr.passerelle.orcd.OriginalDocumentsQuery"
ORCD_RETRIEVED = "fr.passerelle.orcd.OriginalDocumentsRetrieved"
ORCD_OUTCOME = "fr.passerelle.orcd.OriginalDocumentsOutcome"
ORCD_OPENED = "fr.passerelle.orcd.OriginalDocumentOpened"

ALL = frozenset({PS_REQUESTED, CONSENT_DECISION, PS_QUERY, PS_RETRIEVED, PS_OUTCOME, AUDIT_RECORD,
                 CONSENT_DIRECTIVE, AUTHENTICATION_FAILED, SECURITY_ALERT, PATIENT_ACCESS_NOTIFIED,
                 AUDIT_TRAIL_READ, EP_REQUESTED, EP_QUERY, EP_RETRIEVED, EP_OUTCOME, EP_OBSERVED, EP_STATE,
                 DISPENSATION_REQUESTED, DISPENSATION_DISCARD_REQUESTED, DISPENSATION_SUBMITTED,
                 DISPENSATION_ANSWERED, IDENTIFICATION_REQUESTED, IDENTIFICATION_QUERY, IDENTIFICATION_OUTCOME,
                 CROSSBORDER_REQUESTED, CROSSBORDER_DECISION, CROSSBORDER_IDENTIFICATION_OUTCOME,
                 CROSSBORDER_SUMMARY_OUTCOME, ORCD_REQUESTED, ORCD_QUERY, ORCD_RETRIEVED, ORCD_OUTCOME, ORCD_OPENED})


def request_key(event: dict) -> bytes:
    """Every event of a request is keyed by the request id, so they stay in order on one partition."""
    return event["envelope"]["correlation_id"].encode()


def directive_key(directive: dict) -> bytes:
    """The consent registry topic's compaction key: a revocation replaces the grant it withdraws
    (same key); an opposition replaces an earlier opposition about the same service. A directive
    about one document (``document_id``) has one key per document whatever its kind: making the
    document shareable again replaces its masking."""
    patient, grantee = directive["patient"], directive.get("grantee")
    who = f"{grantee['kind']}:{grantee['id']}" if grantee else "*"
    document = directive.get("document_id")
    about = "document" if document else "opposition" if directive["kind"] == "OPPOSITION" else "grant"
    parts = [patient["country"], patient["patient_id"], about, who, directive.get("service") or "*"]
    return json.dumps(parts + [document] if document else parts, separators=(",", ":")).encode()


def ps_outcome(topics: Topics, cause: dict, producer: str, status: str, error: dict | None = None,
               summary: dict | None = None) -> Emit:
    """The event that ends a Patient Summary request (COMPLETED, DENIED or FAILED)."""
    outcome = {"envelope": caused_by(cause, producer), "hp": cause["hp"], "patient": cause["patient"],
               "status": status, "error": error, "summary": summary}
    return Emit(topics.ps_outcomes, PS_OUTCOME, outcome, request_key(cause))


def ep_outcome(topics: Topics, cause: dict, producer: str, status: str, error: dict | None = None,
               prescriptions: list | None = None) -> Emit:
    """The event that ends a prescriptions request (COMPLETED, DENIED or FAILED)."""
    outcome = {"envelope": caused_by(cause, producer), "hp": cause["hp"], "patient": cause["patient"],
               "purpose": cause["purpose"], "status": status, "error": error, "prescriptions": prescriptions or []}
    return Emit(topics.ep_outcomes, EP_OUTCOME, outcome, request_key(cause))


def identification_outcome(topics: Topics, cause: dict, producer: str, status: str, error: dict | None = None,
                           fields: list[str] | None = None, mapped_patient: dict | None = None) -> Emit:
    """The event that ends a patient identification (``PatientIdentificationOutcome``)."""
    outcome = {"envelope": caused_by(cause, producer), "hp": cause["hp"], "patient": cause["patient"],
               "status": status, "mapped_patient": mapped_patient, "fields": fields or [], "error": error}
    return Emit(topics.identification_outcomes, IDENTIFICATION_OUTCOME, outcome, request_key(cause))


def orcd_outcome(topics: Topics, cause: dict, producer: str, status: str, error: dict | None = None,
                 documents: list | None = None) -> Emit:
    """The event that ends an original-documents request (COMPLETED, DENIED or FAILED); the
    identifier and type of each listed document are also given apart, for the audit trail."""
    documents = documents or []
    outcome = {"envelope": caused_by(cause, producer), "hp": cause["hp"], "patient": cause["patient"],
               "purpose": cause["purpose"], "query": cause["document_query"] if "document_query" in cause else cause["query"],
               "status": status, "error": error, "documents": documents,
               "document_refs": [{"document_id": d["document_id"], "document_type": d["document_type"]} for d in documents]}
    return Emit(topics.orcd_outcomes, ORCD_OUTCOME, outcome, request_key(cause))
