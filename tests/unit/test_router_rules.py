"""Routing: authorised requests go to their country's topic; unknown or unconnected countries end."""

from __future__ import annotations

import pytest

from passerelle import PROJECT_ROOT
from passerelle.countries import CountryRegistry
from passerelle.processor import Incoming
from passerelle.topics import Topics
from services.router.handlers import route_refusal, route_to_affiliation_country

from tests.integration.conftest import patient_summary_request

REGISTRY = CountryRegistry.load(PROJECT_ROOT / "data" / "countries.yaml")
TOPICS = Topics("p")


def decision(country="PT", authorised=True) -> dict:
    request = patient_summary_request(country=country)
    return {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"],
            "purpose": "TREATMENT", "service": "patient-summary", "authorised": authorised,
            "reason_code": "AUTHORISED" if authorised else "CONSENT_NOT_CONFIRMED"}


def route(d: dict):
    return list(route_to_affiliation_country(Incoming("t", "fr.passerelle.consent.ConsentDecision", d), TOPICS, REGISTRY))


def test_an_authorised_request_goes_to_its_countrys_topic():
    [query] = route(decision("FI"))
    assert query.topic == "p.ncp.fi.outbound.v1" and query.event_type == "fr.passerelle.ncp.PatientSummaryQuery"
    assert query.record["target_language"] == "fr-FR"


def test_a_denied_request_never_goes_anywhere():
    assert route(decision(authorised=False)) == []


@pytest.mark.parametrize("country, code", [("ZZ", "COUNTRY_UNKNOWN"), ("DE", "SERVICE_NOT_AVAILABLE_FOR_COUNTRY"),
                                           ("ES", "SERVICE_NOT_AVAILABLE_FOR_COUNTRY")])
def test_unknown_or_unconnected_countries_end_the_request(country, code):
    [outcome] = route(decision(country))
    assert outcome.topic == "p.ps.outcomes.v1" and outcome.record["status"] == "FAILED"
    assert outcome.record["error"]["code"] == code


def test_lower_case_country_codes_are_the_same_country():
    assert route_refusal("pt", "patient-summary", REGISTRY) is None
