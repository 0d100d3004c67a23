"""Patient identification API (step 1 of a request, docs/domain.md): the HP sends the fields of the
country's search mask; the identification goes through the pipeline (consent: the HP's identity
rules → router → country A's NCP) and ends in an outcome the HP polls:
``matched`` (with the patient id to use in the summary or prescriptions request), ``not_found``,
``several`` (which field would tell the patients apart), ``more_details_needed`` (which fields
country A wants), ``denied`` or ``failed``. Every step is audited.
"""

from __future__ import annotations

from typing import Annotated, Callable, Literal

import structlog
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from passerelle.countries import CountryRegistry
from passerelle.events import IDENTIFICATION_REQUESTED, request_key
from passerelle.serde import AvroSerde
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.errors import ApiError, unknown
from services.gateway.identification import given, identification_requested, identification_view, mask_problems
from services.gateway.identification_tracker import IdentificationTracker
from services.gateway.models import REQUEST_BODY, ErrorBody

log = structlog.get_logger()
FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
FieldValue = Annotated[str, StringConstraints(max_length=64, pattern=r"^[\w.\-/ ]*$")]


class IdentificationRequest(BaseModel):
    model_config = REQUEST_BODY
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="Country of affiliation, ISO 3166-1 alpha-2.")
    fields: dict[FieldKey, FieldValue] = Field(
        min_length=1, max_length=10, json_schema_extra={"additionalProperties": False},  # keys: the pattern only
        description="The search mask's fields by key (GET /v1/countries/{code}/identifiers): patient_id, birth_date...")


class IdentificationAccepted(BaseModel):
    identification_id: str


class PatientView(BaseModel):
    country: str
    patient_id: str = Field(description="The identifier to use in POST /v1/patient-summaries or GET /v1/prescriptions.")


class FieldToAdd(BaseModel):
    key: str
    label: str = Field(description="The field's label in the search mask (French).")


class IdentificationStatus(BaseModel):
    identification_id: str
    status: Literal["pending", "matched", "not_found", "several", "more_details_needed", "denied", "failed"]
    patient: PatientView | None = Field(None, description="matched only.")
    fields: list[FieldToAdd] = Field([], description="several: the fields that would tell the patients apart; "
                                                     "more_details_needed: the fields country A requires.")
    error: ErrorBody | None = None


def identification_router(settings: Settings, serde: AvroSerde, countries: CountryRegistry,
                          caller: Callable[..., HealthProfessionalClaims], producer: Callable[[], object],
                          tracker: IdentificationTracker) -> APIRouter:
    """The routes; ``serde`` and ``countries`` are the gateway's, ``producer()`` its started Kafka
    producer, ``tracker`` fed by the gateway's follower (``follower.py``)."""
    topics = Topics(settings.topic_prefix)
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
        event = identification_requested(body.country, fields, country, hp.as_record(),
                                         request.client.host if request.client else None)
        identification_id = event["envelope"]["correlation_id"]
        try:
            await producer().send_and_wait(topics.identification_requested,
                                           serde.encode(IDENTIFICATION_REQUESTED, event), key=request_key(event))
        except KafkaError as exc:
            log.error("identification not published", correlation_id=identification_id, error_class=type(exc).__name__)
            raise ApiError(503, "GATEWAY_UNAVAILABLE") from exc
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
        country = countries.get(tracked.outcome["patient"]["country"]) if tracked.outcome else None
        return identification_view(identification_id, tracked.outcome, country)

    return router
