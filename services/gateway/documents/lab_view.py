"""The API view of a structured laboratory report (``fr.passerelle.lab.LabReport``): French beside
what was sent, each result's severity and flags named in French for the professional."""

from __future__ import annotations

SEVERITY_FR = {"critical": "critique", "high": "élevé", "low": "bas", "abnormal": "anormal", "normal": "normal"}
FLAGS_FR = {
    "CODE_NOT_TRANSLATED": "examen sans libellé français : libellé d'origine",
    "UNIT_NOT_UCUM": "unité non reconnue (hors UCUM) : telle que transmise",
    "NO_REFERENCE_RANGE": "pas de valeurs de référence transmises",
    "VALUE_NOT_TRANSLATED": "résultat codé sans libellé français : libellé d'origine",
    "VALUE_AS_SENT": "résultat d'un type non pris en charge : tel que transmis",
    "NO_VALUE": "aucun résultat transmis",
}


def term_view(t: dict | None) -> dict | None:
    if t is None:
        return None
    return {"code": t["code"], "system": t["system"], "original": t["original"],
            "display": t["french"] or t["original"] or t["code"], "translated": t["french"] is not None,
            "label": t.get("label")}


def quantity_view(q: dict | None) -> dict | None:
    if q is None:
        return None
    return {"value": q["value"], "comparator": q["comparator"], "unit": q["unit_display"],
            "unit_original": q["unit_original"], "unit_ucum": q["ucum"],
            "unit_label": q.get("unit_label")}


def result_view(r: dict) -> dict:
    return {"id": r["id"], "status": r["status"], "test": term_view(r["test"]), "value_kind": r["value_kind"],
            "value_quantity": quantity_view(r["value_quantity"]), "value_term": term_view(r["value_term"]),
            "value_text": r["value_text"],
            "reference_ranges": [{"low": quantity_view(x["low"]), "high": quantity_view(x["high"]), "text": x["text"],
                                  "type": x["type"]} for x in r["reference_ranges"]],
            "interpretation": [{**term_view(i["term"]), "severity": i["severity"]} for i in r["interpretation"]],
            "severity": r["severity"], "severity_label": SEVERITY_FR.get(r["severity"] or ""),
            "effective": r["effective"], "issued": r["issued"], "specimen": term_view(r["specimen"]),
            "members": r["members"], "note": r["note"],
            "flags": [{"code": f, "label": FLAGS_FR.get(f, f)} for f in r["flags"]]}


def lab_view(report: dict | None) -> dict | None:
    if report is None:
        return None
    return {"status": report["status"], "issued": report["issued"], "effective": report["effective"],
            "laboratory": report["laboratory"], "results": [result_view(r) for r in report["results"]]}
