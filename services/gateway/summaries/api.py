"""Patient Summary API: a French professional asks for a foreign patient's summary, in French, and
polls the answer (or waits for it with ``Prefer: wait=N``). The request goes through the pipeline
(consent → router → country A's NCP → translation); ``tracker`` follows its outcome."""

from __future__ import annotations

from typing import Callable

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from prometheus_client import Counter

from passerelle.events import PS_REQUESTED
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.auth import origin_of
from services.gateway.errors import unknown
from services.gateway.prefer import preferred_wait
from services.gateway.publish import Publisher
from services.gateway.settings import MAX_WAIT_SECONDS
from services.gateway.summaries import rules
from services.gateway.summaries.models import Accepted, PatientSummaryRequest, RequestStatus
from services.gateway.summaries.tracker import RequestTracker

log = structlog.get_logger()
JSON = "application/json"
REQUESTS = Counter("passerelle_gateway_requests", "Patient Summary requests accepted", ["country"])
PREFER = Header(None, description="RFC 7240 `wait=SECONDS` (at most 30): answer 200 with the outcome if the request "
                                  "ends within that time, else 202 as without it.")
WAIT = Query(0, ge=0, le=MAX_WAIT_SECONDS, description="Long poll: while the request is pending, answer as soon as "
                                                        "it ends or after this many seconds, whichever comes first.")


def summary_router(topics: Topics, caller: Callable[..., HealthProfessionalClaims], publisher: Publisher,
                   tracker: RequestTracker) -> APIRouter:
    """The routes; ``tracker`` is fed by the gateway's follower (``follower.py``)."""
    router = APIRouter(tags=["patient summary"])

    @router.post("/v1/patient-summaries", status_code=202, response_model=Accepted,
                 responses={200: {"model": RequestStatus, "description": "With `Prefer: wait=N`: the request "
                                                                        "ended within N seconds; its answer."}})
    async def request_patient_summary(body: PatientSummaryRequest, request: Request,
                                      hp: HealthProfessionalClaims = Depends(caller), prefer: str | None = PREFER):
        """Ask for a foreign patient's Patient Summary, in French. Poll the answer with the request id,
        or send `Prefer: wait=SECONDS` to have it in this answer when it comes in time (one call)."""
        event = rules.patient_summary_requested(body.model_dump(), hp, origin_of(request))
        request_id = event["envelope"]["correlation_id"]
        await publisher.publish(topics.ps_requested, PS_REQUESTED, event)
        tracker.requested(request_id, hp.rpps)
        REQUESTS.labels(event["patient"]["country"]).inc()
        log.info("patient summary requested", correlation_id=request_id, country=event["patient"]["country"])
        wait = preferred_wait(prefer, MAX_WAIT_SECONDS)
        if wait:
            await tracker.wait_for_outcome(request_id, wait)
            tracked = tracker.lookup(request_id, hp.rpps)
            if tracked is not None and tracked.encoded_outcome is not None:
                return Response(rules.status_json(request_id, tracker.outcome(tracked)), media_type=JSON, headers={
                    "Preference-Applied": f"wait={wait:g}", "Content-Location": f"/v1/patient-summaries/{request_id}"})
        return {"request_id": request_id}

    @router.get("/v1/patient-summaries/{request_id}", response_model=RequestStatus)
    async def patient_summary_status(request_id: str, hp: HealthProfessionalClaims = Depends(caller),
                                     wait: float = WAIT):
        """Where a request stands: pending, completed (with the summary in French), denied or failed."""
        tracked = tracker.lookup(request_id, hp.rpps)
        if tracked is None:
            raise unknown(tracker.ready, "REQUEST_NOT_FOUND")
        await tracker.wait_for_outcome(request_id, wait)
        return Response(rules.status_json(request_id, tracker.outcome(tracked)), media_type=JSON)

    return router
