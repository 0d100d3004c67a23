"""Country A's side of the original-documents and laboratory-results services: the patient's
documents of the type and period asked for — for original documents, the OrCDs of
``DIR/<CC>/<patient>/orcd/*.xml`` (each file one eHDSI OrCD, sent as it is); for laboratory results,
the structured reports of ``DIR/<CC>/<patient>/lab/*.json`` (HL7 Europe Laboratory Report, FHIR)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from lxml import etree

from passerelle.countries import LABORATORY_RESULTS
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import ORCD_RETRIEVED, request_key
from passerelle.orcd import LABORATORY_REPORT, NotAnOrcd, parse, period_valid, read_header, within
from passerelle.processor import Emit
from passerelle.service import Service
from passerelle.topics import Topics
from services.foreign_ncp.directory import CountryFolder, patient_refusal

PRODUCER = Service.FOREIGN_NCP
#: Country A answers at most this many documents per query (the newest first).
MAX_DOCUMENTS = 20


@lru_cache(maxsize=256)
def stored_header(path: Path) -> dict | None:
    """The header of a stored OrCD (read once); None when the file is not one (country A would
    still send it: the translation service says what is wrong with it)."""
    try:
        return read_header(parse(path.read_bytes()))
    except (etree.XMLSyntaxError, NotAnOrcd):
        return None


@lru_cache(maxsize=256)
def structured_header(path: Path) -> dict | None:
    """The type and dates of a stored FHIR laboratory report (its DiagnosticReport), read once."""
    try:
        bundle = json.loads(path.read_bytes())
        report = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    except (ValueError, KeyError, TypeError, StopIteration):
        return None
    day = report.get("effectiveDateTime") or report.get("issued")
    return {"document_type": LABORATORY_REPORT, "service_end": day[:10] if day else None, "service_start": None,
            "created_at": day}


def matching(paths: list[Path], query: dict) -> list[Path]:
    """The stored documents of the query's type within its period, newest first."""
    found = []
    for path in paths:
        header = structured_header(path) if path.suffix == ".json" else stored_header(path)
        if header is None or (header["document_type"] == query["document_type"]
                              and within(header, query["period_start"], query["period_end"])):
            found.append((header and (header["service_end"] or header["created_at"]) or "", path))
    return [path for _, path in sorted(found, key=lambda f: f[0], reverse=True)][:MAX_DOCUMENTS]


def answer_orcd_query(query: dict, country: CountryFolder | None, refusal: str | None, topics: Topics) -> Emit:
    """The patient's OrCDs of that type and period, or the error country A sends."""
    asked = query["query"]
    if refusal is None and not period_valid(asked["period_start"], asked["period_end"]):
        refusal = "PERIOD_INVALID"  # the gateway checks it; another writer may not have
    patient = None
    if refusal is None:
        refusal, patient = patient_refusal(country, query["patient"]["patient_id"])
    err = error(refusal) if refusal else None
    structured = asked.get("service") == LABORATORY_RESULTS
    stored = (patient.lab_reports if structured else patient.original_documents) if patient else []
    documents = [{"content": p.read_bytes()} for p in matching(stored, asked)]
    retrieved = {"envelope": caused_by(query, PRODUCER), "hp": query["hp"], "patient": query["patient"],
                 "purpose": query["purpose"], "query": query["query"], "error": err, "documents": documents}
    return Emit(topics.orcd_retrieved, ORCD_RETRIEVED, retrieved, request_key(query))
