"""Structured laboratory results in French: the HL7 Europe Laboratory Report (a FHIR R4 document
Bundle: Composition, DiagnosticReport, Observation, Specimen, Organization) read into the model a
French HP reads — the laboratory and dates, the specimens, and every result with its test (LOINC),
its value and unit (UCUM, written the French way), its reference ranges and its interpretation
(high, low, critical: ``severity``, for the portal to mark).

Nothing is dropped: the original stays beside every French label; a code the catalogue does not
know keeps its label as sent (``translated`` false), a unit that is not valid UCUM is shown as sent,
a result without a reference range or without a value is shown all the same; each such case is
named in the result's ``flags``. Every Observation of the Bundle is listed, in the report's order,
then those the report does not name (panel members, strays).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache

from lark.exceptions import LarkError
from ucumvert import get_ucum_parser

from services.translation.catalogue import CURATED, DERIVED, Catalogue
from services.translation.ucum_fr import UCUM_FRENCH

UCUM = "http://unitsofmeasure.org"
#: HL7 v3 ObservationInterpretation code → what the portal marks.
SEVERITY = {"HH": "critical", "LL": "critical", "AA": "critical", ">": "high", "H": "high", "HU": "high",
            "<": "low", "L": "low", "LU": "low", "A": "abnormal", "POS": "abnormal", "R": "abnormal",
            "I": "abnormal", "N": "normal", "NEG": "normal", "S": "normal"}
SEVERITY_FR = {"critical": "critique", "high": "élevé", "low": "bas", "abnormal": "anormal", "normal": "normal"}
#: A French label that is no published translation says so, as the catalogue's flags do.
TERM_LABELS = {CURATED: "CURATED_LABEL", DERIVED: "DERIVED_LABEL"}
SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


class NotALabReport(ValueError):
    """The JSON is not a FHIR Bundle holding a laboratory DiagnosticReport or Observations."""


@lru_cache(maxsize=1)
def _ucum():
    return get_ucum_parser()


@lru_cache(maxsize=4096)
def ucum_valid(code: str) -> bool:
    try:
        _ucum().parse(code)
    except LarkError:
        return False
    return True


def ucum_in_french(code: str) -> str:
    """A UCUM code written as a French report prints it: the curated table's notation
    (``services/translation/ucum_fr.py``), else by rule: ``10*9/L`` → ``10⁹/l``, ``[IU]/L`` →
    ``UI/l``, ``umol/L`` → ``µmol/l``, ``mm[Hg]`` → ``mmHg``; an annotation ``{1.73_m2}`` kept as
    ``(1.73 m2)``; a unit that is only annotations (``{ratio}``) is ``sans unité``."""
    return UCUM_FRENCH.get(code) or ucum_by_rule(code)


def ucum_by_rule(code: str) -> str:
    """A valid UCUM code written the French way by rule alone (what the curated table lacks)."""
    notes = re.findall(r"\{([^}]*)\}", code)
    text = re.sub(r"\{[^}]*\}", "\x00", code)
    if not text.replace("\x00", ""):
        return "sans unité"
    text = re.sub(r"10\*(-?\d+)", lambda m: "10" + m.group(1).translate(SUPERSCRIPT), text)
    text = text.replace("[IU]", "UI").replace("[iU]", "UI").replace("[Hg]", "Hg").replace("[arb'U]", "U arb.")
    text = re.sub(r"(?<![A-Za-z])u(?=[a-zA-Z])", "µ", text).replace(".", "·")
    text = re.sub(r"(?<![A-Za-z])([munpfdcµk]?)L(?![A-Za-z])", r"\1l", text)  # the litre, as French reports write it
    for note in notes:
        text = text.replace("\x00", f"({note.replace('_', ' ')})", 1)
    return text


def term(concept: dict | None, catalogue: Catalogue, stats: Counter | None = None) -> dict | None:
    """A CodeableConcept: the coding the catalogue can name in French (else the first), its label as
    sent, the French label or None."""
    if not concept:
        return None
    codings = [c for c in concept.get("coding", []) if c.get("code")]
    chosen = next((c for c in codings if c.get("system") and catalogue.french(c["system"], c["code"])), None)
    chosen = chosen or (codings[0] if codings else {})
    system, code = chosen.get("system"), chosen.get("code")
    known = catalogue.concept(system, code) if system and code else None
    french = known.fr if known else None
    if stats is not None and system and code:
        name = catalogue.names.get(catalogue.oid(system), system)
        stats[(name, "coded")] += 1
        stats[(name, "french")] += french is not None
        stats[(name, "written by Passerelle")] += known is not None and known.kind in TERM_LABELS
    original = chosen.get("display") or concept.get("text") or code
    return {"system": system, "code": code, "original": original, "french": french,
            "display": french or original, "translated": french is not None,
            "label": TERM_LABELS.get(known.kind) if known else None}


def quantity(q: dict) -> dict:
    code = q.get("code") if q.get("system", UCUM) == UCUM else None
    unit_sent = q.get("unit") or q.get("code")
    parsed = code is not None and ucum_valid(code)
    label = None if not parsed else "CURATED_LABEL" if code in UCUM_FRENCH else "DERIVED_LABEL"
    return {"value": q.get("value"), "comparator": q.get("comparator"),
            "unit": {"code": q.get("code"), "original": unit_sent,
                     "display": ucum_in_french(code) if parsed else unit_sent, "ucum": parsed, "label": label}}


def value(obs: dict, catalogue: Catalogue, stats: Counter) -> tuple[dict | None, list[str]]:
    """The result's value as the model shows it, and the flags it raises."""
    if "valueQuantity" in obs:
        q = quantity(obs["valueQuantity"])
        return {"kind": "quantity", **q}, ([] if q["unit"]["ucum"] or not q["unit"]["original"] else ["UNIT_NOT_UCUM"])
    if "valueCodeableConcept" in obs:
        t = term(obs["valueCodeableConcept"], catalogue, stats)
        return {"kind": "coded", "term": t}, ([] if t and t["translated"] else ["VALUE_NOT_TRANSLATED"])
    for key in ("valueString", "valueBoolean", "valueInteger", "valueDateTime"):
        if key in obs:
            return {"kind": "text", "text": str(obs[key])}, []
    other = next((k for k in obs if k.startswith("value")), None)
    if other:  # a kind of value not modelled: shown as sent, never dropped
        return {"kind": "as_sent", "text": json.dumps(obs[other], ensure_ascii=False)}, ["VALUE_AS_SENT"]
    return None, ([] if obs.get("hasMember") else ["NO_VALUE"])


def reference_ranges(obs: dict) -> list[dict]:
    def bound(q):
        return quantity(q) if q else None
    return [{"low": bound(r.get("low")), "high": bound(r.get("high")), "text": r.get("text"),
             "type": (r.get("type") or {}).get("text") or next((c.get("display") or c.get("code")
                                                                for c in (r.get("type") or {}).get("coding", [])), None)}
            for r in obs.get("referenceRange", [])]


def interpretation(concepts: list[dict], catalogue: Catalogue, stats: Counter) -> list[dict]:
    out = []
    for concept in concepts:
        t = term(concept, catalogue, stats)
        if t is None:
            continue
        severity = SEVERITY.get(t["code"] or "")
        out.append({**t, "severity": severity, "severity_french": SEVERITY_FR.get(severity)})
    return out


def result(obs: dict, catalogue: Catalogue, specimens: dict[str, dict], stats: Counter) -> dict:
    test = term(obs.get("code"), catalogue, stats)
    val, flags = value(obs, catalogue, stats)
    ranges = reference_ranges(obs)
    if not test or not test["translated"]:
        flags.append("CODE_NOT_TRANSLATED")
    if val is not None and val["kind"] == "quantity" and not ranges:
        flags.append("NO_REFERENCE_RANGE")
    if val is not None and val["kind"] == "quantity" and val["unit"]["original"]:
        stats[("UCUM (units)", "coded")] += 1  # a unit written the French way counts as in French
        stats[("UCUM (units)", "french")] += val["unit"]["ucum"]
    flagged = interpretation(obs.get("interpretation", []), catalogue, stats)
    ranks = ["normal", "abnormal", "low", "high", "critical"]
    worst = max((i["severity"] for i in flagged if i["severity"]), key=ranks.index, default=None)
    return {"id": obs.get("id"), "status": obs.get("status"), "test": test, "value": val,
            "reference_ranges": ranges, "interpretation": flagged, "severity": worst,
            "severity_french": SEVERITY_FR.get(worst), "effective": obs.get("effectiveDateTime"),
            "issued": obs.get("issued"), "specimen": specimens.get(_ref((obs.get("specimen") or {}).get("reference"))),
            "members": [_ref(m.get("reference")) for m in obs.get("hasMember", [])],
            "note": " ".join(n.get("text", "") for n in obs.get("note", [])) or None, "flags": flags}


def _ref(reference: str | None) -> str | None:
    """``urn:uuid:X`` or ``Observation/X`` → ``X``."""
    if not reference:
        return None
    return reference.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def read_lab_report(content: bytes, catalogue: Catalogue) -> tuple[dict, Counter]:
    """The report in French, and per code system how many coded elements and how many in French
    (``Counter`` keyed ``(system name, "coded" | "french")``)."""
    bundle = json.loads(content)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise NotALabReport("not a FHIR Bundle")
    resources = [e.get("resource") or {} for e in bundle.get("entry", []) if isinstance(e, dict)]
    by_id = {r.get("id"): r for r in resources if r.get("id")}
    report = next((r for r in resources if r.get("resourceType") == "DiagnosticReport"), None)
    observations = [r for r in resources if r.get("resourceType") == "Observation"]
    if report is None and not observations:
        raise NotALabReport("no DiagnosticReport and no Observation")
    stats: Counter = Counter()
    specimens = {r["id"]: {"id": r["id"], "type": term(r.get("type"), catalogue, stats),
                           "collected": (r.get("collection") or {}).get("collectedDateTime")}
                 for r in resources if r.get("resourceType") == "Specimen" and r.get("id")}
    named = [_ref(x.get("reference")) for x in (report or {}).get("result", [])]
    order = [i for i in named if i in by_id] + [o.get("id") for o in observations if o.get("id") not in named]
    results = [result(by_id[i], catalogue, specimens, stats) for i in order]
    results += [result(o, catalogue, specimens, stats) for o in observations if not o.get("id")]
    performers = [by_id.get(_ref(p.get("reference"))) or p for p in (report or {}).get("performer", [])]
    organisations = [p for p in performers if p.get("resourceType") == "Organization"] or [
        r for r in resources if r.get("resourceType") == "Organization"]
    laboratory = next((o.get("name") for o in organisations if o.get("name")), None)
    return {"code": term((report or {}).get("code"), catalogue, stats),
            "categories": [term(c, catalogue, stats) for c in (report or {}).get("category", [])],
            "status": (report or {}).get("status"), "issued": (report or {}).get("issued"),
            "effective": (report or {}).get("effectiveDateTime"), "laboratory": laboratory,
            "performers": [p.get("display") or p.get("name") for p in performers if p.get("display") or p.get("name")],
            "language": bundle.get("language"), "specimens": list(specimens.values()), "results": results}, stats
