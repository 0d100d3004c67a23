"""Reading an eHDSI ePrescription (CDA R2, LOINC 57833-6) into its items. Pure: bytes in, records out.

Shared by the foreign NCP simulator (country A's checks), the translation service (the list a
pharmacist reads) and the prescription service (the quantities it keeps). The records are the
``fr.passerelle.ep.Prescription`` / ``PrescribedItem`` shapes of ``schemas/``; ``french`` labels are
left empty here (translation fills them).
"""

from __future__ import annotations

from lxml import etree

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


def _term(el) -> dict:
    if el is None:
        return {"code": None, "system": None, "original": None, "french": None}
    return {"code": el.get("code"), "system": el.get("codeSystem"), "original": el.get("displayName"), "french": None}


def _pq(el) -> str | None:
    return f"{el.get('value')} {el.get('unit') or ''}".strip() if el is not None and el.get("value") else None


def _ingredient(el) -> dict:
    substance = _term(_first(el, "pharm:ingredientSubstance/pharm:code"))
    substance["original"] = substance["original"] or _first(el, "string(pharm:ingredientSubstance/pharm:name)") or None
    num, den = _first(el, "pharm:quantity/hl7:numerator"), _first(el, "pharm:quantity/hl7:denominator")
    per = _pq(den) if den is not None and _pq(den) != "1 1" else None
    strength = f"{_pq(num)}/{per}" if per else _pq(num)
    return {"substance": substance, "strength": strength}


def _text(el, ids: dict[str, str]) -> str | None:
    """A dosage instruction: the narrative it references, else its own text."""
    if el is None:
        return None
    ref = _first(el, "hl7:reference/@value")
    text = ids.get(ref.lstrip("#")) if ref else None
    return (text or "".join(el.itertext())).strip() or None


def _item(sa, ids: dict[str, str]) -> dict:
    material = _first(sa, "hl7:consumable/hl7:manufacturedProduct/hl7:manufacturedMaterial")
    product = _term(_first(material, "hl7:code")) if material is not None else _term(None)
    if material is not None:
        product["original"] = product["original"] or (_first(material, "string(hl7:name)") or None)
    inner = _first(material, "pharm:asContent") if material is not None else None
    package, size = _term(None), None
    if inner is not None:
        outer = _first(inner, "pharm:containerPackagedProduct/pharm:asContent")
        box = _first(outer, "pharm:containerPackagedProduct/pharm:formCode") if outer is not None else None
        package = _term(box if box is not None else _first(inner, "pharm:containerPackagedProduct/pharm:formCode"))
        parts = [p for p in (_pq(_first(outer, "pharm:quantity")) if outer is not None else None,
                             _pq(_first(inner, "pharm:quantity"))) if p]
        size = " x ".join(p.removesuffix(" 1") for p in parts) or None
    quantity = _first(sa, "hl7:entryRelationship/hl7:supply[@moodCode='RQO']/hl7:quantity/@value")
    substitution = _first(sa, "hl7:entryRelationship/hl7:observation[hl7:code/@code='SUBST']/hl7:value/@code")
    instructions = _first(sa, "hl7:entryRelationship/hl7:act[hl7:code/@code='PINSTRUCT']/hl7:text")
    return {
        "item_id": _first(sa, "string(hl7:id/@extension)") or _first(sa, "string(hl7:id/@root)"),
        "product": product,
        "ingredients": [_ingredient(i) for i in (material.xpath("pharm:ingredient[@classCode='ACTI']", namespaces=NS)
                                                  if material is not None else [])],
        "dose_form": _term(_first(material, "pharm:formCode") if material is not None else None),
        "route": _term(_first(sa, "hl7:routeCode")),
        "package": package,
        "package_size": size,
        "quantity": int(float(quantity)) if quantity else 0,
        "dosage": _text(instructions, ids) or _text(_first(sa, "hl7:text"), ids),
        "substitution": substitution or "N",  # absent: no substitution allowed (the safe reading)
        "dispensable": _first(sa, "string(hl7:statusCode/@code)") in DISPENSABLE_STATUS,
    }


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
    return {"prescription_id": f"{doc_id.get('root')}^{doc_id.get('extension')}" if doc_id.get("extension")
            else doc_id.get("root"), "language": language, "items": items}


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
