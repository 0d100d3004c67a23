"""The whole Patient Summary flow on the real broker, every service's processor running in-process."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from passerelle.documents import unpack
from passerelle import kafka
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.foreign_ncp.app import build as foreign_ncp
from services.router.app import build as router
from services.translation.app import build as translation

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
REQUESTED = "fr.passerelle.ps.PatientSummaryRequested"


@contextlib.asynccontextmanager
async def running_services(settings, serde):
    stop = asyncio.Event()
    processors = [build(settings, serde) for build in (consent, router, foreign_ncp, translation, audit)]
    tasks = [asyncio.create_task(p.run(stop)) for p in processors]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def run_requests(settings, serde, requests: list[dict], audit_records: int):
    topics = Topics(settings.topic_prefix)
    async with running_services(settings, serde):
        producer = kafka.producer(settings.kafka)
        await producer.start()
        for request in requests:
            await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, request),
                                         key=request["envelope"]["correlation_id"].encode())
        await producer.stop()
        outcomes = await consume(settings, topics.ps_outcomes, len(requests))
        records = await consume(settings, topics.audit_records, audit_records)
    by_request = {}
    for r in outcomes:
        outcome = serde.decode(r.value)[1]
        by_request[outcome["envelope"]["correlation_id"]] = outcome
    audited = [serde.decode(r.value)[1] for r in records]
    return by_request, audited


async def test_a_pt_patient_summary_comes_back_in_french_and_every_step_is_audited(topics_ready, serde):
    request = patient_summary_request()
    outcomes, audited = await run_requests(topics_ready, serde, [request], audit_records=5)
    outcome = outcomes[request["envelope"]["correlation_id"]]
    assert outcome["status"] == "COMPLETED" and outcome["error"] is None
    summary = outcome["summary"]
    assert summary["language"] == "fr-FR" and summary["source_language"] == "pt-PT" and summary["translated"]
    titles = [s["title"] for s in summary["sections"]]
    assert titles[:2] == ["Allergies et réactions indésirables", "Traitements"]
    latex = summary["sections"][0]["entries"][0]
    assert latex == {"display": "Allergie au latex", "original": "Alergia ao látex", "translated": True,
                     "code": {"system": "2.16.840.1.113883.6.96", "code": "300916003"}, "flag": None,
                     "explanation": None, "row": 0, "role": "value"}
    assert b'<translation code="300916003"' in unpack(summary["document_encoding"], summary["document"])
    assert [a["action"] for a in sorted(audited, key=lambda a: a["source_occurred_at"])] == [
        "PS_REQUESTED", "CONSENT_DECIDED", "PS_QUERY_ROUTED", "PS_RETRIEVED", "PS_OUTCOME"]
    assert {a["envelope"]["correlation_id"] for a in audited} == {request["envelope"]["correlation_id"]}
    assert all(a["outcome"] == "SUCCESS" for a in audited)


async def test_denials_and_failures_end_with_a_stable_code_and_a_french_message(topics_ready, serde):
    cases = {
        "CONSENT_NOT_CONFIRMED": patient_summary_request(confirmed=False),
        "PROFESSION_NOT_ELIGIBLE": patient_summary_request(profession="99"),
        "COUNTRY_UNKNOWN": patient_summary_request(country="ZZ"),
        "SERVICE_NOT_AVAILABLE_FOR_COUNTRY": patient_summary_request(country="DE"),
        "PATIENT_NOT_FOUND": patient_summary_request(patient_id="NOBODY"),
        "COUNTRY_UNREACHABLE": patient_summary_request(country="IT", patient_id="X"),
        "NO_CONSENT": patient_summary_request(patient_id="PT-NO-CONSENT"),
    }
    # audit: 2 records per denied request, 3 per routing failure, 5 per request answered by country A
    outcomes, audited = await run_requests(topics_ready, serde, list(cases.values()), audit_records=2 * 2 + 2 * 3 + 3 * 5)
    for code, request in cases.items():
        outcome = outcomes[request["envelope"]["correlation_id"]]
        assert outcome["error"]["code"] == code, code
        assert outcome["status"] == ("DENIED" if code in ("CONSENT_NOT_CONFIRMED", "PROFESSION_NOT_ELIGIBLE") else "FAILED")
        assert outcome["error"]["message"] and outcome["summary"] is None
    denied_ids = {cases[c]["envelope"]["correlation_id"] for c in ("CONSENT_NOT_CONFIRMED", "PROFESSION_NOT_ELIGIBLE")}
    routed = {a["envelope"]["correlation_id"] for a in audited if a["action"] == "PS_QUERY_ROUTED"}
    assert not routed & denied_ids, "a denied request reached the router"
    denials = [a for a in audited if a["action"] == "CONSENT_DECIDED" and a["outcome"] == "DENIED"]
    assert {a["reason_code"] for a in denials} == {"CONSENT_NOT_CONFIRMED", "PROFESSION_NOT_ELIGIBLE"}
