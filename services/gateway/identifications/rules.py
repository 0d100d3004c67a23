"""Patient identification at the gateway, as plain functions: the HP's fields checked against the
country's published search mask, the event, and the API answer from the outcome event."""

from __future__ import annotations

from passerelle.countries import Country
from passerelle.envelope import new_envelope
from passerelle.service import Service

PRODUCER = Service.GATEWAY
#: Outcome status → API status (the API's words are lower case).
API_STATUS = {"MATCHED": "matched", "NOT_FOUND": "not_found", "SEVERAL": "several",
              "MORE_DETAILS_NEEDED": "more_details_needed", "DENIED": "denied", "FAILED": "failed"}


def mask_problems(fields: dict[str, str], country: Country | None) -> list[tuple[str, str]]:
    """``(error code, field key)`` for each way ``fields`` break the country's search mask; the
    values are never repeated. A country without a mask (unknown) is left to the router to refuse."""
    if country is None or not country.identifiers:
        return []
    problems = [("IDENTIFICATION_FIELD_UNKNOWN", key) for key in fields if country.field(key) is None]
    for identifier in country.identifiers:
        value = fields.get(identifier.key)
        if value is None:
            if identifier.required:
                problems.append(("IDENTIFICATION_FIELD_MISSING", identifier.key))
        elif not identifier.accepts(value):
            problems.append(("IDENTIFICATION_FIELD_INVALID", identifier.key))
    return problems


def given(fields: dict[str, str]) -> dict[str, str]:
    """The fields the HP filled: surrounding blanks dropped, empty ones left out."""
    return {key: value.strip() for key, value in fields.items() if value.strip()}


def identification_requested(country_code: str, fields: dict[str, str], country: Country | None, hp: dict,
                             origin: str | None) -> dict:
    """The event; ``patient.patient_id`` is the mask's first field as entered (for the audit trail)."""
    main_key = country.identifiers[0].key if country is not None and country.identifiers else "patient_id"
    return {"envelope": new_envelope(PRODUCER), "hp": hp,
            "patient": {"country": country_code.upper(), "patient_id": fields.get(main_key, "")},
            "search_fields": fields, "request_origin": origin}


def identification_view(identification_id: str, outcome: dict | None, country: Country | None) -> dict:
    """The API answer: pending, or the outcome with the fields to add named and labelled in French."""
    if outcome is None:
        return {"identification_id": identification_id, "status": "pending", "patient": None, "fields": [],
                "error": None}
    labelled = [{"key": key, "label": field.label if (field := country and country.field(key)) else key}
                for key in outcome["fields"]]
    return {"identification_id": identification_id, "status": API_STATUS[outcome["status"]],
            "patient": outcome["mapped_patient"] if outcome["status"] == "MATCHED" else None,
            "fields": labelled, "error": outcome["error"]}
