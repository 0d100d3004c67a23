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

from typing import Callable, Literal

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

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
    async def laboratory_results(request: Request, country: str = Query(pattern=r"^[A-Za-z]{2}$"),
                                 patient_id: str = Query(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$"),
                                 period_start: str | None = PERIOD_START, period_end: str | None = PERIOD_END,
                                 consent_confirmed: bool = Query(description="The patient consents."),
                                 information_notice_given: bool = Query(description="The notice was given."),
                                 purpose: Literal["TREATMENT", "EMERGENCY"] = "TREATMENT",
                                 wait: float = Query(10.0, ge=0, le=30, description="Seconds to wait for country A."),
                                 hp: HealthProfessionalClaims = Depends(caller)):
        """Ask country A for the patient's structured laboratory reports (consent rules as for a
        Patient Summary, service ``laboratory-results``); a country that has not joined it answers
        ``failed`` with ``SERVICE_NOT_AVAILABLE_FOR_COUNTRY`` (audited)."""
        start, end = checked_query(LABORATORY_REPORT, period_start, period_end)
        event = original_documents_requested(hp.as_record(), country, patient_id, LABORATORY_REPORT, start, end, purpose,
                                             consent_confirmed, information_notice_given,
                                             origin_of(request), LABORATORY_RESULTS)
        request_id = event["envelope"]["correlation_id"]
        tracker.requested(request_id, hp.rpps)
        await publisher.publish(topics.orcd_requested, ORCD_REQUESTED, event)
        log.info("laboratory results requested", correlation_id=request_id, country=country.upper())
        outcome = await tracker.arrived_within(request_id, wait)
        if outcome is None:
            return JSONResponse(listing_view(request_id, None), status_code=202)
        return listing_view(request_id, outcome)

    @router.get(BASE + "/requests/{request_id}", summary="Poll a laboratory-results request")
    async def laboratory_request(request_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        found = tracker.listing(request_id, hp.rpps)
        if found is None:
            raise unknown(tracker.ready, "REQUEST_NOT_FOUND")
        return listing_view(request_id, found["outcome"])

    return router
