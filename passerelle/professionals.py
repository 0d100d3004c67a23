"""Who may act as a French health professional (HP): the rules on an identity, as plain functions.

The gateway applies them to every token it accepts (an HP who fails them is refused at once, with a
stable code); the consent service applies them again to every request it decides (defence in depth:
a request event that did not come through the gateway is still judged on every rule).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field

#: An HP's identity assertion may not be older than this (MyHealth@EU: 4 hours).
MAX_ASSERTION_AGE_SECONDS = 4 * 3600
#: Authentication methods that are two-factor (CPS smart card, e-CPS mobile app; PSC_EIDAS1: Pro Santé
#: Connect vouched for eIDAS "substantial", reached only with a CPS card or the e-CPS app, without
#: saying which of the two — docs/adr/0070-portal-openid-connect.md).
STRONG_AUTH_METHODS = frozenset({"CPS", "E_CPS", "PSC_EIDAS1"})


class Profession(BaseModel):
    label: str
    services: list[str]
    excluded_specialties: dict[str, str] = Field(default_factory=dict)
    excluded_sectors: dict[str, str] = Field(default_factory=dict)


class DirectoryEntry(BaseModel):
    profession: str
    specialty: str | None = None
    sector: str | None = None


def rpps_is_well_formed(rpps: str) -> bool:
    """11 digits whose last one is the Luhn key of the others (the RPPS number's check)."""
    if len(rpps) != 11 or not rpps.isascii() or not rpps.isdigit():
        return False
    total = 0
    for i, digit in enumerate(int(c) for c in reversed(rpps)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def load_professions(path: Path) -> dict[str, Profession]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["professions"]
    return {str(code): Profession.model_validate(p) for code, p in raw.items()}


def load_directory(path: Path) -> dict[str, DirectoryEntry]:
    """The RPPS directory; an ill-formed number in it is a configuration error, refused at start."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["professionals"]
    directory = {str(rpps): DirectoryEntry.model_validate(e) for rpps, e in raw.items()}
    bad = [rpps for rpps in directory if not rpps_is_well_formed(rpps)]
    if bad:
        raise ValueError(f"{len(bad)} ill-formed RPPS number(s) in {path}")
    return directory


def identity_refusal(hp: dict, directory: dict[str, DirectoryEntry], professions: dict[str, Profession],
                     now_ms: int) -> str | None:
    """The stable code of the first identity rule ``hp`` (a HealthProfessional record) breaks, or None."""
    rpps = hp["rpps"]
    if not rpps_is_well_formed(rpps):
        return "RPPS_INVALID"
    entry = directory.get(rpps)
    if entry is None:
        return "RPPS_UNKNOWN"
    profession = professions.get(hp["profession"])
    if profession is None:
        return "PROFESSION_NOT_ELIGIBLE"
    if entry.profession != hp["profession"]:
        return "PROFESSION_MISMATCH"
    if entry.specialty in profession.excluded_specialties or entry.sector in profession.excluded_sectors:
        return "PROFESSION_ACTIVITY_EXCLUDED"
    if not hp["organisation"].strip():
        return "ORGANISATION_MISSING"
    if hp["auth_method"] not in STRONG_AUTH_METHODS:
        return "STRONG_AUTHENTICATION_REQUIRED"
    if now_ms - _ms(hp["assertion_issued_at"]) > MAX_ASSERTION_AGE_SECONDS * 1000:
        return "ASSERTION_EXPIRED"
    return None


def service_refusal(hp: dict, professions: dict[str, Profession], service: str) -> str | None:
    """Whether the HP's profession may use ``service`` (data/professions.yaml)."""
    profession = professions.get(hp["profession"])
    return None if profession is not None and service in profession.services else "SERVICE_NOT_ALLOWED_FOR_PROFESSION"


def _ms(value) -> int:
    return value if isinstance(value, int) else int(value.timestamp() * 1000)
