"""Translation coverage of documents: coded elements and French labels, per code system."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from services.translation.catalogue import LOINC, Catalogue
from services.translation.handlers import translate_document

FORMATS = {".xml": "CDA", ".json": "FHIR"}


@dataclass(frozen=True)
class CoverageRow:
    path: Path | None  # None: several documents added up
    format: str
    system: str  # the code system's name, or "(all)" for the document's total
    coded: int
    french: int
    #: coded entries (section titles and null flavours aside) whose code belongs to an eHDSI value set,
    #: under any identifier of its code system, and how many of those are shown in French
    ehdsi: int = 0
    ehdsi_french: int = 0


def document_paths(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        candidates = sorted(path.rglob("*")) if path.is_dir() else [path]
        found += [p for p in candidates if p.suffix in FORMATS and p.name != "patient.json"
                  and p.name != "country.json"]
    return found


def document_coverage(path: Path, catalogue: Catalogue) -> list[CoverageRow]:
    """One row per code system met in the document (section codes count as LOINC), then the total."""
    fmt = FORMATS[path.suffix]
    summary, error = translate_document({"format": fmt, "language": None, "content": path.read_bytes()}, catalogue)
    if error is not None:
        return [CoverageRow(path, fmt, f"(not translated: {error['code']})", 0, 0)]
    coded, french, ehdsi, ehdsi_french = Counter(), Counter(), Counter(), Counter()
    for section in summary["sections"]:
        if section["code"]:
            coded[LOINC] += 1
            french[LOINC] += section["title_translated"]
        for entry in section["entries"]:
            system = catalogue.oid(entry["code"]["system"]) or "(no code system)"
            coded[system] += 1
            french[system] += entry["translated"]
            if entry["flag"] != "NULL_FLAVOR" and catalogue.value_sets_of(system, entry["code"]["code"]):
                ehdsi[system] += 1
                ehdsi_french[system] += entry["translated"]
    rows = [CoverageRow(path, fmt, catalogue.names.get(s, s), coded[s], french[s], ehdsi[s], ehdsi_french[s])
            for s in sorted(coded, key=lambda s: catalogue.names.get(s, s))]
    return rows + [CoverageRow(path, fmt, "(all)", sum(coded.values()), sum(french.values()),
                               sum(ehdsi.values()), sum(ehdsi_french.values()))]


def documents_coverage(paths: list[Path], catalogue: Catalogue) -> list[CoverageRow]:
    return [row for path in paths for row in document_coverage(path, catalogue)]


def by_code_system(rows: list[CoverageRow]) -> list[CoverageRow]:
    """The rows of many documents added up per code system and format."""
    totals: dict[tuple[str, str], list[int]] = {}
    for row in rows:
        total = totals.setdefault((row.format, row.system), [0, 0, 0, 0])
        for i, value in enumerate((row.coded, row.french, row.ehdsi, row.ehdsi_french)):
            total[i] += value
    return [CoverageRow(None, fmt, system, *totals[(fmt, system)])
            for fmt, system in sorted(totals, key=lambda k: (k[0], k[1] == "(all)", k[1]))]
