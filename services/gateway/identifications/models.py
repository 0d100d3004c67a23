"""The patient identification's request and response bodies (pydantic at the edge; events stay Avro).
The request body's schema in the OpenAPI document is written from the countries' search masks
(``schema.py``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from services.gateway.bodies import REQUEST_BODY, ErrorBody

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
