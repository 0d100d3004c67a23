"""Original clinical documents on the real broker, every processor in-process: a physician's request
for laboratory reports goes through consent, router, country A and translation; the outcome lists
every document with its French header and checked original, and the audit trail names each one."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from passerelle import kafka
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.foreign_ncp.app import build as foreign_ncp
from services.gateway.documents.api import original_documents_requested
from services.router.app import build as router
from services.translation.app import build as translation

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def running(settings, serde, *builds):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in builds]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def audit_record_of(settings, serde, action: str, timeout: float = 20.0) -> dict:
    """The first audit record of ``action`` on the audit topic (waits for it, bounded)."""
    topic = Topics(settings.topic_prefix).audit_records
    for count in range(5, 40, 5):
        records = [serde.decode(r.value)[1] for r in await consume(settings, topic, count, timeout)]
        found = [r for r in records if r["action"] == action]
        if found:
            return found[0]
    raise AssertionError(f"no {action} audit record")


async def test_laboratory_reports_come_back_with_french_headers_and_are_audited_by_document(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    hp = patient_summary_request()["hp"]
    request = original_documents_requested(hp, "PT", "PT-TEST-1", "11502-2", None, "2026-03-31", "TREATMENT",
                                           True, True, "127.0.0.1")
    lab = original_documents_requested(hp, "PT", "PT-TEST-1", "11502-2", None, None, "TREATMENT",
                                       True, True, "127.0.0.1", "laboratory-results")
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        async with running(settings, serde, consent, router, foreign_ncp, translation, audit):
            for asked in (request, lab):
                await producer.send_and_wait(topics.orcd_requested,
                                             serde.encode("fr.passerelle.orcd.OriginalDocumentsRequested", asked),
                                             key=asked["envelope"]["correlation_id"].encode())
            outcomes = {o["envelope"]["correlation_id"]: o for o in
                        (serde.decode(r.value)[1] for r in await consume(settings, topics.orcd_outcomes, 2))}
            listed = await audit_record_of(settings, serde, "ORCD_OUTCOME")
            lab_listed = await audit_record_of(settings, serde, "LAB_RESULTS_OUTCOME")
    finally:
        await producer.stop()
    outcome, results = outcomes[request["envelope"]["correlation_id"]], outcomes[lab["envelope"]["correlation_id"]]
    assert outcome["status"] == "COMPLETED", outcome["error"]
    docs = outcome["documents"]  # the April ones are after the period; the structured report is not an OrCD
    assert [d["document_id"].split("^")[-1] for d in docs] == ["PT-TEST-1-LAB-1", "PT-TEST-1-LAB-0"]
    assert all(d["language_french"] == "portugais (Portugal)" for d in docs)
    assert [d["content"][:5] for d in docs] == [b"%PDF-", b"%PDF-"]
    assert listed["patient_access"] and listed["document_refs"] == outcome["document_refs"]
    assert [r["document_type"] for r in listed["document_refs"]] == ["11502-2"] * 2
    # laboratory results: a service of its own through the same flow, audited by document
    assert results["status"] == "COMPLETED" and results["query"]["service"] == "laboratory-results"
    [report] = results["documents"]
    assert report["document_id"] == "PT-TEST-1-LAB-FHIR-1" and report["content"][:5] == b"{\n \"r"
    assert [r["severity"] for r in report["laboratory"]["results"]] == ["low", "critical", None, "normal", "low"]
    assert lab_listed["patient_access"] and lab_listed["document_refs"] == [
        {"document_id": "PT-TEST-1-LAB-FHIR-1", "document_type": "11502-2"}]
