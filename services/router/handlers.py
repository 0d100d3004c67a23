"""Routing rules: which authorised request goes to which country, and which ends here."""

from __future__ import annotations

from typing import Iterable

from passerelle.countries import DOCUMENT_SERVICES, PATIENT_SUMMARY, CountryRegistry
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import (CONSENT_DECISION, EP_QUERY, IDENTIFICATION_QUERY, ORCD_QUERY, PS_QUERY, ep_outcome,
                               identification_outcome, orcd_outcome, ps_outcome, request_key)
from passerelle.processor import Emit, Handlers, Incoming
from passerelle.service import Service
from passerelle.topics import Topics

PRODUCER = Service.ROUTER
#: Everything the router reads: consent decisions and allowed identifications (not the queries it
#: routes on, which carry the same event type).
route = Handlers()
EPRESCRIPTION = "eprescription"


def route_refusal(country_code: str, service: str, registry: CountryRegistry,
                  document_type: str | None = None) -> str | None:
    """Why a request for ``service`` (and that document type) cannot go to ``country_code``, or None."""
    country = registry.get(country_code)
    if country is None:
        return "COUNTRY_UNKNOWN"
    if not country.offers(service):
        return "SERVICE_NOT_AVAILABLE_FOR_COUNTRY"
    if document_type is not None and not country.offers_document_type(service, document_type):
        return "DOCUMENT_TYPE_NOT_AVAILABLE_FOR_COUNTRY"
    return None


def route_original_documents(decision: dict, topics: Topics, registry: CountryRegistry) -> Emit:
    """An authorised original-documents or laboratory-results request: to country A for that type,
    unless it has not joined that service for that type."""
    query = decision["document_query"]
    refusal = route_refusal(decision["patient"]["country"], decision["service"], registry, query["document_type"])
    if refusal:
        return orcd_outcome(topics, decision, PRODUCER, "FAILED", error(refusal))
    routed = {"envelope": caused_by(decision, PRODUCER), "hp": decision["hp"], "patient": decision["patient"],
              "purpose": decision["purpose"], "query": query, "treatment_relationship": decision.get("treatment_relationship")}
    return Emit(topics.ncp_outbound(decision["patient"]["country"]), ORCD_QUERY, routed, request_key(decision))


@route.on(CONSENT_DECISION)
def route_to_affiliation_country(incoming: Incoming, topics: Topics, registry: CountryRegistry) -> Iterable[Emit]:
    decision = incoming.event
    if decision["authorised"] and decision["service"] in DOCUMENT_SERVICES and decision.get("document_query"):
        yield route_original_documents(decision, topics, registry)
        return
    if not decision["authorised"] or decision["service"] not in (PATIENT_SUMMARY, EPRESCRIPTION):
        return  # denied requests end at the consent service; other services route elsewhere
    refusal = route_refusal(decision["patient"]["country"], decision["service"], registry)
    if refusal:
        end = ep_outcome if decision["service"] == EPRESCRIPTION else ps_outcome
        yield end(topics, decision, PRODUCER, "FAILED", error(refusal))
        return
    if decision["service"] == EPRESCRIPTION:
        query = {"envelope": caused_by(decision, PRODUCER), "hp": decision["hp"], "patient": decision["patient"],
                 "purpose": decision["purpose"], "treatment_relationship": decision.get("treatment_relationship")}
        yield Emit(topics.ncp_outbound(decision["patient"]["country"]), EP_QUERY, query, request_key(decision))
        return
    query = {"envelope": caused_by(decision, PRODUCER), "hp": decision["hp"], "patient": decision["patient"],
             "purpose": decision["purpose"], "target_language": "fr-FR",
             "treatment_relationship": decision.get("treatment_relationship")}
    yield Emit(topics.ncp_outbound(decision["patient"]["country"]), PS_QUERY, query, request_key(decision))


def identification_route_refusal(country_code: str, registry: CountryRegistry) -> str | None:
    """Why an identification cannot go to ``country_code``: unknown, or connected for no service."""
    country = registry.get(country_code)
    if country is None:
        return "COUNTRY_UNKNOWN"
    if not country.services:
        return "SERVICE_NOT_AVAILABLE_FOR_COUNTRY"
    return None


@route.on(IDENTIFICATION_QUERY, topic="identification_authorised")
def route_identification(incoming: Incoming, topics: Topics, registry: CountryRegistry) -> Iterable[Emit]:
    """An allowed identification goes, as it is, to the country of affiliation's NCP topic."""
    query = incoming.event
    country = query["patient"]["country"]
    refusal = identification_route_refusal(country, registry)
    if refusal:
        yield identification_outcome(topics, query, PRODUCER, "FAILED", error(refusal))
        return
    routed = {**query, "envelope": caused_by(query, PRODUCER)}
    yield Emit(topics.ncp_outbound(country), IDENTIFICATION_QUERY, routed, request_key(query))

