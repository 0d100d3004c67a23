"""Structured laboratory results in French (issue 23 item 2, docs/laboratory-results.md): a French
HP asks for a foreign patient's laboratory reports (HL7 Europe Laboratory Report, FHIR) of a period
and reads every result in French — test, value and unit, reference ranges, interpretation — beside
what was sent.

The request is the original-documents request with ``query.service = laboratory-results`` and the
laboratory-report type (11502-2): the same flow (consent → router → country A → translation →
gateway → audit), audited as ``LAB_RESULTS_*`` (docs/adr/0190-laboratory-results.md). The listing is
kept by the same tracker: its FHIR originals open at ``/v1/original-documents/requests/{id}/...``.
"""

from __future__ import annotations

from typing import Callable

import structlog
from fastapi import APIRouter, Depends, Request

from passerelle.countries import LABORATORY_RESULTS
from passerelle.events import ORCD_REQUESTED
from passerelle.orcd import LABORATORY_REPORT
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.auth import origin_of
from services.gateway.documents.api import (PERIOD_END, PERIOD_START, checked_query, listing_view,
                                            original_documents_requested)
from services.gateway.documents.tracker import DocumentTracker
from services.gateway.errors import unknown
from services.gateway.listings import PatientListingQuery, listing_answer
from services.gateway.publish import Publisher

log = structlog.get_logger()
BASE = "/v1/laboratory-results"


def lab_router(settings: Settings, caller: Callable[..., HealthProfessionalClaims], publisher: Publisher,
               tracker: DocumentTracker) -> APIRouter:
    """The routes; ``tracker`` is the original-documents one (the same outcomes carry both)."""
    topics = Topics(settings.topic_prefix)
    router = APIRouter(tags=["laboratory results"])

    @router.get(BASE, summary="A foreign patient's laboratory results, in French beside what was sent",
                responses={202: {"description": f"Not back within wait: poll {BASE}/requests/{{request_id}}"}})
    async def laboratory_results(request: Request, q: PatientListingQuery = Depends(),
                                 period_start: str | None = PERIOD_START, period_end: str | None = PERIOD_END,
                                 hp: HealthProfessionalClaims = Depends(caller)):
        """Ask country A for the patient's structured laboratory reports (consent rules as for a
        Patient Summary, service ``laboratory-results``); a country that has not joined it answers
        ``failed`` with ``SERVICE_NOT_AVAILABLE_FOR_COUNTRY`` (audited)."""
        start, end = checked_query(LABORATORY_REPORT, period_start, period_end)
        event = original_documents_requested(hp.as_record(), q.country, q.patient_id, LABORATORY_REPORT, start, end,
                                             q.purpose, q.consent_confirmed, q.information_notice_given,
                                             origin_of(request), LABORATORY_RESULTS)
        request_id = event["envelope"]["correlation_id"]
        tracker.requested(request_id, hp.rpps)
        await publisher.publish(topics.orcd_requested, ORCD_REQUESTED, event)
        log.info("laboratory results requested", correlation_id=request_id, country=q.country.upper())
        return listing_answer(listing_view, request_id, await tracker.arrived_within(request_id, q.wait))

    @router.get(BASE + "/requests/{request_id}", summary="Poll a laboratory-results request")
    async def laboratory_request(request_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        found = tracker.listing(request_id, hp.rpps)
        if found is None:
            raise unknown(tracker.ready, "REQUEST_NOT_FOUND")
        return listing_view(request_id, found["outcome"])

    return router
