"""The Patient Summary's request and response bodies (pydantic at the edge; events stay Avro)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.gateway.bodies import REQUEST_BODY, ErrorBody


class ConsentConfirmation(BaseModel):
    model_config = REQUEST_BODY
    confirmed: bool = Field(description="The patient consents to this access.")
    information_notice_given: bool = Field(description="The patient received the information notice.")


class PatientSummaryRequest(BaseModel):
    model_config = REQUEST_BODY
    country: str = Field(pattern=r"^[A-Za-z]{2}$", description="Country of affiliation, ISO 3166-1 alpha-2.")
    patient_id: str = Field(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$",
                            description="The patient's identifier in that country.")
    consent: ConsentConfirmation
    purpose: Literal["TREATMENT", "EMERGENCY"] = "TREATMENT"


class Accepted(BaseModel):
    request_id: str


class Coding(BaseModel):
    system: str
    code: str


class Entry(BaseModel):
    display: str | None = Field(description="French label where translated, else the pivot label.")
    original: str | None = Field(description="The text as country A sent it.")
    code: Coding | None
    translated: bool
    flag: str | None = Field(None, description="Why not translated: NULL_FLAVOR, UNKNOWN_CODE, "
                                               "UNKNOWN_CODE_SYSTEM, NO_CODE_SYSTEM; or, when translated, whose "
                                               "French it is: CURATED_LABEL (written by Passerelle), DERIVED_LABEL "
                                               "(derived by rule from the English: French INN, scientific names).")
    explanation: str | None = Field(None, description="Plain-French explanation of a 'no known allergies'-type "
                                                      "code or a null flavour.")
    row: int = Field(0, description="Index of the clinical statement: entries of one row form one table line.")
    role: str | None = Field(None, description="What the element is in its statement (code, value, formCode...).")


class StatementField(BaseModel):
    name: str = Field(description="substance, form, route, dosage, agent, reaction, severity, onset, vaccine...")
    label: str = Field(description="French label of the field (Substance active, Voie, Réaction...).")
    values: list[Entry] = Field(description="Its values, each with its French display, original text and flag.")


class Statement(BaseModel):
    kind: str = Field(description="MEDICATION, ALLERGY, PROBLEM, VACCINATION, PROCEDURE, DEVICE, OBSERVATION, "
                                  "UNRECOGNISED.")
    row: int = Field(0, description="The row of the statement's coded elements in entries.")
    fields: list[StatementField] = []
    flags: list[str] = Field([], description="UNRECOGNISED_STATEMENT, NO_SUBSTANCE, SUBSTANCE_FROM_CLASS, NO_AGENT.")


class Section(BaseModel):
    code: str | None
    title: str
    title_translated: bool
    original_title: str | None
    original_narrative: str | None
    entries: list[Entry]
    statements: list[Statement] = Field([], description="One row per clinical statement, as a clinician reads it "
                                                        "(structural acts such as concern acts are not rows).")
    flags: list[str] = Field([], description="NO_SECTION_CODE, CODE_FROM_TEMPLATE, UNKNOWN_SECTION, NO_TITLE, EMPTY, "
                                             "UNRECOGNISED_STATEMENTS.")
    required: bool = Field(False, description="The document type requires this section.")


class MissingSection(BaseModel):
    code: str
    title: str


class EmbeddedDocument(BaseModel):
    media_type: str
    section_code: str | None = None
    size: int | None = None


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
    document_type: str | None = Field(None, description="PATIENT_SUMMARY, EPRESCRIPTION or EDISPENSATION.")
    missing_sections: list[MissingSection] = Field([], description="Required sections the document lacks.")
    embedded_documents: list[EmbeddedDocument] = Field([], description="Documents embedded in it (e.g. a PDF).")
    coded_elements: int = 0
    translated_elements: int = 0
    warnings: list[str] = Field([], description="FHIR_INVALID, NON_XML_BODY.")


class RequestStatus(BaseModel):
    request_id: str
    status: Literal["pending", "completed", "denied", "failed"]
    error: ErrorBody | None = None
    summary: Summary | None = None
