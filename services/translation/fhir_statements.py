"""The clinical statements of a FHIR IPS section (issue 17, item 8): one per referenced resource.

``concept(cc)`` gives the display entries of a CodeableConcept's codings (the ones ``fhir._entry``
made, translation included) or its text; values follow the IPS resources: MedicationStatement /
MedicationRequest (and their Medication), AllergyIntolerance, Condition, Immunization, Procedure,
DeviceUseStatement, Observation. The dosage is written in French by ``passerelle.dosage_french``.
"""

from __future__ import annotations

from typing import Callable

from passerelle.dosage_french import french_dosage
from services.translation import display
from services.translation.catalogue import Catalogue
from services.translation.statements import (ALLERGY, DEVICE, MEDICATION, OBSERVATION, PROBLEM, PROCEDURE,
                                             UNRECOGNISED, VACCINATION, french_date, statement, text_value)

Concept = Callable[[object], list[dict]]
KINDS = {"MedicationStatement": MEDICATION, "MedicationRequest": MEDICATION, "MedicationAdministration": MEDICATION,
         "MedicationDispense": MEDICATION, "AllergyIntolerance": ALLERGY, "Condition": PROBLEM,
         "Immunization": VACCINATION, "Procedure": PROCEDURE, "DeviceUseStatement": DEVICE,
         "Observation": OBSERVATION}
HOURS_PER_DAY = 24
SEVERITY = "http://hl7.org/fhir/reaction-event-severity"
CRITICALITY = "http://hl7.org/fhir/allergy-intolerance-criticality"
STATUSES = {"MedicationStatement": "http://hl7.org/fhir/CodeSystem/medication-statement-status",
            "MedicationRequest": "http://hl7.org/fhir/CodeSystem/medicationrequest-status"}


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def _s(value) -> str | None:
    return value if isinstance(value, str) else None


def _quantity(q) -> str | None:
    q = _d(q)
    if q.get("value") is None:
        return None
    unit = _s(q.get("unit")) or _s(q.get("code"))
    return " ".join(p for p in (str(q["value"]), unit if unit not in (None, "1") else None) if p)


def _ratio(r) -> str | None:
    r = _d(r)
    top, bottom = _quantity(r.get("numerator")), _d(r.get("denominator"))
    if top is None:
        return None
    if not bottom or (bottom.get("value") in (1, 1.0) and (_s(bottom.get("unit")) or _s(bottom.get("code")) or "1") in ("1",)):
        return top
    below = _quantity(bottom)
    return f"{top}/{below}" if below else top


def _date(resource: dict, *keys: str) -> dict | None:
    for key in keys:
        value = resource.get(key)
        if isinstance(value, str):
            return french_date(value)
        if isinstance(value, dict) and (_s(value.get("start")) or _s(value.get("end"))):
            return french_date(_s(value.get("start")) or _s(value.get("end")))
    return None


def _medication(resource: dict, row: int, concept: Concept, resolve: Callable, catalogue: Catalogue) -> dict:
    medication = resolve(resource.get("medicationReference")) or {}
    product = concept(resource.get("medicationCodeableConcept")) or concept(medication.get("code"))
    substances = []
    for ingredient in _l(medication.get("ingredient")):
        ingredient = _d(ingredient)
        if ingredient.get("isActive") is False:
            continue
        found = concept(ingredient.get("itemCodeableConcept")) or concept(
            _d(resolve(ingredient.get("itemReference"))).get("code"))
        strength = _ratio(ingredient.get("strength"))
        for value in found[:1]:
            substances.append({**value, "display": " ".join(p for p in (value["display"], strength) if p),
                               "original": " ".join(p for p in (value["original"], strength) if p)})
    dosages = _l(resource.get("dosage")) or _l(resource.get("dosageInstruction"))
    fields = [("product", product[:1]), ("substance", substances), ("form", concept(medication.get("form"))[:1])]
    routes, said = [], []
    for dosage in map(_d, dosages):
        routes += concept(dosage.get("route"))[:1]
        said.append(_dosage(dosage, catalogue, resource.get("language")))
    fields += [("route", routes), ("dosage", said),
               ("period", [_date(resource, "effectivePeriod", "effectiveDateTime", "authoredOn")]),
               ("status", [_code(catalogue, STATUSES.get(resource.get("resourceType"), ""), resource.get("status"))])]
    return statement(MEDICATION, row, fields, [] if substances or medication.get("ingredient") is None and product
                     else ["NO_SUBSTANCE"])


def _frequency(repeat: dict) -> dict | None:
    """A FHIR ``timing.repeat`` as the PIVL-like frequency ``dosage_french`` reads."""
    times, period, unit = repeat.get("frequency") or 1, repeat.get("period"), _s(repeat.get("periodUnit"))
    if not isinstance(period, (int, float)) or not isinstance(times, (int, float)) or not unit or times <= 0:
        return None
    if unit == "d" and times > 1:
        return {"value": f"{HOURS_PER_DAY * period / times:g}", "unit": "h", "fixed_interval": False}
    return {"value": f"{period / times:g}", "unit": unit, "fixed_interval": False}


def _dosage(dosage: dict, catalogue: Catalogue, language) -> dict | None:
    dose = next((_d(d.get("doseQuantity")) for d in map(_d, _l(dosage.get("doseAndRate"))) if d.get("doseQuantity")), {})
    route = next(iter(_l(_d(dosage.get("route")).get("coding"))), None)
    structured = {
        "dose": {"low": str(dose["value"]), "high": str(dose["value"]), "unit": _s(dose.get("unit")) or _s(dose.get("code")) or "1"}
        if dose.get("value") is not None else None,
        "frequency": _frequency(_d(_d(dosage.get("timing")).get("repeat"))), "events": [],
        "route": {"code": _s(_d(route).get("code")), "system": _s(_d(route).get("system")),
                  "original": _s(_d(route).get("display"))} if route else None,
        "period": None, "dose_form": None,
        "instructions": [{"kind": "patient", "text": dosage["text"], "language": _s(language)}]
        if _s(dosage.get("text")) and not dose else []}
    french = french_dosage(structured, catalogue)
    return text_value(french, _s(dosage.get("text"))) if french else None


def _code(catalogue: Catalogue, system: str, code) -> dict | None:
    """A FHIR ``code`` element (bound to one code system) as a display value."""
    return display.coded_entry(catalogue, system, code, code, code) if _s(code) else None


def _allergy(resource: dict, row: int, concept: Concept, catalogue: Catalogue) -> dict:
    reactions = [_d(r) for r in _l(resource.get("reaction"))]
    severities = [_code(catalogue, SEVERITY, r.get("severity")) for r in reactions if _s(r.get("severity"))]
    return statement(ALLERGY, row, [
        ("agent", concept(resource.get("code"))[:1]),
        ("reaction", [v for r in reactions for v in concept_list(concept, r.get("manifestation"))]),
        ("severity", severities[:1]),
        ("criticality", [_code(catalogue, CRITICALITY, resource.get("criticality"))]),
        ("status", concept(resource.get("clinicalStatus"))[:1]),
        ("verification", concept(resource.get("verificationStatus"))[:1]),
        ("onset", [_date(resource, "onsetDateTime", "onsetPeriod")])])


def concept_list(concept: Concept, concepts) -> list[dict]:
    return [v for cc in _l(concepts) for v in concept(cc)[:1]]


def read_statement(resource: dict, row: int, concept: Concept, resolve: Callable, catalogue: Catalogue) -> dict:
    """The statement of one referenced resource (``UNRECOGNISED`` when it matches no known shape)."""
    kind = KINDS.get(_s(resource.get("resourceType")) or "", UNRECOGNISED)
    if kind == MEDICATION:
        return _medication(resource, row, concept, resolve, catalogue)
    if kind == ALLERGY:
        return _allergy(resource, row, concept, catalogue)
    if kind == PROBLEM:
        return statement(PROBLEM, row, [
            ("condition", concept(resource.get("code"))[:1]), ("onset", [_date(resource, "onsetDateTime", "onsetPeriod")]),
            ("end", [_date(resource, "abatementDateTime", "abatementPeriod")]),
            ("status", concept(resource.get("clinicalStatus"))[:1])])
    if kind == VACCINATION:
        protocols = [_d(p) for p in _l(resource.get("protocolApplied"))]
        doses = [str(p["doseNumberPositiveInt"]) for p in protocols if p.get("doseNumberPositiveInt") is not None]
        return statement(VACCINATION, row, [
            ("vaccine", concept(resource.get("vaccineCode"))[:1]),
            ("target_disease", [v for p in protocols for v in concept_list(concept, p.get("targetDisease"))]),
            ("date", [_date(resource, "occurrenceDateTime")]),
            ("dose_number", [text_value(d, d) for d in doses[:1]])])
    if kind == DEVICE:
        device = resolve(resource.get("device")) or {}
        return statement(DEVICE, row, [("device", concept(device.get("type"))[:1]),
                                       ("date", [_date(resource, "timingDateTime", "timingPeriod", "recordedOn")])])
    if kind == PROCEDURE:
        return statement(PROCEDURE, row, [("procedure", concept(resource.get("code"))[:1]),
                                          ("date", [_date(resource, "performedDateTime", "performedPeriod")])])
    if kind == OBSERVATION:
        said = concept(resource.get("valueCodeableConcept")) or [
            text_value(v, v) for v in (_quantity(resource.get("valueQuantity")), _s(resource.get("valueString"))) if v]
        components = [_component(_d(c), concept) for c in _l(resource.get("component"))]
        return statement(OBSERVATION, row, [("code", concept(resource.get("code"))[:1]), ("value", said[:1] + components),
                                            ("date", [_date(resource, "effectiveDateTime", "effectivePeriod")])])
    kind_sent = _s(resource.get("resourceType"))
    return statement(UNRECOGNISED, row, [("category", [text_value(kind_sent, kind_sent) if kind_sent else None]),
                                         ("code", concept(resource.get("code"))[:1])], ["UNRECOGNISED_STATEMENT"])


def _component(component: dict, concept: Concept) -> dict | None:
    """One component of an observation (systolic, diastolic...): "what : value"."""
    what = (concept(component.get("code")) or [None])[0]
    amount = _quantity(component.get("valueQuantity"))
    said = (concept(component.get("valueCodeableConcept")) or [text_value(amount, amount) if amount else None])[0]
    if what is None or said is None:
        return said or what
    return {**said, "display": f"{what['display']} : {said['display']}",
            "original": f"{what['original'] or what['display']}: {said['original'] or said['display']}",
            "flag": said["flag"] or what["flag"], "translated": said["translated"] or what["translated"]}
