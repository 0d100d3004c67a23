"""The display model the API returns (matches ``fr.passerelle.ps.TranslatedSummary``)."""

from __future__ import annotations

import re

from services.translation.catalogue import LOINC, NULL_FLAVOR, Catalogue

_SPACES = re.compile(r"\s+")


def clean_text(text: str | None) -> str | None:
    text = _SPACES.sub(" ", text or "").strip()
    return text or None


def section(catalogue: Catalogue, code: str | None, original_title: str | None,
            narrative: str | None, entries: list[dict]) -> dict:
    french = catalogue.french(LOINC, code) if code else None
    return {"code": code, "title": french or original_title or code or "Section sans titre",
            "title_translated": french is not None, "original_title": original_title,
            "original_narrative": narrative, "entries": entries}


def coded_entry(catalogue: Catalogue, system: str, code: str, pivot_label: str | None,
                original: str | None) -> dict:
    french = catalogue.french(system, code)
    flag = None if french else ("UNKNOWN_CODE" if catalogue.knows_system(system) else "UNKNOWN_CODE_SYSTEM")
    return {"display": french or pivot_label, "original": original or pivot_label,
            "code": {"system": system, "code": code}, "translated": french is not None, "flag": flag}


def null_flavor_entry(catalogue: Catalogue, null_flavor: str, original: str | None) -> dict:
    """A coded element country A left empty on purpose (UNK, NA, ASKU...): explained in French."""
    return {"display": catalogue.french(NULL_FLAVOR, null_flavor) or null_flavor, "original": original,
            "code": {"system": NULL_FLAVOR, "code": null_flavor}, "translated": False, "flag": "NULL_FLAVOR"}
