"""The dispensation's request and response bodies (pydantic at the edge; events stay Avro)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.gateway.bodies import PRINTABLE_ID, PRINTABLE_TEXT, REQUEST_BODY, WholeNumber

COUNTRY = Field(pattern=r"^[A-Za-z]{2}$", description="Country of affiliation, ISO 3166-1 alpha-2.")
PATIENT_ID = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$", description="The patient's identifier there.")


class DispenseLineBody(BaseModel):
    model_config = REQUEST_BODY
    item_id: str = Field(min_length=1, max_length=128, pattern=PRINTABLE_ID,
                         description="The prescription item dispensed (one product).")
    quantity: WholeNumber = Field(ge=1, le=10_000, description="Packages dispensed: the full or a partial quantity.")
    substitution: Literal["G", "TE"] | None = Field(None, description="Substitution applied, where the prescription allows it.")
    product_code: str | None = Field(None, max_length=64, pattern=PRINTABLE_ID, description="Product dispensed, when substituted.")
    product_name: str | None = Field(None, max_length=256, pattern=PRINTABLE_TEXT, description="Its name, when substituted.")


class DispensationBody(BaseModel):
    model_config = REQUEST_BODY
    country: str = COUNTRY
    patient_id: str = PATIENT_ID
    prescription_id: str = Field(min_length=1, max_length=256, pattern=PRINTABLE_ID,
                                 description="From GET /v1/prescriptions.")
    lines: list[DispenseLineBody] = Field(min_length=1, max_length=50)


class DispensationAccepted(BaseModel):
    dispensation_id: str
