"""The clinical statements of a CDA section (issue 17, item 8), both medication namespaces.

Each ``entry`` holds one clinical statement; an allergy or a problem comes wrapped in a concern act
(``CONC``), a structural act that is not a finding: its observation is the statement, the act lends
its status and dates when the observation has none. ``value(el)`` gives the display entry of a
coded element (the one ``cda._entry`` made, translation included) or a text value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable

from lxml import etree

from passerelle.medication import child, children, french_dosage, indexed, read_dosage, read_product, text
from services.translation import display
from services.translation.catalogue import Catalogue
from services.translation.statements import (ALLERGY, DEVICE, MEDICATION, OBSERVATION, PROBLEM, PROCEDURE,
                                             SECTION_KINDS, UNRECOGNISED, VACCINATION, act_status, french_date,
                                             statement, text_value)

Value = Callable[[etree._Element | None], dict | None]
STATEMENT_TAGS = ("substanceAdministration", "act", "observation", "procedure", "supply", "organizer",
                  "encounter")
MAIN_FIELD = {ALLERGY: "agent", PROBLEM: "condition", MEDICATION: "product", VACCINATION: "vaccine",
              PROCEDURE: "procedure", DEVICE: "device"}
SEVERITY, CRITICALITY, STATUS, DOSE_NUMBER = "SEV", ("82606-5", "CRIT"), "33999-4", "30973-2"


def _local(el) -> str:
    return el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""


def _code(el) -> str | None:
    code = child(el, "code")
    return code.get("code") if code is not None else None


def _observations(el, type_code: str | None = None) -> list:
    """The observations ``el`` relates to (``entryRelationship/observation``), of one type or all."""
    return [o for rel in children(el, "entryRelationship")
            if type_code is None or rel.get("typeCode") == type_code for o in children(rel, "observation")]


_NESTED = etree.XPath(".//*[local-name()='observation'][*[local-name()='code'][@code=$code]]")


def _nested(el, code: str | tuple) -> list:
    """Observations with ``code`` anywhere under el's relationships (severity sits under a reaction)."""
    codes = (code,) if isinstance(code, str) else code
    return [o for c in codes for o in _NESTED(el, code=c)]


def _time(el, bound: str | None = None) -> str | None:
    """``effectiveTime/@value`` (or its ``low``/``high`` when ``bound`` says so), as sent."""
    time = child(el, "effectiveTime")
    if time is None:
        return None
    if bound is None:
        point = time.get("value")
        return point or _time(el, "low")
    edge = child(time, bound)
    return edge.get("value") if edge is not None else None


def _unwrap(stmt):
    """The finding inside a concern act, and the act (None when the statement is not wrapped)."""
    if _local(stmt) == "act":
        inner = _observations(stmt, "SUBJ") or _observations(stmt)
        if inner:
            return inner[0], stmt
    return stmt, None


def _kind(stmt, finding, section_code: str | None) -> str:
    kind = SECTION_KINDS.get(section_code or "")
    if kind:
        return kind
    tag = _local(stmt)
    if tag == "substanceAdministration":
        return VACCINATION if _code(stmt) == "IMMUNIZ" else MEDICATION
    if tag == "procedure":
        return PROCEDURE
    if tag == "supply":
        return DEVICE if finding.xpath(".//*[local-name()='playingDevice']") else MEDICATION
    if finding is not stmt:
        return ALLERGY if child(finding, "participant", "participantRole", "playingEntity") is not None else PROBLEM
    return OBSERVATION if tag in ("observation", "organizer") else UNRECOGNISED


def _status(finding, concern, value: Value, catalogue: Catalogue) -> dict | None:
    said = [value(child(o, "value")) for o in _observations(finding) if _code(o) == STATUS]
    if said and said[0]:
        return said[0]
    for el in (concern, finding):
        code = child(el, "statusCode") if el is not None else None
        if code is not None and code.get("code"):
            return act_status(catalogue, code.get("code"))
    return None


def _period(period: dict | None) -> dict | None:
    if not period or not (period.get("start") or period.get("end")):
        return None
    start, end = (french_date(period.get(k)) for k in ("start", "end"))
    shown = " ".join(p for p in (f"du {start['display']}" if start else None,
                                 f"au {end['display']}" if end else None) if p)
    return text_value(shown if end else f"depuis le {start['display']}",
                      " – ".join(p for p in (period.get("start"), period.get("end")) if p))


def _term(catalogue: Catalogue, term: dict | None, strength: str | None = None) -> dict | None:
    """A product reader's term (code, system, original) as a display value, strength appended."""
    if not term or not (term.get("code") or term.get("original")):
        return None
    if term.get("code") and term.get("system"):
        found = display.coded_entry(catalogue, term["system"], term["code"], term["original"], term["original"])
    else:
        found = text_value(term["original"], term["original"], "NOT_CODED")
    if strength:
        found["display"] = f"{found['display'] or ''} {strength}".strip()
        found["original"] = f"{found['original'] or ''} {strength}".strip()
    return found


def _medication(stmt, row: int, value: Value, catalogue: Catalogue, ids: Mapping[str, str | None]) -> dict:
    material = (child(stmt, "consumable", "manufacturedProduct", "manufacturedMaterial")
                if _local(stmt) == "substanceAdministration"
                else child(stmt, "product", "manufacturedProduct", "manufacturedMaterial"))
    product = read_product(material)
    substances = [_term(catalogue, i["substance"], i["strength"]) for i in product["ingredients"]]
    forms = [value(child(material, "formCode"))] + [_term(catalogue, p["dose_form"]) for p in product["parts"]]
    from_class = [] if substances else [_term(catalogue, product["product_class"], product["strength"])]
    fields = [("product", [value(child(material, "code")) if _code(material) else _term(catalogue, product["product"])]),
              ("substance", substances), ("product_class", from_class), ("form", forms)]
    if _local(stmt) == "substanceAdministration":
        dosage = read_dosage(stmt)
        said = french_dosage(dosage, catalogue)
        fields += [("route", [value(child(stmt, "routeCode"))]),
                   ("dosage", [text_value(said, _narrative(stmt, ids)) if said else None]),
                   ("period", [_period(dosage["period"])])]
    else:
        quantity = child(stmt, "quantity")
        fields += [("quantity", [text_value(quantity.get("value"), quantity.get("value"))
                                 if quantity is not None and quantity.get("value") else None]),
                   ("date", [french_date(_time(stmt))])]
    fields.append(("status", [_status(stmt, None, value, catalogue)]))
    flags = [] if any(substances) else ["SUBSTANCE_FROM_CLASS"] if any(from_class) else ["NO_SUBSTANCE"]
    return statement(MEDICATION, row, fields, flags)


def _narrative(el, ids: Mapping[str, str | None]) -> str | None:
    """The statement's own text: the narrative cell it references (``ids``: the section's), else its text."""
    said = child(el, "text")
    reference = child(said, "reference")
    if reference is not None:
        return ids.get((reference.get("value") or "").lstrip("#"))
    return text(said)


def _allergy(finding, concern, row: int, value: Value, catalogue: Catalogue) -> dict:
    entity = child(finding, "participant", "participantRole", "playingEntity")
    agent = value(child(entity, "code")) if _code(entity) else (
        text_value(text(child(entity, "name")), text(child(entity, "name"))) if text(child(entity, "name")) else None)
    said = value(child(finding, "value"))
    if said and agent and said["code"] and said["code"] == agent["code"]:
        said = None  # the agent repeated as the observation's value
    return statement(ALLERGY, row, [
        ("agent", [agent]), ("category", [value(child(finding, "code")), said]),
        ("reaction", [value(child(o, "value")) for o in _observations(finding, "MFST")]),
        ("severity", [value(child(o, "value")) for o in _nested(finding, SEVERITY)][:1]),
        ("criticality", [value(child(o, "value")) for o in _nested(finding, CRITICALITY)][:1]),
        ("status", [_status(finding, concern, value, catalogue)]),
        ("onset", [french_date(_time(finding, "low") or (_time(concern, "low") if concern is not None else None))])],
        [] if agent else ["NO_AGENT"])


def _problem(finding, concern, row: int, value: Value, catalogue: Catalogue) -> dict:
    return statement(PROBLEM, row, [
        ("condition", [value(child(finding, "value")) or value(child(finding, "code"))]),
        ("onset", [french_date(_time(finding, "low") or _time(finding))]), ("end", [french_date(_time(finding, "high"))]),
        ("status", [_status(finding, concern, value, catalogue)])])


def _vaccination(stmt, row: int, value: Value, catalogue: Catalogue) -> dict:
    material = child(stmt, "consumable", "manufacturedProduct", "manufacturedMaterial")
    name = text(child(material, "name"))
    doses = [o for o in _observations(stmt) if _code(o) == DOSE_NUMBER]
    targets = [o for o in _observations(stmt) if _code(o) != DOSE_NUMBER and child(o, "value") is not None]
    sequence = child(stmt, "entryRelationship", "sequenceNumber")
    dose = (child(doses[0], "value").get("value") if doses and child(doses[0], "value") is not None
            else sequence.get("value") if sequence is not None else None)
    return statement(VACCINATION, row, [
        ("vaccine", [value(child(material, "code")), text_value(name, name) if name else None]),
        ("target_disease", [value(child(o, "value")) for o in targets]), ("date", [french_date(_time(stmt))]),
        ("dose_number", [text_value(dose, dose) if dose else None]), ("status", [_status(stmt, None, value, catalogue)])])


def _component(observation, value: Value) -> dict | None:
    """One result of an organizer (a vital sign, a panel's test): "what : value"."""
    what, said = value(child(observation, "code")), value(child(observation, "value"))
    if what is None or said is None:
        return said or what
    return {**said, "display": f"{what['display']} : {said['display']}",
            "original": f"{what['original'] or what['display']}: {said['original'] or said['display']}",
            "flag": said["flag"] or what["flag"], "translated": said["translated"] or what["translated"]}


def _observation(stmt, kind: str, row: int, value: Value, catalogue: Catalogue) -> dict:
    components = [o for comp in children(stmt, "component") for o in children(comp, "observation")]
    device = child(stmt, "participant", "participantRole", "playingDevice")
    return statement(kind, row, [
        ("device" if kind == DEVICE else "procedure" if kind == PROCEDURE else "code",
         [value(child(device, "code")) if device is not None else value(child(stmt, "code"))]),
        ("value", [value(child(stmt, "value"))] + [_component(o, value) for o in components]),
        ("date", [french_date(_time(stmt))]), ("status", [_status(stmt, None, value, catalogue)])])


def value_reader(lookup: dict) -> Value:
    """``value(el)``: the display entry made for a coded element, else its quantity or text as sent."""
    def value(el) -> dict | None:
        if el is None:
            return None
        if el in lookup:
            return dict(lookup[el])
        if el.get("value"):
            unit = el.get("unit") if el.get("unit") not in (None, "", "1") else None
            shown = " ".join(p for p in (el.get("value"), unit) if p)
            return text_value(shown, shown)
        said = text(el)
        return text_value(said, said) if said else None
    return value


def read_statement(entry_el, row: int, section_code: str | None, value: Value, catalogue: Catalogue,
                   ids: Mapping[str, str | None]) -> dict:
    """The statement of one ``entry`` (an ``UNRECOGNISED`` one when it matches no known shape);
    ``ids``: the section's narrative texts by ID. Each element's children are indexed once."""
    with indexed():
        return _statement(entry_el, row, section_code, value, catalogue, ids)


def _statement(entry_el, row: int, section_code: str | None, value: Value, catalogue: Catalogue,
               ids: Mapping[str, str | None]) -> dict:
    stmt = next((c for c in entry_el if _local(c) in STATEMENT_TAGS), None)
    if stmt is None:
        sent = next((_local(c) for c in entry_el if _local(c)), None)
        return statement(UNRECOGNISED, row, [("category", [text_value(sent, sent) if sent else None])],
                         ["UNRECOGNISED_STATEMENT"])
    finding, concern = _unwrap(stmt)
    kind = _kind(stmt, finding, section_code)
    found = _read(stmt, finding, concern, kind, row, value, catalogue, ids)
    if not found["fields"] and stmt.get("nullFlavor"):  # "no procedure", "not applicable": said, not a finding
        empty = display.null_flavor_entry(catalogue, stmt.get("nullFlavor"), None, row, None)
        return statement(kind if kind != UNRECOGNISED else OBSERVATION, row, [(MAIN_FIELD.get(kind, "code"), [empty])])
    return found


def _read(stmt, finding, concern, kind: str, row: int, value: Value, catalogue: Catalogue, ids: Mapping) -> dict:
    if kind == MEDICATION and _local(stmt) in ("substanceAdministration", "supply"):
        return _medication(stmt, row, value, catalogue, ids)
    if kind == ALLERGY:
        return _allergy(finding, concern, row, value, catalogue)
    if kind == PROBLEM:
        return _problem(finding, concern, row, value, catalogue)
    if kind == VACCINATION and _local(stmt) == "substanceAdministration":
        return _vaccination(stmt, row, value, catalogue)
    return _observation(finding, OBSERVATION if kind in (MEDICATION, VACCINATION, UNRECOGNISED) else kind,
                        row, value, catalogue)
