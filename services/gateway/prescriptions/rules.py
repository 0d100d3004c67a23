"""The prescriptions' rules as plain functions: the listing and the dispensations as the API shows
them (in French), and the events the API's calls become."""

from __future__ import annotations

from passerelle.envelope import new_envelope
from passerelle.service import Service

PRODUCER = Service.GATEWAY


#: Shown in place of the substances of an item whose document names none that can be read.
NO_SUBSTANCE = ("Aucune substance active lisible dans ce document : vérifiez le produit auprès du patient "
                "ou du prescripteur avant toute délivrance.")


def _term(t: dict | None) -> dict | None:
    if t is None:
        return None
    return {"code": t["code"], "system": t["system"], "original": t["original"], "display": t["french"] or t["original"],
            "translated": t["french"] is not None}


def _substances(ingredients: list[dict]) -> list[dict]:
    return [{**_term(i["substance"]), "strength": i["strength"]} for i in ingredients]


def _part_view(part: dict) -> dict:
    return {"name": part["name"], "product": _term(part["product"]), "dose_form": _term(part["dose_form"]),
            "strength": part["strength"], "active_ingredients": _substances(part["ingredients"]),
            "package": _term(part["package"]), "package_size": part["package_size"], "quantity": part["quantity"]}


def _item_view(item: dict) -> dict:
    return {"item_id": item["item_id"], "product": _term(item["product"]),
            "product_class": _term(item.get("product_class")), "strength": item.get("strength"),
            "active_ingredients": _substances(item["ingredients"]),
            "substances_missing": NO_SUBSTANCE if not item["ingredients"] else None,
            "dose_form": _term(item["dose_form"]), "parts": [_part_view(p) for p in item.get("parts") or []],
            "route": _term(item["route"]), "package": _term(item["package"]),
            "package_size": item["package_size"], "quantity": item["quantity"], "dosage_instructions": item["dosage"],
            "dosage": item.get("dosage_french"), "instructions": item.get("instructions") or [],
            "substitution": item["substitution"], "substitution_allowed": item["substitution"] != "N",
            "dispensable": item["dispensable"], "valid_until": item.get("valid_until")}


def _prescriber_view(prescriber: dict | None) -> dict | None:
    if prescriber is None:
        return None
    return {**prescriber, "profession": _term(prescriber["profession"])}


def _prescription_view(p: dict) -> dict:
    return {"prescription_id": p["prescription_id"], "language": p["language"],
            "prescriber": _prescriber_view(p.get("prescriber")), "authored_at": p.get("authored_at"),
            "valid_until": p.get("valid_until"), "items": [_item_view(i) for i in p["items"]]}


def list_view(request_id: str, outcome: dict | None) -> dict:
    if outcome is None:
        return {"request_id": request_id, "status": "pending", "error": None, "prescriptions": []}
    return {"request_id": request_id, "status": outcome["status"].lower(), "error": outcome["error"],
            "prescriptions": [_prescription_view(p) for p in outcome["prescriptions"]]}


def dispensation_view(d: dict) -> dict:
    return {k: d[k] for k in ("dispensation_id", "prescription_id", "status", "prescription_status", "lines", "error")}


def prescriptions_requested(hp: dict, country: str, patient_id: str, purpose: str, consent_confirmed: bool,
                            information_notice_given: bool, origin: str | None) -> dict:
    return {"envelope": new_envelope(PRODUCER), "hp": hp, "patient": {"country": country.upper(), "patient_id": patient_id},
            "purpose": purpose, "consent_confirmed": consent_confirmed,
            "information_notice_given": information_notice_given, "request_origin": origin}


def dispensation_requested(hp: dict, body: dict, origin: str | None) -> dict:
    """The command of one dispensation; its id is the correlation id of everything that follows."""
    envelope = new_envelope(PRODUCER)
    return {"envelope": envelope, "hp": hp, "patient": {"country": body["country"].upper(), "patient_id": body["patient_id"]},
            "dispensation_id": envelope["correlation_id"], "prescription_id": body["prescription_id"],
            "lines": body["lines"], "request_origin": origin}


def discard_requested(hp: dict, dispensation: dict, origin: str | None) -> dict:
    return {"envelope": new_envelope(PRODUCER, dispensation["dispensation_id"]), "hp": hp,
            "patient": dispensation["patient"], "dispensation_id": dispensation["dispensation_id"],
            "prescription_id": dispensation["prescription_id"], "request_origin": origin}
