"""What each event of the flow means for the audit trail (pure rules, no I/O).

``ACTIONS`` has one entry per audited event type: adding an event type to the audit trail is one
entry there (and one in ``DISCLOSURES`` if that step hands a patient's health data to an HP).
"""

from __future__ import annotations

import hashlib
import json

from typing import Callable, Iterable

from passerelle.countries import LABORATORY_RESULTS
from passerelle.envelope import caused_by
from passerelle.events import (AUDIT_RECORD, AUDIT_TRAIL_READ, AUTHENTICATION_FAILED, CONSENT_DECISION,
                               CONSENT_DIRECTIVE, PATIENT_ACCESS_NOTIFIED, PS_OUTCOME, PS_QUERY, PS_REQUESTED,
                               PS_RETRIEVED, SECURITY_ALERT, request_key)
from passerelle.events import (DISPENSATION_ANSWERED, DISPENSATION_DISCARD_REQUESTED, DISPENSATION_REQUESTED,
                               DISPENSATION_SUBMITTED, EP_OBSERVED, EP_OUTCOME, EP_QUERY, EP_REQUESTED, EP_RETRIEVED)
from passerelle.events import IDENTIFICATION_OUTCOME, IDENTIFICATION_QUERY, IDENTIFICATION_REQUESTED
from passerelle.events import (CROSSBORDER_DECISION, CROSSBORDER_IDENTIFICATION_OUTCOME, CROSSBORDER_REQUESTED,
                               CROSSBORDER_SUMMARY_OUTCOME)
from passerelle.events import ORCD_OPENED, ORCD_OUTCOME, ORCD_QUERY, ORCD_REQUESTED, ORCD_RETRIEVED
from passerelle.processor import Emit, Handlers, Incoming, RejectedEvent
from passerelle.topics import Topics
from passerelle.service import Service

PRODUCER = Service.AUDIT

#: (action, outcome SUCCESS | DENIED | FAILURE, reason code or None)
Step = tuple[str, str, str | None]


def _requested(e: dict) -> Step:
    return "PS_REQUESTED", "SUCCESS", None


def _decided(e: dict) -> Step:
    return "CONSENT_DECIDED", "SUCCESS" if e["authorised"] else "DENIED", e["reason_code"]


def _routed(e: dict) -> Step:
    return "PS_QUERY_ROUTED", "SUCCESS", None


def _retrieved(e: dict) -> Step:
    return "PS_RETRIEVED", "FAILURE" if e["error"] else "SUCCESS", e["error"]["code"] if e["error"] else None


#: Outcome status -> audit outcome; any other status (``PrescriptionListOutcome.status`` is a free
#: string) is bad data: dead-lettered, never a crash of the audit service.
_STATUS_OUTCOMES = {"COMPLETED": "SUCCESS", "DENIED": "DENIED", "FAILED": "FAILURE"}


def _status_outcome(e: dict) -> str:
    if e["status"] not in _STATUS_OUTCOMES:
        raise RejectedEvent("outcome status is not COMPLETED, DENIED or FAILED")
    return _STATUS_OUTCOMES[e["status"]]


def _outcome(e: dict) -> Step:
    outcome = _status_outcome(e)
    return "PS_OUTCOME", outcome, e["error"]["code"] if e["error"] else None


def _authentication_failed(e: dict) -> Step:
    return "HP_AUTHENTICATION_FAILED", "DENIED", e["reason_code"]


def _consent_directive(e: dict) -> Step:
    if e.get("document_id"):  # one document masked from cross-border sharing, or shareable again
        return ("DOCUMENT_UNMASKED" if e["kind"] == "GRANT" else "DOCUMENT_MASKED"), "SUCCESS", None
    action = {"GRANT": "CONSENT_GRANTED", "REVOCATION": "CONSENT_REVOKED", "OPPOSITION": "PATIENT_OPPOSED"}[e["kind"]]
    return action, "SUCCESS", None


def _security_alert(e: dict) -> Step:
    return "SECURITY_ALERT", "SUCCESS", e["kind"]  # EMERGENCY_ACCESS, ABUSE_PROFESSIONAL, ABUSE_PATIENT


def _trail_read(e: dict) -> Step:
    """A security officer's reading of a patient's accesses, or (``patient_space``) the patient's own:
    a page of their history, its CSV or PDF download."""
    action = f"PATIENT_HISTORY_{e['patient_space']}" if e.get("patient_space") else "AUDIT_TRAIL_READ"
    return action, "SUCCESS" if e["authorised"] else "DENIED", e["reason_code"]


def _failure(e: dict) -> tuple[str, str | None]:
    return ("FAILURE", e["error"]["code"]) if e.get("error") else ("SUCCESS", None)


def _ep_outcome(e: dict) -> Step:
    outcome = _status_outcome(e)
    return "EP_OUTCOME", outcome, e["error"]["code"] if e["error"] else None


def _dispensation_submitted(e: dict) -> Step:
    return ("DISPENSATION_DISCARD_SUBMITTED" if e.get("kind") == "DISCARD" else "DISPENSATION_SUBMITTED"), "SUCCESS", None


def _dispensation_answered(e: dict) -> Step:
    discard = e.get("kind") == "DISCARD"
    if e.get("accepted"):
        return ("DISPENSATION_DISCARDED" if discard else "DISPENSATION_ACKNOWLEDGED"), "SUCCESS", None
    return ("DISPENSATION_DISCARD_REJECTED" if discard else "DISPENSATION_REJECTED"), "DENIED", e["error"]["code"] if e.get("error") else None


def _identification_query(e: dict) -> Step:
    # the same event twice: let through by consent, then sent on by the router to country A
    routed = e["envelope"]["producer"] == Service.ROUTER
    return ("IDENTIFICATION_QUERY_ROUTED" if routed else "IDENTIFICATION_AUTHORISED"), "SUCCESS", None


def _identification_outcome(e: dict) -> Step:
    outcome = {"MATCHED": "SUCCESS", "DENIED": "DENIED"}.get(e["status"], "FAILURE")
    return "IDENTIFICATION_OUTCOME", outcome, e["error"]["code"] if e.get("error") else None


def _crossborder_requested(e: dict) -> Step:
    return ("NCP_IDENTIFICATION_REQUESTED" if e["kind"] == "IDENTIFICATION" else "NCP_PS_REQUESTED"), "SUCCESS", None


def _crossborder_identified(e: dict) -> Step:
    outcome = {"FOUND": "SUCCESS", "DENIED": "DENIED"}.get(e["status"], "FAILURE")
    return "NCP_IDENTIFICATION_OUTCOME", outcome, e["error"]["code"] if e.get("error") else None


def _documents_step(e: dict, step: str) -> str:
    """``ORCD_<step>`` for original clinical documents, ``LAB_RESULTS_<step>`` for structured
    laboratory results: both ride the original-documents events (docs/adr/0190-laboratory-results.md)."""
    return ("LAB_RESULTS_" if (e.get("query") or {}).get("service") == LABORATORY_RESULTS else "ORCD_") + step


ACTIONS: dict[str, Callable[[dict], Step]] = {
    PS_REQUESTED: _requested,
    CONSENT_DECISION: _decided,
    PS_QUERY: _routed,
    PS_RETRIEVED: _retrieved,
    PS_OUTCOME: _outcome,
    AUTHENTICATION_FAILED: _authentication_failed,
    CONSENT_DIRECTIVE: _consent_directive,
    SECURITY_ALERT: _security_alert,
    AUDIT_TRAIL_READ: _trail_read,
    EP_REQUESTED: lambda e: ("EP_REQUESTED", "SUCCESS", None),
    EP_QUERY: lambda e: ("EP_QUERY_ROUTED", "SUCCESS", None),
    EP_RETRIEVED: lambda e: ("EP_RETRIEVED", *_failure(e)),
    EP_OUTCOME: _ep_outcome,
    EP_OBSERVED: lambda e: ("EP_PRESCRIPTION_OBSERVED", "SUCCESS", None),
    DISPENSATION_REQUESTED: lambda e: ("DISPENSATION_REQUESTED", "SUCCESS", None),
    DISPENSATION_DISCARD_REQUESTED: lambda e: ("DISPENSATION_DISCARD_REQUESTED", "SUCCESS", None),
    DISPENSATION_SUBMITTED: _dispensation_submitted,
    DISPENSATION_ANSWERED: _dispensation_answered,
    IDENTIFICATION_REQUESTED: lambda e: ("IDENTIFICATION_REQUESTED", "SUCCESS", None),
    IDENTIFICATION_QUERY: _identification_query,
    IDENTIFICATION_OUTCOME: _identification_outcome,
    # France as country A: a professional abroad reads a French patient's data (docs/country-a.md)
    CROSSBORDER_REQUESTED: _crossborder_requested,
    CROSSBORDER_DECISION: lambda e: ("NCP_PS_DECIDED", "SUCCESS" if e["authorised"] else "DENIED", e["reason_code"]),
    CROSSBORDER_IDENTIFICATION_OUTCOME: _crossborder_identified,
    CROSSBORDER_SUMMARY_OUTCOME: lambda e: ("NCP_PS_OUTCOME", _status_outcome(e), e["error"]["code"] if e["error"] else None),
    ORCD_REQUESTED: lambda e: (_documents_step(e, "REQUESTED"), "SUCCESS", None),
    ORCD_QUERY: lambda e: (_documents_step(e, "QUERY_ROUTED"), "SUCCESS", None),
    ORCD_RETRIEVED: lambda e: (_documents_step(e, "RETRIEVED"), *_failure(e)),
    ORCD_OUTCOME: lambda e: (_documents_step(e, "OUTCOME"), _status_outcome(e), e["error"]["code"] if e["error"] else None),
    ORCD_OPENED: lambda e: ("ORIGINAL_DOCUMENT_OPENED", "SUCCESS", None),
}

#: Clinical content the audit trail never reads: the audit service decodes events without these
#: fields (their bytes are skipped, never built into objects). A rule reading one fails loudly.
NOT_AUDITED = frozenset({"summary", "document", "documents", "prescriptions", "traits", "identity"})

#: Event types whose successful step hands the patient's health data to the HP: the patient is
#: told of each (PatientAccessNotified) and sees it in GET /v1/audit/accesses. A completed outcome
#: is the moment the summary becomes readable by the HP who asked.
DISCLOSURES = frozenset({PS_OUTCOME, EP_OUTCOME, CROSSBORDER_SUMMARY_OUTCOME, ORCD_OUTCOME})


def foreign_professional(professional: dict | None) -> dict | None:
    """A professional abroad (as their NCP asserted them) in the audit record's ``hp`` shape: their
    own country's identifier, their role; ``hp_country`` says they are not French."""
    if professional is None:
        return None
    return {"rpps": professional["id"], "profession": professional["role"],
            "organisation": professional["organisation"], "auth_method": "NCP_ASSERTION",
            "assertion_issued_at": professional["assertion_issued_at"]}


def audit_record(incoming: Incoming) -> dict:
    describe = ACTIONS.get(incoming.event_type)
    if describe is None:
        raise RejectedEvent(f"no audit rule for {incoming.event_type}")
    e = incoming.event
    action, outcome, reason = describe(e)
    hp = e.get("hp") or foreign_professional(e.get("professional"))
    return {"envelope": caused_by(e, PRODUCER), "action": action, "outcome": outcome, "reason_code": reason,
            "hp": hp, "patient": e.get("patient"), "purpose": e.get("purpose"),
            "source_topic": incoming.topic, "source_event_id": e["envelope"]["event_id"],
            "source_event_type": incoming.event_type,
            "source_occurred_at": e["envelope"]["occurred_at"], "request_origin": e.get("request_origin"),
            "point_of_care": e.get("point_of_care") or (hp or {}).get("point_of_care"),
            "mapped_patient": e.get("mapped_patient"),
            "source_causation_id": e["envelope"].get("causation_id"),
            "patient_access": incoming.event_type in DISCLOSURES and outcome == "SUCCESS",
            "hp_country": (e.get("professional") or {}).get("country"), "document_id": e.get("document_id"),
            "oversized_digest": None,
            "document_refs": e.get("document_refs") or []}  # which documents (id, type), never their content


#: An audit record's canonical JSON is at most this long; past it, each optional field longer than
#: ``MAX_FIELD_BYTES`` is dropped (null, a list emptied) and ``oversized_digest`` keeps the digest of the whole
#: record (issue 18: events sent straight to Kafka made 4.2 MB rows).
MAX_RECORD_BYTES = 8 * 1024
MAX_FIELD_BYTES = 512
#: Never dropped: what happened, when, to which event (our own values or the envelope's ids).
RECORD_METADATA = frozenset({"envelope", "action", "outcome", "source_topic", "source_event_id",
                             "source_event_type", "source_occurred_at", "source_causation_id", "patient_access"})


def _json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def _dropped(value):
    """What an oversized optional field becomes: null, or empty for a list (``document_refs``)."""
    return [] if isinstance(value, list) else None


#: ``len(_json(v)) <= JSON_PER_REPR_BYTE * len(repr(v).encode())`` for what an audit record holds:
#: each JSON piece is at most twice its ``repr`` (``"`` escaped: 2 bytes for 1; a control character
#: 2 to 6 for 2 to 4; ``inf`` is ``Infinity``: 8 for 3), containers and ``default=str`` values
#: (datetimes, enums) are shorter in JSON, other characters the same bytes.
JSON_PER_REPR_BYTE = 3


def bounded(record: dict) -> dict:
    """``record`` itself when within ``MAX_RECORD_BYTES``; else its metadata, the optional fields
    within ``MAX_FIELD_BYTES``, and the digest and size of the whole. Most records are a fraction of
    the bound: a cheap upper bound of their JSON size (``repr``) says so without encoding them."""
    if JSON_PER_REPR_BYTE * len(repr(record).encode()) <= MAX_RECORD_BYTES:
        return record
    whole = _json(record)
    if len(whole) <= MAX_RECORD_BYTES:
        return record
    kept = {k: v if k in RECORD_METADATA or len(_json(v)) <= MAX_FIELD_BYTES else _dropped(v) for k, v in record.items()}
    return {**kept, "oversized_digest": f"sha256:{hashlib.sha256(whole).hexdigest()} {len(whole)} bytes"}


def access_notification(record: dict, hp_name: str | None = None) -> dict | None:
    """The "access notified to the patient" event for an audit record that is an access, else None
    (``hp_name``: the professional's name, when the audited event asserted it)."""
    if not (record["patient_access"] and record["patient"] and record["hp"]):
        return None
    return {"envelope": caused_by(record, PRODUCER), "patient": record["patient"], "hp": record["hp"],
            "purpose": record["purpose"], "action": record["action"], "accessed_at": record["source_occurred_at"],
            "audit_source_event_id": record["source_event_id"], "hp_country": record.get("hp_country"),
            "hp_name": hp_name, "document_id": record.get("document_id")}


def record_step(incoming: Incoming, topics: Topics) -> Iterable[Emit]:
    record = bounded(audit_record(incoming))
    yield Emit(topics.audit_records, AUDIT_RECORD, record, request_key(record))
    notification = access_notification(record, (incoming.event.get("professional") or {}).get("name"))
    if notification is not None:
        yield Emit(topics.audit_access_notifications, PATIENT_ACCESS_NOTIFIED, notification, request_key(record))


#: The audit service reads every event type of ``ACTIONS``, on every topic that carries it (not the
#: audit records themselves, not dead letters); ``audit.bind(topics)`` is what its processor runs.
audit = Handlers()
audit.on(*ACTIONS)(record_step)
