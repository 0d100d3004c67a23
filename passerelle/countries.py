"""The registry of MyHealth@EU countries and the services each has joined (data/countries.yaml)."""

from __future__ import annotations

from pathlib import Path

import re

import yaml
from pydantic import BaseModel, Field, field_validator

PATIENT_SUMMARY = "patient-summary"
ORIGINAL_DOCUMENTS = "original-documents"
#: Structured laboratory results in French (HL7 Europe Laboratory Report), asked for through the
#: original-documents request with this service in its query (docs/adr/0190-laboratory-results.md).
LABORATORY_RESULTS = "laboratory-results"
#: The services asked for through an original-documents request (``DocumentQuery.service``).
DOCUMENT_SERVICES = (ORIGINAL_DOCUMENTS, LABORATORY_RESULTS)


class PatientIdentifier(BaseModel):
    """One field of the patient search mask a country publishes (the portal builds its form from it)."""
    #: How the field is named in an identification request (``fields``) and in country A's answer
    #: (the fields that would tell several patients apart, or that country A needs).
    key: str = Field("patient_id", pattern=r"^[a-z][a-z0-9_]{0,31}$")
    label: str  # in French, for the HP
    format: str = Field(description="Regular expression the whole value must match.")
    required: bool = True
    hint: str | None = None  # in French
    example: str | None = None

    @field_validator("format")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value)
        return value

    def accepts(self, value: str) -> bool:
        return re.fullmatch(self.format, value) is not None


class Country(BaseModel):
    code: str = Field(pattern=r"^[A-Z]{2}$")
    name: str  # in French, for the HP
    services: list[str] = Field(default_factory=list)
    #: per service, the document types (LOINC codes) the country serves for it; a service without
    #: an entry serves every type of its own
    document_types: dict[str, list[str]] = Field(default_factory=dict)
    allow_emergency: bool = False
    #: The patient search mask; the first identifier is the one requests carry (``patient_id``).
    identifiers: list[PatientIdentifier] = Field(default_factory=list)

    def offers(self, service: str) -> bool:
        return service in self.services

    def offers_document_type(self, service: str, document_type: str) -> bool:
        """The country has joined ``service`` for documents of this type."""
        return self.offers(service) and document_type in self.document_types.get(service, [document_type])

    def field(self, key: str) -> PatientIdentifier | None:
        """The search mask's field named ``key``."""
        return next((i for i in self.identifiers if i.key == key), None)


class CountryRegistry(BaseModel):
    countries: list[Country]

    @classmethod
    def load(cls, path: Path) -> "CountryRegistry":
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))

    def get(self, code: str) -> Country | None:
        return next((c for c in self.countries if c.code == code.upper()), None)

    def connected_codes(self) -> list[str]:
        return [c.code for c in self.countries if c.services]
