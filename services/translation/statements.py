"""Clinical statements as a clinician reads them (issue 17, item 8): format-neutral builders.

A *statement* is one row of a section: ``{"kind", "row", "fields", "flags"}``; each field
``{"name", "label", "values"}`` holds values shaped like the display model's entries (French text in
``display``, the text as sent in ``original``, the code, ``translated``, ``flag``). The CDA and FHIR
readers (``cda_statements``, ``fhir_statements``) find the values; this module names and labels them.
"""

from __future__ import annotations

import re

from services.translation.catalogue import Catalogue

MEDICATION, ALLERGY, PROBLEM = "MEDICATION", "ALLERGY", "PROBLEM"
VACCINATION, PROCEDURE, DEVICE = "VACCINATION", "PROCEDURE", "DEVICE"
OBSERVATION, UNRECOGNISED = "OBSERVATION", "UNRECOGNISED"
#: Section LOINC code → what its statements are.
SECTION_KINDS = {"48765-2": ALLERGY, "10160-0": MEDICATION, "57828-6": MEDICATION, "60590-7": MEDICATION,
                 "11450-4": PROBLEM, "11348-0": PROBLEM, "11369-6": VACCINATION, "47519-4": PROCEDURE,
                 "46264-8": DEVICE}
#: Field name → French label (what the portal and API consumers show beside the value).
LABELS = {
    "product": "Produit", "substance": "Substance active", "form": "Forme", "route": "Voie",
    "dosage": "Posologie", "period": "Période", "status": "Statut", "agent": "Agent", "category": "Type",
    "reaction": "Réaction", "severity": "Sévérité", "criticality": "Criticité", "onset": "Début",
    "end": "Fin", "condition": "Affection", "vaccine": "Vaccin", "target_disease": "Maladie ciblée",
    "date": "Date", "dose_number": "Numéro de dose", "procedure": "Acte", "device": "Dispositif",
    "code": "Observation", "value": "Valeur", "verification": "Vérification", "quantity": "Quantité",
    "instructions": "Instructions (non traduites)", "product_class": "Substance (classe ATC du produit)",
}
ACT_STATUS = "2.16.840.1.113883.5.14"
#: A date as HL7 (``YYYYMMDD…``) or ISO (dashes removed) writes it: year, then month and day if given.
_DATE = re.compile(r"(\d{4})(\d{2})?(\d{2})?")


def text_value(display: str | None, original: str | None = None, flag: str | None = None) -> dict:
    """A value that is no code: a date, a quantity, a dosage written in French from structured data."""
    return {"display": display, "original": original, "code": None, "translated": False, "flag": flag,
            "explanation": None, "row": 0, "role": None}


def french_date(value: str | None) -> dict | None:
    """An HL7 timestamp (``20210312…``) or an ISO date/date-time as ``12/03/2021`` (or ``03/2021``,
    ``2021`` when that is all that was sent), keeping the value as sent."""
    if not value:
        return None
    found = _DATE.match(value.replace("-", ""))
    if not found:
        return text_value(value, value, "UNREADABLE_DATE")
    return text_value("/".join(p for p in reversed(found.groups()) if p), value)


def act_status(catalogue: Catalogue, code: str | None) -> dict | None:
    """A CDA ``statusCode`` (HL7 ActStatus) in French when the catalogue knows it."""
    if not code:
        return None
    french = catalogue.french(ACT_STATUS, code)
    return {**text_value(french or code, None, None if french else "UNKNOWN_CODE"),
            "code": {"system": ACT_STATUS, "code": code}, "translated": french is not None}


def statement(kind: str, row: int, fields: list[tuple[str, list[dict | None]]],
              flags: list[str] | None = None) -> dict:
    """A statement from ``(field name, values)`` pairs: empty values and fields are left out; a
    statement with no value at all is flagged ``UNRECOGNISED_STATEMENT``."""
    kept = [{"name": name, "label": LABELS.get(name, name),
             "values": [dict(v, row=row, display=v["display"] or v["original"]) for v in values
                        if v and (v["display"] or v["original"])]}
            for name, values in fields]
    kept = [f for f in kept if f["values"]]
    flags = list(flags or [])
    if not kept and "UNRECOGNISED_STATEMENT" not in flags:
        flags.append("UNRECOGNISED_STATEMENT")
    return {"kind": kind if kept else UNRECOGNISED, "row": row, "fields": kept, "flags": flags}
