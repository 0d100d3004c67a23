"""Routing rules: which authorised request goes to which country, and which ends here."""

from __future__ import annotations

from typing import Iterable

from passerelle.countries import PATIENT_SUMMARY, CountryRegistry
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.processor import Emit, Incoming, RejectedEvent
from passerelle.topics import Topics

PRODUCER = "router"
DECISION = "fr.passerelle.consent.ConsentDecision"


def route_refusal(country_code: str, service: str, registry: CountryRegistry) -> str | None:
    """Why a request for ``service`` cannot go to ``country_code``, or None when it can."""
    country = registry.get(country_code)
    if country is None:
        return "COUNTRY_UNKNOWN"
    if not country.offers(service):
        return "SERVICE_NOT_AVAILABLE_FOR_COUNTRY"
    return None


def route_to_affiliation_country(incoming: Incoming, topics: Topics, registry: CountryRegistry) -> Iterable[Emit]:
    if incoming.event_type != DECISION:
        raise RejectedEvent(f"{incoming.event_type} is not a {DECISION}")
    decision = incoming.event
    if not decision["authorised"] or decision["service"] != PATIENT_SUMMARY:
        return  # denied requests end at the consent service; other services route elsewhere
    key = decision["envelope"]["correlation_id"].encode()
    common = {"hp": decision["hp"], "patient": decision["patient"]}
    refusal = route_refusal(decision["patient"]["country"], decision["service"], registry)
    if refusal:
        outcome = {"envelope": caused_by(decision, PRODUCER), **common, "status": "FAILED",
                   "error": error(refusal), "summary": None}
        yield Emit(topics.ps_outcomes, "fr.passerelle.ps.PatientSummaryOutcome", outcome, key)
        return
    query = {"envelope": caused_by(decision, PRODUCER), **common, "purpose": decision["purpose"],
             "target_language": "fr-FR"}
    yield Emit(topics.ncp_outbound(decision["patient"]["country"]), "fr.passerelle.ncp.PatientSummaryQuery", query, key)
