"""What each event of the flow means for the audit trail."""

from __future__ import annotations

from typing import Iterable

from passerelle.envelope import caused_by
from passerelle.events import (AUDIT_RECORD, CONSENT_DECISION, PS_OUTCOME, PS_QUERY, PS_REQUESTED, PS_RETRIEVED,
                               request_key)
from passerelle.events import AUTHENTICATION_FAILED, CONSENT_DIRECTIVE, SECURITY_ALERT
from passerelle.processor import Emit, Incoming, RejectedEvent
from passerelle.topics import Topics

PRODUCER = "audit"


def _requested(e: dict) -> tuple[str, str, str | None]:
    return "PS_REQUESTED", "SUCCESS", None


def _decided(e: dict) -> tuple[str, str, str | None]:
    return "CONSENT_DECIDED", "SUCCESS" if e["authorised"] else "DENIED", e["reason_code"]


def _routed(e: dict) -> tuple[str, str, str | None]:
    return "PS_QUERY_ROUTED", "SUCCESS", None


def _retrieved(e: dict) -> tuple[str, str, str | None]:
    return "PS_RETRIEVED", "FAILURE" if e["error"] else "SUCCESS", e["error"]["code"] if e["error"] else None


def _outcome(e: dict) -> tuple[str, str, str | None]:
    outcome = {"COMPLETED": "SUCCESS", "DENIED": "DENIED", "FAILED": "FAILURE"}[e["status"]]
    return "PS_OUTCOME", outcome, e["error"]["code"] if e["error"] else None


def _authentication_failed(e: dict) -> tuple[str, str, str | None]:
    return "HP_AUTHENTICATION_FAILED", "DENIED", e["reason_code"]


def _consent_directive(e: dict) -> tuple[str, str, str | None]:
    action = {"GRANT": "CONSENT_GRANTED", "REVOCATION": "CONSENT_REVOKED", "OPPOSITION": "PATIENT_OPPOSED"}[e["kind"]]
    return action, "SUCCESS", None


def _security_alert(e: dict) -> tuple[str, str, str | None]:
    return "SECURITY_ALERT", "SUCCESS", e["kind"]  # EMERGENCY_ACCESS, ABUSE_PROFESSIONAL, ABUSE_PATIENT


ACTIONS = {
    PS_REQUESTED: _requested,
    CONSENT_DECISION: _decided,
    PS_QUERY: _routed,
    PS_RETRIEVED: _retrieved,
    PS_OUTCOME: _outcome,
    AUTHENTICATION_FAILED: _authentication_failed,  # issue 3
    CONSENT_DIRECTIVE: _consent_directive,  # issue 3
    SECURITY_ALERT: _security_alert,  # issue 3
}


def audit_record(incoming: Incoming) -> dict:
    describe = ACTIONS.get(incoming.event_type)
    if describe is None:
        raise RejectedEvent(f"no audit rule for {incoming.event_type}")
    e = incoming.event
    action, outcome, reason = describe(e)
    return {"envelope": caused_by(e, PRODUCER), "action": action, "outcome": outcome, "reason_code": reason,
            "hp": e.get("hp"), "patient": e.get("patient"), "purpose": e.get("purpose"),
            "source_topic": incoming.topic, "source_event_id": e["envelope"]["event_id"],
            "source_event_type": incoming.event_type,
            "source_occurred_at": e["envelope"]["occurred_at"], "request_origin": e.get("request_origin")}


def record_step(incoming: Incoming, topics: Topics) -> Iterable[Emit]:
    record = audit_record(incoming)
    yield Emit(topics.audit_records, AUDIT_RECORD, record, request_key(record))
