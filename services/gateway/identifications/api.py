"""Patient identification API (step 1 of a request, docs/domain.md): the HP sends the fields of the
country's search mask; the identification goes through the pipeline (consent: the HP's identity
rules → router → country A's NCP) and ends in an outcome the HP polls:
``matched`` (with the patient id to use in the summary or prescriptions request), ``not_found``,
``several`` (which field would tell the patients apart), ``more_details_needed`` (which fields
country A wants), ``denied`` or ``failed``. Every step is audited.
"""

from __future__ import annotations

from typing import Callable

import structlog
from fastapi import APIRouter, Depends, Request

from passerelle.countries import CountryRegistry
from passerelle.events import IDENTIFICATION_REQUESTED
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.auth import origin_of
from services.gateway.errors import ApiError, unknown
from services.gateway.identifications.rules import given, identification_requested, identification_view, mask_problems
from services.gateway.identifications.tracker import IdentificationTracker
from services.gateway.identifications.models import IdentificationAccepted, IdentificationRequest, IdentificationStatus
from services.gateway.publish import Publisher

log = structlog.get_logger()


def identification_router(topics: Topics, countries: CountryRegistry, caller: Callable[..., HealthProfessionalClaims],
                          publisher: Publisher, tracker: IdentificationTracker) -> APIRouter:
    """The routes; ``countries`` are the gateway's, ``tracker`` fed by the gateway's follower (``follower.py``)."""
    router = APIRouter(tags=["patient identification"])

    @router.post("/v1/patient-identifications", status_code=202, response_model=IdentificationAccepted)
    async def identify_patient(body: IdentificationRequest, request: Request,
                               hp: HealthProfessionalClaims = Depends(caller)):
        """Identify a foreign patient with the fields the country publishes; poll the answer."""
        country = countries.get(body.country)
        fields = given(body.fields)
        problems = mask_problems(fields, country)
        if problems:  # the first problem's code; every field named, no value repeated
            raise ApiError(422, problems[0][0], [{"field": f"fields.{key}", "problem": code} for code, key in problems])
        event = identification_requested(body.country, fields, country, hp.as_record(), origin_of(request))
        identification_id = event["envelope"]["correlation_id"]
        await publisher.publish(topics.identification_requested, IDENTIFICATION_REQUESTED, event)
        tracker.requested(identification_id, hp.rpps)
        log.info("patient identification requested", correlation_id=identification_id, country=body.country.upper(),
                 field_keys=sorted(fields))
        return {"identification_id": identification_id}

    @router.get("/v1/patient-identifications/{identification_id}", response_model=IdentificationStatus)
    async def identification_status(identification_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        """pending, matched (the patient id to use next), not_found, several, more_details_needed
        (with the fields to add), denied or failed (with the French message)."""
        tracked = tracker.lookup(identification_id, hp.rpps)
        if tracked is None:
            raise unknown(tracker.ready, "IDENTIFICATION_NOT_FOUND")
        outcome = tracker.outcome(tracked)
        country = countries.get(outcome["patient"]["country"]) if outcome else None
        return identification_view(identification_id, outcome, country)

    return router
