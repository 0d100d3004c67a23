"""Reading an eHDSI ePrescription (CDA R2, LOINC 57833-6) into its items. Pure: bytes in, records out.

Shared by the foreign NCP simulator (country A's checks), the translation service (the list a
pharmacist reads) and the prescription service (the quantities it keeps). The records are the
``fr.passerelle.ep.Prescription`` / ``PrescribedItem`` shapes of ``schemas/``; ``french`` labels are
left empty here (translation fills them).
"""

from __future__ import annotations

from lxml import etree

from passerelle import medication

NS = {"hl7": "urn:hl7-org:v3", "pharm": "urn:hl7-org:pharm"}
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
EPRESCRIPTION_LOINC = "57833-6"
#: Prescription item status codes that let a pharmacist dispense.
DISPENSABLE_STATUS = {"active"}


class NotAnEPrescription(ValueError):
    """The bytes are XML but not an eHDSI ePrescription."""


def _first(el, path: str):
    found = el.xpath(path, namespaces=NS)
    if isinstance(found, str):  # an XPath string() expression
        return found
    return found[0] if found else None


def _text(el, ids: dict[str, str]) -> str | None:
    """A dosage instruction: the narrative it references, else its own text."""
    if el is None:
        return None
    ref = _first(el, "hl7:reference/@value")
    text = ids.get(ref.lstrip("#")) if ref else None
    return (text or "".join(el.itertext())).strip() or None


def _item(sa, ids: dict[str, str]) -> dict:
    material = medication.child(sa, "consumable", "manufacturedProduct", "manufacturedMaterial")
    product = medication.read_product(material)
    dosage = medication.read_dosage(sa)
    quantity = _first(sa, "hl7:entryRelationship/hl7:supply[@moodCode='RQO']/hl7:quantity/@value")
    substitution = _first(sa, "hl7:entryRelationship/hl7:observation[hl7:code/@code='SUBST']/hl7:value/@code")
    patient_text = next((i["text"] for i in dosage["instructions"] if i["kind"] == "patient"), None)
    item_text = _text(_first(sa, "hl7:text"), ids)
    if not dosage["instructions"] and item_text:  # the item's own text is then its only written dosage
        dosage["instructions"] = [{"kind": "prescription", "text": item_text, "language": medication.document_language(sa)}]
    return {
        "item_id": _first(sa, "string(hl7:id/@extension)") or _first(sa, "string(hl7:id/@root)"),
        "product": product["product"],
        "ingredients": product["ingredients"],
        "dose_form": product["dose_form"],
        "route": dosage["route"],
        "package": product["package"],
        "package_size": product["package_size"],
        "quantity": _count(quantity),
        "dosage": patient_text or item_text,
        "substitution": substitution or "N",  # absent: no substitution allowed (the safe reading)
        "dispensable": _first(sa, "string(hl7:statusCode/@code)") in DISPENSABLE_STATUS,
        "product_class": product["product_class"],
        "strength": product["strength"],
        "parts": product["parts"],
        "structured_dosage": structured_dosage(dosage),
        "instructions": dosage["instructions"],
        "dosage_french": None,
        "valid_until": _validity_end(sa),
    }


def _count(value: str | None) -> int:
    try:
        return max(int(float(value)), 0) if value else 0
    except ValueError:
        return 0


def structured_dosage(dosage: dict) -> dict | None:
    """The ``StructuredDosage`` record of a ``read_dosage`` result (route and instructions are kept
    beside it in the item), or None when nothing is structured."""
    dose, frequency, period = dosage["dose"], dosage["frequency"], dosage["period"] or {}
    duration = period.get("duration") or {}
    record = {"dose_low": dose and dose["low"], "dose_high": dose and dose["high"], "dose_unit": dose and dose["unit"],
              "period_value": frequency and frequency["value"], "period_unit": frequency and frequency["unit"],
              "fixed_interval": frequency and frequency["fixed_interval"], "events": dosage["events"],
              "start": period.get("start"), "end": period.get("end"),
              "duration_value": duration.get("value"), "duration_unit": duration.get("unit")}
    return record if any(v for k, v in record.items() if k != "fixed_interval") else None


def dosage_of(item: dict) -> dict:
    """An item's dosage in the shape ``medication.read_dosage`` gives, rebuilt from its record."""
    s = item.get("structured_dosage") or {}
    duration = {"value": s["duration_value"], "unit": s["duration_unit"]} if s.get("duration_value") else None
    period = {"start": s.get("start"), "end": s.get("end"), "duration": duration}
    return {"dose": {"low": s["dose_low"], "high": s["dose_high"], "unit": s["dose_unit"] or "1"} if s.get("dose_low") else None,
            "frequency": {"value": s["period_value"], "unit": s["period_unit"], "fixed_interval": bool(s["fixed_interval"])}
            if s.get("period_value") else None,
            "events": s.get("events") or [], "route": item["route"],
            "period": period if any(period.values()) else None,
            "dose_form": item["dose_form"] if not item.get("parts") else None,
            "instructions": item.get("instructions") or []}


def _validity_end(sa) -> str | None:
    """End of the prescription's validity: the requested supply's effective time (HL7 v3
    SupplyRequest), not the treatment period."""
    high = _first(sa, "hl7:entryRelationship/hl7:supply[@moodCode='RQO']/hl7:effectiveTime/hl7:high")
    return medication.iso_date(high)


def _person(name_el) -> str | None:
    if name_el is None:
        return None
    given = [medication.text(g) for g in name_el.xpath("hl7:given", namespaces=NS)]
    family = [medication.text(f) for f in name_el.xpath("hl7:family", namespaces=NS)]
    return " ".join(p for p in given + family if p) or medication.text(name_el)


def prescriber(author) -> dict | None:
    """Who prescribed: name, profession (the author's function code), country."""
    if author is None:
        return None
    assigned = _first(author, "hl7:assignedAuthor")
    country = _first(assigned, "string(hl7:addr/hl7:country)") or _first(
        assigned, "string(hl7:representedOrganization/hl7:addr/hl7:country)") if assigned is not None else ""
    found = {"name": _person(_first(assigned, "hl7:assignedPerson/hl7:name")) if assigned is not None else None,
             "profession": medication.term(_first(author, "hl7:functionCode")),
             "country": (country or "").strip() or None,
             "organisation": (_first(assigned, "string(hl7:representedOrganization/hl7:name)") or "").strip() or None
             if assigned is not None else None}
    return found if found["name"] or found["profession"]["code"] or found["organisation"] else None


def read_eprescription(content: bytes) -> dict:
    """The ``Prescription`` record of one ePrescription document; raises ``NotAnEPrescription``
    (or lxml's ``XMLSyntaxError``) on anything else."""
    root = etree.fromstring(content, SAFE_PARSER)
    if root.tag != "{urn:hl7-org:v3}ClinicalDocument" or _first(root, "string(hl7:code/@code)") != EPRESCRIPTION_LOINC:
        raise NotAnEPrescription("not an eHDSI ePrescription (LOINC 57833-6)")
    doc_id = _first(root, "hl7:id")
    if doc_id is None:
        raise NotAnEPrescription("the prescription has no id")
    ids = {el.get("ID"): "".join(el.itertext()).strip() for el in root.iter() if el.get("ID")}
    items = [_item(sa, ids) for sa in root.xpath(
        "//hl7:section//hl7:substanceAdministration[@moodCode='INT']", namespaces=NS)]
    language = _first(root, "string(hl7:languageCode/@code)") or None
    author = _first(root, "hl7:author")
    ends = sorted(i["valid_until"] for i in items if i["valid_until"])
    return {"prescription_id": f"{doc_id.get('root')}^{doc_id.get('extension')}" if doc_id.get("extension")
            else doc_id.get("root"), "language": language, "items": items, "prescriber": prescriber(author),
            "authored_at": medication.iso_date(_first(author, "hl7:time") if author is not None else None)
            or medication.iso_date(_first(root, "hl7:effectiveTime")),
            "valid_until": ends[0] if ends else None}


EDISPENSATION_LOINC = "60593-1"


def read_edispensation(content: bytes) -> dict:
    """What an eDispensation says was dispensed: per ``supply`` (moodCode EVN) the product as the
    medication reader reads it, the quantity, the substitution and the prescription item it fulfils.
    Raises ``NotAnEPrescription`` (or lxml's ``XMLSyntaxError``) on anything else."""
    root = etree.fromstring(content, SAFE_PARSER)
    if root.tag != "{urn:hl7-org:v3}ClinicalDocument" or _first(root, "string(hl7:code/@code)") != EDISPENSATION_LOINC:
        raise NotAnEPrescription("not an eHDSI eDispensation (LOINC 60593-1)")
    lines = []
    for supply in root.xpath("//hl7:section//hl7:supply[@moodCode='EVN']", namespaces=NS):
        material = medication.child(supply, "product", "manufacturedProduct", "manufacturedMaterial")
        substitution = _first(supply, "string(hl7:entryRelationship/hl7:observation[hl7:code/@code='SUBST']/hl7:value/@code)")
        lines.append({**medication.read_product(material),
                      "quantity": medication.quantity(_first(supply, "hl7:quantity")),
                      "substitution": substitution or None,
                      "prescription_item_id": _first(supply, "string(hl7:entryRelationship/hl7:substanceAdministration"
                                                             "/hl7:id/@extension)") or None})
    return {"prescription_id": _first(root, "string(hl7:relatedDocument/hl7:parentDocument/hl7:id/@extension)") or None,
            "language": _first(root, "string(hl7:languageCode/@code)") or None, "lines": lines}


def patient_ids(content: bytes) -> list[str]:
    root = etree.fromstring(content, SAFE_PARSER)
    return root.xpath("hl7:recordTarget/hl7:patientRole/hl7:id/@extension", namespaces=NS)


#: Substitution a prescription's code allows (HL7 v3 ActSubstanceAdminSubstitutionCode): a generic
#: for G; a generic or a therapeutic alternative for TE; nothing for N (or any code we do not know).
ALLOWED_SUBSTITUTIONS = {"N": frozenset(), "G": frozenset({"G"}), "TE": frozenset({"G", "TE"})}
FRANCE = "FR"


def remaining(item: dict, dispensed: dict[str, int]) -> int:
    return item["quantity"] - dispensed.get(item["item_id"], 0)


def dispense_refusal(prescription: dict, dispensed: dict[str, int], lines: list[dict],
                     country: str | None = None) -> str | None:
    """Why these dispense lines cannot be dispensed against ``prescription`` (with ``dispensed``
    packages already acknowledged per item), or None. Error codes of ``passerelle.errors``."""
    if country is not None and country.upper() == FRANCE:
        return "PRESCRIPTION_FROM_FRANCE"
    items = {i["item_id"]: i for i in prescription["items"]}
    ids = [line["item_id"] for line in lines]
    if not lines or len(set(ids)) != len(ids) or any(i not in items for i in ids) \
            or any(line["quantity"] <= 0 for line in lines):
        return "DISPENSE_LINE_INVALID"
    for line in lines:
        item = items[line["item_id"]]
        if not item["dispensable"]:
            return "PRESCRIPTION_NOT_DISPENSABLE"
        if line.get("substitution") and line["substitution"] not in ALLOWED_SUBSTITUTIONS.get(item["substitution"], ()):
            return "SUBSTITUTION_NOT_ALLOWED"
        if line["quantity"] > remaining(item, dispensed):
            return "QUANTITY_EXCEEDED"
    return None


def add_lines(dispensed: dict[str, int], lines: list[dict], sign: int = 1) -> dict[str, int]:
    """``dispensed`` after the lines are acknowledged (sign 1) or their discard is (sign -1)."""
    out = dict(dispensed)
    for line in lines:
        out[line["item_id"]] = out.get(line["item_id"], 0) + sign * line["quantity"]
    return out


def prescription_status(prescription: dict, dispensed: dict[str, int]) -> str:
    items = prescription["items"]
    if not any(i["dispensable"] for i in items):
        return "NOT_DISPENSABLE"
    if all(remaining(i, dispensed) <= 0 for i in items if i["dispensable"]):
        return "DISPENSED"
    return "PARTLY_DISPENSED" if any(v > 0 for v in dispensed.values()) else "DISPENSABLE"
