"""A structured laboratory report (HL7 Europe Laboratory Report, FHIR) as one document of an
original-documents listing: its header (as for an OrCD) and its results in French (``lab.py``),
in the shape of ``fr.passerelle.lab.LabReport``. The original is the FHIR document itself, served
as ``application/fhir+json``."""

from __future__ import annotations

import json

from services.translation.catalogue import Catalogue
from services.translation.lab import read_lab_report

FHIR_JSON = "application/fhir+json"


def _term(t: dict | None) -> dict | None:
    return None if t is None else {k: t.get(k) for k in ("system", "code", "original", "french", "label")}


def _quantity(q: dict | None) -> dict | None:
    if q is None:
        return None
    value = q.get("value")
    return {"value": float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None,
            "comparator": q.get("comparator"), "unit_code": q["unit"]["code"], "unit_original": q["unit"]["original"],
            "unit_display": q["unit"]["display"], "ucum": q["unit"]["ucum"],
            "unit_label": q["unit"]["label"]}


def _result(r: dict) -> dict:
    value = r["value"] or {"kind": "none"}
    return {"id": r["id"], "status": r["status"], "test": _term(r["test"]), "value_kind": value["kind"],
            "value_quantity": _quantity(value) if value["kind"] == "quantity" else None,
            "value_term": _term(value.get("term")), "value_text": value.get("text"),
            "reference_ranges": [{"low": _quantity(x["low"]), "high": _quantity(x["high"]), "text": x["text"],
                                  "type": x["type"]} for x in r["reference_ranges"]],
            "interpretation": [{"term": _term(i), "severity": i["severity"]} for i in r["interpretation"]],
            "severity": r["severity"], "effective": r["effective"], "issued": r["issued"],
            "specimen": _term((r["specimen"] or {}).get("type")), "members": [m for m in r["members"] if m],
            "note": r["note"], "flags": r["flags"]}


def _country(resources: list[dict]) -> str | None:
    for r in resources:
        if r.get("resourceType") == "Organization":
            for address in r.get("address", []):
                if address.get("country"):
                    return address["country"]
    return None


def patient_ids(resources: list[dict]) -> list[str]:
    """The identifiers of the report's patient (the Patient resources' ``identifier`` values)."""
    return [i["value"] for r in resources if r.get("resourceType") == "Patient"
            for i in r.get("identifier", []) if isinstance(i, dict) and isinstance(i.get("value"), str)]


def read_lab_document(content: bytes, catalogue: Catalogue) -> dict:
    """The header fields of an OriginalDocument and its ``laboratory`` record."""
    report, _ = read_lab_report(content, catalogue)
    bundle = json.loads(content)
    resources = [e.get("resource") or {} for e in bundle.get("entry", [])]
    composition = next((r for r in resources if r.get("resourceType") == "Composition"), {})
    diagnostic = next((r for r in resources if r.get("resourceType") == "DiagnosticReport"), {})
    identifier = bundle.get("identifier") or {}
    code = report["code"] or {}
    return {"document_id": identifier.get("value") or bundle.get("id") or diagnostic.get("id") or "",
            "document_type": code.get("code") or "11502-2", "document_type_original": code.get("original"),
            "document_type_french": code.get("french"), "title": composition.get("title"),
            "created_at": bundle.get("timestamp") or composition.get("date"),
            "service_start": None, "service_end": report["effective"] or report["issued"],
            "author": ", ".join(p for p in report["performers"] if p != report["laboratory"]) or None,
            "organisation": report["laboratory"],
            "country": _country(resources), "language": report["language"] or composition.get("language"),
            "patient_ids": patient_ids(resources),
            "laboratory": {"status": report["status"], "issued": report["issued"], "effective": report["effective"],
                           "laboratory": report["laboratory"], "results": [_result(r) for r in report["results"]]}}
