"""ePrescription / eDispensation API (issue 6): a French pharmacist lists a foreign patient's
prescriptions in French, dispenses, and discards a dispensation (docs/prescription.md, ADR 0060).

``GET /v1/prescriptions`` runs the same flow as a Patient Summary (consent → router → country A →
translation) and waits for its outcome a few seconds; if it has not arrived, it answers 202 with the
request id to poll at ``GET /v1/prescriptions/requests/{id}``. A dispensation is a command keyed by
the prescription id (``ep.commands``); its state is the prescription service's (``ep.state``).
"""
from __future__ import annotations

from typing import Callable

import structlog
from fastapi import APIRouter, Depends, Request

from passerelle.eprescription import FRANCE
from passerelle.events import AUTHENTICATION_FAILED, DISPENSATION_DISCARD_REQUESTED, DISPENSATION_REQUESTED, EP_REQUESTED
from passerelle.professionals import Profession, service_refusal
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.auth import authentication_failed, origin_of
from services.gateway.errors import ApiError, unknown
from services.gateway.listings import PatientListingQuery, listing_answer
from services.gateway.prescriptions.models import DispensationAccepted, DispensationBody
from services.gateway.prescriptions.rules import (discard_requested, dispensation_requested, dispensation_view,
                                                  list_view, prescriptions_requested)
from services.gateway.prescriptions.tracker import PrescriptionTracker
from services.gateway.publish import Publisher

log = structlog.get_logger()
EDISPENSATION = "edispensation"
#: A dispensation waits at most this long for the prescription service's observation of the listing
#: it follows (``PrescriptionTracker.listing_observed``); usually milliseconds.
LISTING_OBSERVED_WAIT_S = 3.0
TAGS = ["prescriptions"]
Caller = Callable[..., HealthProfessionalClaims]


def refuse_french(country: str) -> None:
    if country.upper() == FRANCE:
        raise ApiError(400, "PRESCRIPTION_FROM_FRANCE")


def prescription_router(topics: Topics, professions: dict[str, Profession], caller: Caller, publisher: Publisher,
                        tracker: PrescriptionTracker) -> APIRouter:
    """The routes: the listing's and the dispensations'; ``professions`` are the gateway's,
    ``tracker`` fed by the gateway's follower (``follower.py``)."""
    router = APIRouter()
    router.include_router(listing_router(topics, caller, publisher, tracker))
    router.include_router(dispensation_router(topics, professions, caller, publisher, tracker))
    return router


def listing_router(topics: Topics, caller: Caller, publisher: Publisher, tracker: PrescriptionTracker) -> APIRouter:
    router = APIRouter(tags=TAGS)

    @router.get("/v1/prescriptions", summary="A foreign patient's prescriptions, in French",
                responses={202: {"description": "Not back within wait: poll /v1/prescriptions/requests/{request_id}"}})
    async def list_prescriptions(request: Request, q: PatientListingQuery = Depends(),
                                 hp: HealthProfessionalClaims = Depends(caller)):
        """Ask country A for the patient's prescriptions (consent rules as for a Patient Summary);
        the translated list if it arrives within ``wait`` seconds, else 202 and the request id."""
        refuse_french(q.country)
        event = prescriptions_requested(hp.as_record(), q.country, q.patient_id, q.purpose, q.consent_confirmed,
                                        q.information_notice_given, origin_of(request))
        request_id = event["envelope"]["correlation_id"]
        tracker.requested_list(request_id, hp.rpps)
        await publisher.publish(topics.ep_requested, EP_REQUESTED, event)
        log.info("prescriptions requested", correlation_id=request_id, country=q.country.upper())
        return listing_answer(list_view, request_id, await tracker.list_arrived(request_id, q.wait))

    @router.get("/v1/prescriptions/requests/{request_id}", summary="Poll a prescriptions request")
    async def prescriptions_request(request_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        found = tracker.prescriptions_list(request_id, hp.rpps)
        if found is None:
            raise unknown(tracker.ready, "REQUEST_NOT_FOUND")
        return list_view(request_id, found["outcome"])

    return router


def dispensation_router(topics: Topics, professions: dict[str, Profession], caller: Caller, publisher: Publisher,
                        tracker: PrescriptionTracker) -> APIRouter:
    router = APIRouter(tags=TAGS)

    @router.post("/v1/dispensations", status_code=202, response_model=DispensationAccepted,
                 summary="Dispense lines of one foreign prescription")
    async def dispense(body: DispensationBody, request: Request, hp: HealthProfessionalClaims = Depends(caller)):
        """Country A is told (eDispensation); poll the state with the dispensation id."""
        refusal = service_refusal(hp.as_record(), professions, EDISPENSATION)
        if refusal:  # audited like every refused identity
            failed = authentication_failed(refusal, None, hp, request.method, request.url.path, origin_of(request))
            await publisher.publish(topics.security_events, AUTHENTICATION_FAILED, failed)
            raise ApiError(403, refusal)
        refuse_french(body.country)
        if not await tracker.listing_observed(body.prescription_id, hp.rpps, LISTING_OBSERVED_WAIT_S):
            log.warning("listing not yet observed by the prescription service; dispensation sent anyway")
        event = dispensation_requested(hp.as_record(), body.model_dump(), origin_of(request))
        await publisher.publish(topics.ep_commands, DISPENSATION_REQUESTED, event,
                                body.prescription_id.encode())
        tracker.requested_dispensation(event)
        log.info("dispensation requested", correlation_id=event["dispensation_id"], country=body.country.upper())
        return {"dispensation_id": event["dispensation_id"]}

    def owned(dispensation_id: str, hp: HealthProfessionalClaims) -> dict:
        found = tracker.dispensation(dispensation_id, hp.rpps)
        if found is None:
            raise unknown(tracker.ready, "DISPENSATION_NOT_FOUND")
        return found

    @router.get("/v1/dispensations/{dispensation_id}", summary="Where a dispensation stands")
    async def dispensation_status(dispensation_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        """pending, waiting (for the previous dispense's acknowledgement), submitted, acknowledged,
        rejected (with the reason), discard_pending, discarded."""
        return dispensation_view(owned(dispensation_id, hp))

    @router.delete("/v1/dispensations/{dispensation_id}", status_code=202, summary="Discard a dispensation")
    async def discard(dispensation_id: str, request: Request, hp: HealthProfessionalClaims = Depends(caller)):
        found = owned(dispensation_id, hp)
        if found["status"] in ("rejected", "discarded"):
            raise ApiError(409, "DISPENSATION_NOT_DISCARDABLE")
        event = discard_requested(hp.as_record(), found, origin_of(request))
        await publisher.publish(topics.ep_commands, DISPENSATION_DISCARD_REQUESTED, event,
                                found["prescription_id"].encode())
        found["status"] = "discard_pending"  # until the prescription service's next state says more
        return dispensation_view(found)

    return router
