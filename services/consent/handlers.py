"""Consent rules as plain functions. Access is refused unless every rule allows it.

Every request ends in a ``ConsentDecision`` (authorised, or denied with the stable code of the first
rule that refused); a denial also ends the request with a ``DENIED`` outcome, so a denied request
never produces anything the router acts on. An authorised decision carries a treatment-relationship
confirmation (TRC) for that professional and that patient. Emergency accesses and crossed abuse
thresholds raise a ``SecurityAlert``. Every one of these events is on a topic the audit service reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from passerelle.countries import ORIGINAL_DOCUMENTS, PATIENT_SUMMARY, CountryRegistry
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import (CONSENT_DECISION, EP_REQUESTED, ORCD_REQUESTED, PS_REQUESTED, SECURITY_ALERT, ep_outcome,
                               orcd_outcome, ps_outcome, request_key)
from passerelle.processor import Emit, Incoming
from passerelle.professionals import DirectoryEntry, Profession, identity_refusal, service_refusal
from passerelle.topics import Topics
from passerelle.service import Service
from services.consent.abuse import SlidingWindow
from passerelle.consent_registry import ConsentRegistry

PRODUCER = Service.CONSENT
EPRESCRIPTION = "eprescription"
AUTHORISED = "AUTHORISED"
EMERGENCY = "EMERGENCY"
#: (hp, patient, purpose, request id, now in seconds) → signed treatment-relationship confirmation
Confirm = Callable[[dict, dict, str, str, int], str]


@dataclass
class ConsentRules:
    """Everything a decision reads: reference data, the registry view, the abuse counters."""
    professions: dict[str, Profession]
    directory: dict[str, DirectoryEntry]
    countries: CountryRegistry
    registry: ConsentRegistry
    confirm: Confirm
    per_professional: SlidingWindow
    per_patient: SlidingWindow


def first_refusal(request: dict, rules: ConsentRules, service: str, now_ms: int) -> str | None:
    """The reason code of the first rule that refuses ``request``, or None when all allow it."""
    hp, patient = request["hp"], request["patient"]
    refusal = identity_refusal(hp, rules.directory, rules.professions, now_ms) or service_refusal(
        hp, rules.professions, service)
    if refusal:
        return refusal
    if request["purpose"] == EMERGENCY:
        country = rules.countries.get(patient["country"])
        if country is None or not country.allow_emergency:
            return "EMERGENCY_NOT_ALLOWED"
    if not request["consent_confirmed"]:
        return "CONSENT_NOT_CONFIRMED"
    if not request["information_notice_given"]:
        return "INFORMATION_NOTICE_NOT_GIVEN"
    return rules.registry.refusal(patient, hp, service, now_ms)


def _alert(request: dict, kind: str, observed: int = 0, threshold: int = 0, window_ms: int = 0) -> dict:
    return {"envelope": caused_by(request, PRODUCER), "kind": kind, "hp": request["hp"],
            "patient": request["patient"], "purpose": request["purpose"], "observed": observed,
            "threshold": threshold, "window_seconds": window_ms // 1000}


def abuse_alerts(request: dict, rules: ConsentRules, now_ms: int) -> list[dict]:
    """Count the request per professional and per patient; an alert for each threshold it crosses."""
    alerts = []
    patient = (request["patient"]["country"], request["patient"]["patient_id"])
    for kind, window, subject in (("ABUSE_PROFESSIONAL", rules.per_professional, request["hp"]["rpps"]),
                                  ("ABUSE_PATIENT", rules.per_patient, patient)):
        observed = window.observe(subject, now_ms)
        if observed is not None:
            alerts.append(_alert(request, kind, observed, window.threshold, window.window_ms))
    return alerts


#: The service each request event asks for, and the outcome that ends it when denied.
SERVICES = {PS_REQUESTED: (PATIENT_SUMMARY, ps_outcome), EP_REQUESTED: (EPRESCRIPTION, ep_outcome),
            ORCD_REQUESTED: (ORIGINAL_DOCUMENTS, orcd_outcome)}


def decide_patient_summary(incoming: Incoming, topics: Topics, rules: ConsentRules, now_ms: int) -> Iterable[Emit]:
    """Decide a Patient Summary request, a prescriptions request (service ``eprescription``) or an
    original-documents request (``original-documents``, its query carried on to the router): same
    rules; a denial ends each with its own outcome."""
    request = incoming.event
    key = request_key(request)
    service, end = SERVICES[incoming.event_type]
    if incoming.event_type == ORCD_REQUESTED:  # original documents or laboratory results: the query says
        service = request["query"].get("service") or ORIGINAL_DOCUMENTS
    refusal = first_refusal(request, rules, service, now_ms)
    confirmation = None
    if refusal is None:
        confirmation = rules.confirm(request["hp"], request["patient"], request["purpose"],
                                     request["envelope"]["correlation_id"], now_ms // 1000)
    decision = {"envelope": caused_by(request, PRODUCER), "hp": request["hp"], "patient": request["patient"],
                "purpose": request["purpose"], "service": service, "authorised": refusal is None,
                "reason_code": refusal or AUTHORISED, "treatment_relationship": confirmation,
                "document_query": request.get("query")}
    yield Emit(topics.consent_decisions, CONSENT_DECISION, decision, key)
    if refusal:
        yield end(topics, decision, PRODUCER, "DENIED", error(refusal))
    elif request["purpose"] == EMERGENCY:
        yield Emit(topics.security_events, SECURITY_ALERT, _alert(request, "EMERGENCY_ACCESS"), key)
    for alert in abuse_alerts(request, rules, now_ms):
        yield Emit(topics.security_events, SECURITY_ALERT, alert, key)
