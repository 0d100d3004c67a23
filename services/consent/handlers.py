"""Consent rules as plain functions. Access is refused unless every rule allows it.

Depth (registry of patients' grants and oppositions, treatment relationship, emergency
purpose per country, abuse detection) comes with issue 3; every rule here already ends in a
decision event with a reason code.
"""

from __future__ import annotations

from typing import Iterable

from passerelle.countries import PATIENT_SUMMARY
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import CONSENT_DECISION, PS_REQUESTED, ps_outcome, request_key
from passerelle.processor import Emit, Incoming, handles
from passerelle.topics import Topics
from services.consent.settings import MAX_ASSERTION_AGE_SECONDS, STRONG_AUTH_METHODS, Profession

PRODUCER = "consent"
AUTHORISED = "AUTHORISED"


def first_refusal(request: dict, professions: dict[str, Profession], service: str, now_ms: int) -> str | None:
    """The reason code of the first rule that refuses ``request``, or None when all allow it."""
    hp = request["hp"]
    profession = professions.get(hp["profession"])
    if profession is None or service not in profession.services:
        return "PROFESSION_NOT_ELIGIBLE"
    if hp["auth_method"] not in STRONG_AUTH_METHODS:
        return "STRONG_AUTHENTICATION_REQUIRED"
    if now_ms - _ms(hp["assertion_issued_at"]) > MAX_ASSERTION_AGE_SECONDS * 1000:
        return "ASSERTION_EXPIRED"
    if not request["consent_confirmed"]:
        return "CONSENT_NOT_CONFIRMED"
    if not request["information_notice_given"]:
        return "INFORMATION_NOTICE_NOT_GIVEN"
    return None


def _ms(value) -> int:
    return value if isinstance(value, int) else int(value.timestamp() * 1000)


@handles(PS_REQUESTED)
def decide_patient_summary(incoming: Incoming, topics: Topics, professions: dict[str, Profession],
                           now_ms: int) -> Iterable[Emit]:
    request = incoming.event
    refusal = first_refusal(request, professions, PATIENT_SUMMARY, now_ms)
    decision = {"envelope": caused_by(request, PRODUCER), "hp": request["hp"], "patient": request["patient"],
                "purpose": request["purpose"], "service": PATIENT_SUMMARY, "authorised": refusal is None,
                "reason_code": refusal or AUTHORISED}
    yield Emit(topics.consent_decisions, CONSENT_DECISION, decision, request_key(request))
    if refusal:
        yield ps_outcome(topics, decision, PRODUCER, "DENIED", error(refusal))
