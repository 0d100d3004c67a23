"""Country A's patient identification (XCPD-like patient discovery), from the simulator's directory.

The fields are the search mask's keys: ``patient_id`` (any identifier country A files the patient
under) and ``birth_date`` (YYYY-MM-DD). The answer, in this order:

* the country is unreachable → FAILED;
* a key country A requires (``country.json`` ``identification_requires``) or the identifier itself is
  missing → MORE_DETAILS_NEEDED naming the keys, before any search (so the answer tells nothing of
  whether the identifier exists);
* no patient matches every given field → NOT_FOUND;
* several do → SEVERAL, naming the keys whose values differ between them (never the values);
* one does → MATCHED, with the patient's own identifier in country A.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from passerelle.errors import error
from services.foreign_ncp.directory import CountryFolder, PatientFolder

#: Demographics the simulator holds besides identifiers, by search-mask key.
DEMOGRAPHICS = {"birth_date": lambda p: p.birth_date}


@dataclass(frozen=True)
class IdentificationAnswer:
    status: str
    error: dict | None = None
    fields: list[str] = field(default_factory=list)
    patient_id: str | None = None  # MATCHED only


def _matches(patient: PatientFolder, fields: dict[str, str]) -> bool:
    if fields["patient_id"] not in patient.identifiers:
        return False
    return all(read(patient) == fields[key] for key, read in DEMOGRAPHICS.items() if key in fields)


def distinguishing_keys(candidates: list[PatientFolder], given: dict[str, str]) -> list[str]:
    """The keys not given whose values differ between the candidates."""
    return [key for key, read in DEMOGRAPHICS.items()
            if key not in given and len({read(c) for c in candidates}) > 1]


def identify(fields: dict[str, str], country: CountryFolder | None) -> IdentificationAnswer:
    if country is None or not country.available:
        return IdentificationAnswer("FAILED", error("COUNTRY_UNREACHABLE"))
    missing = [k for k in ["patient_id", *country.identification_requires] if not fields.get(k)]
    if missing:
        return IdentificationAnswer("MORE_DETAILS_NEEDED", error("MORE_DEMOGRAPHICS_NEEDED"), list(dict.fromkeys(missing)))
    candidates = [p for p in country.records if _matches(p, fields)]
    if not candidates:
        return IdentificationAnswer("NOT_FOUND", error("PATIENT_NOT_FOUND"))
    if len(candidates) > 1:
        return IdentificationAnswer("SEVERAL", error("SEVERAL_PATIENTS_FOUND"), distinguishing_keys(candidates, fields))
    return IdentificationAnswer("MATCHED", patient_id=candidates[0].record_id)
