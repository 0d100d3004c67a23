"""The registry of MyHealth@EU countries and the services each has joined (data/countries.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field

PATIENT_SUMMARY = "patient-summary"


class Country(BaseModel):
    code: str = Field(pattern=r"^[A-Z]{2}$")
    name: str  # in French, for the HP
    services: list[str] = Field(default_factory=list)
    allow_emergency: bool = False

    def offers(self, service: str) -> bool:
        return service in self.services


class CountryRegistry(BaseModel):
    countries: list[Country]

    @classmethod
    def load(cls, path: Path) -> "CountryRegistry":
        return cls.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))

    def get(self, code: str) -> Country | None:
        return next((c for c in self.countries if c.code == code.upper()), None)

    def connected_codes(self) -> list[str]:
        return [c.code for c in self.countries if c.services]
