"""The display model the API returns (matches ``fr.passerelle.ps.TranslatedSummary``), format-neutral.

CDA and FHIR readers build it with these functions: sections with French titles, one entry per
coded element (grouped into rows, one row per clinical statement), the original text beside each
French label, flags for what could not be translated, and plain-French explanations of
"no known allergies"-type codes and null flavours.
"""

from __future__ import annotations

from services.translation.catalogue import CURATED, DERIVED, LOINC, NULL_FLAVOR, Catalogue

#: A translated element whose French the project wrote (curated) or derived by rule (French INN from
#: the English ATC name) says so: it is not an official translation (ADR 121).
LABEL_FLAGS = {CURATED: "CURATED_LABEL", DERIVED: "DERIVED_LABEL"}
UNTITLED = "Section sans titre"


def clean_text(text: str | None) -> str | None:
    """Whitespace runs (Unicode's, as ``\\s`` matches them) as one space, ends trimmed; None when empty."""
    return " ".join((text or "").split()) or None


def section(catalogue: Catalogue, code: str | None, original_title: str | None, narrative: str | None,
            entries: list[dict], statements: int, flags: list[str] | None = None,
            rows: list[dict] | None = None) -> dict:
    """One section holding ``statements`` clinical statements (CDA entries, FHIR references) whose
    coded elements are ``entries`` and whose readable rows are ``rows`` (``statements.statement``);
    ``flags`` already holds what the reader noticed."""
    flags = list(flags or [])
    rows = rows or []
    if any(r["kind"] == "UNRECOGNISED" for r in rows):
        flags.append("UNRECOGNISED_STATEMENTS")
    french = catalogue.french(LOINC, code) if code else None
    if code is None:
        flags.append("NO_SECTION_CODE")
    elif french is None:
        flags.append("UNKNOWN_SECTION")
    if original_title is None:
        flags.append("NO_TITLE")
    if not statements:
        flags.append("EMPTY")
    return {"code": code, "title": french or original_title or code or UNTITLED,
            "title_translated": french is not None, "original_title": original_title,
            "original_narrative": narrative, "entries": entries, "statements": rows, "flags": flags,
            "required": False}


def coded_entry(catalogue: Catalogue, system: str | None, code: str, pivot_label: str | None,
                original: str | None, row: int = 0, role: str | None = None) -> dict:
    concept = catalogue.concept(system, code) if system else None
    if concept is not None:
        flag = LABEL_FLAGS.get(concept.kind)
    elif not system:
        flag = "NO_CODE_SYSTEM"
    else:
        flag = "UNKNOWN_CODE" if catalogue.knows_system(system) else "UNKNOWN_CODE_SYSTEM"
    return {"display": concept.fr if concept else pivot_label, "original": original or pivot_label,
            "code": {"system": system or "", "code": code}, "translated": concept is not None, "flag": flag,
            "explanation": concept.explanation if concept else None, "row": row, "role": role}


def null_flavor_entry(catalogue: Catalogue, null_flavor: str, original: str | None, row: int = 0,
                      role: str | None = None) -> dict:
    """A coded element country A left empty on purpose (UNK, NA, ASKU...): explained in French."""
    concept = catalogue.concept(NULL_FLAVOR, null_flavor)
    return {"display": concept.fr if concept else null_flavor, "original": original,
            "code": {"system": NULL_FLAVOR, "code": null_flavor}, "translated": False, "flag": "NULL_FLAVOR",
            "explanation": concept.explanation if concept else None, "row": row, "role": role}


def summary_model(catalogue: Catalogue, document_code: str | None, source_language: str | None,
                  sections: list[dict], fhir: bool = False, embedded: list[dict] | None = None,
                  warnings: list[str] | None = None) -> dict:
    """The whole display model: marks required sections, lists the missing ones, counts coverage."""
    kind = catalogue.documents.get(document_code or "", {})
    required = kind.get("required_fhir" if fhir else "required", []) if kind else []
    present = {s["code"] for s in sections}
    for s in sections:
        s["required"] = s["code"] in required
    missing = [{"code": code, "title": catalogue.french(LOINC, code) or code}
               for code in required if code not in present]
    entries = [e for s in sections for e in s["entries"]]
    return {"source_language": source_language, "document_type": kind.get("type"), "sections": sections,
            "missing_sections": missing, "embedded_documents": embedded or [], "warnings": warnings or [],
            "coded_elements": len(entries), "translated_elements": sum(1 for e in entries if e["translated"])}
