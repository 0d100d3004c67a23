"""The API's request and response bodies (pydantic at the edge; events stay Avro)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ConsentConfirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirmed: bool = Field(description="The patient consents to this access.")
    information_notice_given: bool = Field(description="The patient received the information notice.")


class PatientSummaryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="Country of affiliation, ISO 3166-1 alpha-2.")
    patient_id: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$",
                            description="The patient's identifier in that country.")
    consent: ConsentConfirmation
    purpose: Literal["TREATMENT", "EMERGENCY"] = "TREATMENT"


class Accepted(BaseModel):
    request_id: str


class ErrorBody(BaseModel):
    code: str
    message: str


class Coding(BaseModel):
    system: str
    code: str


class Entry(BaseModel):
    display: str | None
    original: str | None
    code: Coding | None
    translated: bool
    flag: str | None = None


class Section(BaseModel):
    code: str | None
    title: str
    title_translated: bool
    original_title: str | None
    original_narrative: str | None
    entries: list[Entry]


class Document(BaseModel):
    content_type: str
    content: str


class Summary(BaseModel):
    language: str
    source_language: str | None
    format: Literal["CDA", "FHIR"]
    translated: bool
    sections: list[Section]
    document: Document


class RequestStatus(BaseModel):
    request_id: str
    status: Literal["pending", "completed", "denied", "failed"]
    error: ErrorBody | None = None
    summary: Summary | None = None


class CountryView(BaseModel):
    code: str
    name: str
    services: list[str]
