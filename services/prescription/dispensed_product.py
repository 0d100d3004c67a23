"""The dispensed product of an eDispensation, written from the prescription item it fulfils.

When the pharmacist dispenses the prescribed product, country A learns what was dispensed the way it
described it: code and name, strength as written (``pharm:desc``), dose form, ATC class, each part and
each active substance (code, or a nullFlavor with the name as written), in the order the HL7 pharmacy
extension schema expects. A substitute (``product_code`` given) is written with its code and name
only: Passerelle does not know its composition.
"""

from __future__ import annotations

from lxml.builder import ElementMaker

HL7 = "urn:hl7-org:v3"
PHARM_NS = "urn:hl7-org:pharm"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
E = ElementMaker(namespace=HL7, nsmap={None: HL7, "pharm": PHARM_NS})
P = ElementMaker(namespace=PHARM_NS, nsmap={None: HL7, "pharm": PHARM_NS})


def _coded(maker, term: dict, tag: str = "code"):
    if not term or not term.get("code"):
        return None
    attrs = {"code": term["code"], "codeSystem": term["system"] or ""}
    if term.get("original"):
        attrs["displayName"] = term["original"]
    return getattr(maker, tag)(**attrs)


def _pq(tag: str, text: str):
    value, _, unit = text.strip().partition(" ")
    try:
        float(value.replace(",", "."))
    except ValueError:
        return None
    return getattr(E, tag)({XSI_TYPE: "PQ"}, value=value, unit=unit.strip() or "1")


def _strength(strength: str | None):
    """``pharm:quantity`` (numerator/denominator) of a strength read as ``500 mg``, ``40 mg/mL`` or
    ``250 mg/5 mL``; None when it does not read so (the product's ``desc`` keeps it as written)."""
    if not strength:
        return None
    amount, _, per = strength.partition("/")
    numerator = _pq("numerator", amount)
    per = per.strip()
    denominator = _pq("denominator", per if not per or per[0].isdigit() else f"1 {per}") if per else \
        E.denominator({XSI_TYPE: "PQ"}, value="1", unit="1")
    if numerator is None or denominator is None:
        return None
    return P.quantity(numerator, denominator)


def _ingredient(ingredient: dict):
    substance = ingredient["substance"]
    code = _coded(P, substance) if substance["code"] else P.code(nullFlavor="NI")
    names = [P.name(substance["original"])] if substance.get("original") else []
    quantity = _strength(ingredient.get("strength"))
    return P.ingredient(*([quantity] if quantity is not None else []),
                        P.ingredientSubstance(code, *names, classCode="MMAT", determinerCode="KIND"), classCode="ACTI")


def _described(product: dict) -> list:
    """The strength as written and the dose form of a product or part (schema order)."""
    found = [P.desc(product["strength"])] if product.get("strength") else []
    form = _coded(P, product.get("dose_form"), "formCode")
    return found + ([form] if form is not None else [])


def dispensed_material(code, name: str, item: dict, substituted: bool):
    """The ``manufacturedMaterial`` of one dispense line: ``code`` and ``name`` as the eDispensation
    names the product, then, for the prescribed product itself, its description."""
    children = [code, E.name(name)]
    if substituted:
        return E.manufacturedMaterial(*children)
    children += _described(item)
    product_class = _coded(P, item.get("product_class"))
    if product_class is not None:
        children.append(P.asSpecializedKind(P.generalizedMaterialKind(product_class, classCode="MMAT", determinerCode="KIND"),
                                            classCode="GRIC"))
    parts = item.get("parts") or []
    for part in parts:
        part_name = [P.name(part["name"])] if part.get("name") else []
        children.append(P.part(P.partProduct(*part_name, *_described(part), *map(_ingredient, part["ingredients"]),
                                             classCode="MMAT", determinerCode="KIND"), classCode="PART"))
    if not parts:
        children += [_ingredient(i) for i in item["ingredients"]]
    return E.manufacturedMaterial(*children)
