"""Translation coverage of documents: coded elements and French labels, per code system."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import json

from lxml import etree

from passerelle.orcd import NotAnOrcd, embedded_original, parse, read_header
from services.translation.catalogue import LOINC, Catalogue
from services.translation.handlers import translate_document
from services.translation.lab import NotALabReport, read_lab_report

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


def is_lab_report(content: bytes) -> bool:
    """A FHIR document Bundle whose Composition is a laboratory report (11502-2): HL7 Europe Laboratory Report."""
    try:
        bundle = json.loads(content)
        return any(c.get("code") == "11502-2" for e in bundle.get("entry", []) if e["resource"]["resourceType"] == "Composition"
                   for c in e["resource"].get("type", {}).get("coding", []))
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def lab_coverage(path: Path, content: bytes, catalogue: Catalogue) -> list[CoverageRow]:
    """A laboratory report (format ``LAB``): tests, coded results, specimens, interpretations per code
    system as ``services/translation/lab.py`` reads them, and the units (``UCUM (units)``: valid UCUM,
    written the French way)."""
    try:
        _, stats = read_lab_report(content, catalogue)
    except (NotALabReport, ValueError) as e:
        return [CoverageRow(path, "LAB", f"(not read: {type(e).__name__})", 0, 0)]
    systems = sorted({s for s, _ in stats})
    rows = [CoverageRow(path, "LAB", s, stats[(s, "coded")], stats[(s, "french")]) for s in systems]
    return rows + [CoverageRow(path, "LAB", "(all)", sum(r.coded for r in rows), sum(r.french for r in rows))]


def orcd_coverage(path: Path, root, catalogue: Catalogue) -> list[CoverageRow]:
    """An original clinical document (format ``OrCD``): its document type (LOINC) in French or not."""
    code = read_header(root)["document_type"]
    french = int(catalogue.french(LOINC, code) is not None)
    return [CoverageRow(path, "OrCD", catalogue.names.get(LOINC, LOINC), 1, french),
            CoverageRow(path, "OrCD", "(all)", 1, french)]


def document_coverage(path: Path, catalogue: Catalogue) -> list[CoverageRow]:
    """One row per code system met in the document (section codes count as LOINC), then the total.
    Laboratory reports and original clinical documents are read by their own readers."""
    fmt = FORMATS[path.suffix]
    content = path.read_bytes()
    if fmt == "FHIR" and is_lab_report(content):
        return lab_coverage(path, content, catalogue)
    if fmt == "CDA" and b"nonXMLBody" in content:
        try:
            root = parse(content)
            if embedded_original(root) is not None:
                return orcd_coverage(path, root, catalogue)
        except (etree.XMLSyntaxError, NotAnOrcd):
            pass
    summary, error = translate_document({"format": fmt, "language": None, "content": content}, catalogue)
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
