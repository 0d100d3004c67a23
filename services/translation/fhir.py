"""HL7 FHIR IPS Bundles (R4): the FHIR translation extension on every coding's display.

The Bundle is parsed and validated with the ``fhir.resources`` models (R4B package, the R4-compatible
one; see docs/adr/0011). A Bundle that fails validation is still translated, with the warning
``FHIR_INVALID``; JSON that is not a Bundle with a Composition cannot be translated at all.
French goes where FHIR puts translations of a primitive: ``coding._display.extension`` with the
``http://hl7.org/fhir/StructureDefinition/translation`` extension (``lang`` fr-FR, ``content``).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from services.translation import display, fhir_statements, guard, statements
from services.translation.catalogue import Catalogue

TRANSLATION_EXT = "http://hl7.org/fhir/StructureDefinition/translation"
LOINC_URI = "http://loinc.org"
_TAGS = re.compile(r"<[^>]+>")
#: Parts of a resource that hold no clinical coding to translate.
_SKIP = {"meta", "text", "identifier", "subject", "patient", "extension"}


class NotAnIpsBundle(ValueError):
    pass


# Country A's JSON may hold anything anywhere: read it through these, never trust a type.
def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


def _narrative(div) -> str | None:
    return display.clean_text(html.unescape(_TAGS.sub(" ", div))) if isinstance(div, str) else None


def _codings(node, role: str | None = None):
    """Yield ``(coding, text of its CodeableConcept, role)`` for every coding under ``node``."""
    if isinstance(node, dict):
        for coding in _list(node.get("coding")):
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                yield coding, _str(node.get("text")), role
        for key, value in node.items():
            if key not in _SKIP and key != "coding":
                yield from _codings(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _codings(item, role)


def _add_translation(coding: dict, french: str) -> None:
    ext = {"url": TRANSLATION_EXT, "extension": [{"url": "lang", "valueCode": "fr-FR"},
                                                 {"url": "content", "valueString": french}]}
    primitive = coding.setdefault("_display", {})
    if isinstance(primitive, dict) and isinstance(primitive.setdefault("extension", []), list):
        primitive["extension"].append(ext)  # (a malformed _display of country A's is left as sent)


def _entry(catalogue: Catalogue, coding: dict, text: str | None, row: int, role: str | None) -> dict:
    entry = display.coded_entry(catalogue, _str(coding.get("system")), coding["code"], _str(coding.get("display")),
                                text, row, role)
    if entry["translated"]:
        _add_translation(coding, entry["display"])
    return entry


def _embedded(resources: list[dict]) -> list[dict]:
    found = []
    for res in resources:
        attachments = [res] if res.get("resourceType") == "Binary" else [
            _dict(c).get("attachment") for c in _list(res.get("content"))]
        for att in attachments:
            if isinstance(att, dict) and _str(att.get("contentType")) and att.get("data"):
                try:
                    size = len(base64.b64decode(att["data"], validate=True))
                except (binascii.Error, ValueError, TypeError):
                    size = None
                found.append({"media_type": att["contentType"], "section_code": None, "size": size})
    return found


def _referenced(resource: dict, resources: dict[str, dict]) -> list[dict]:
    """The product a medication statement points to: its codes belong to the same row."""
    target = resources.get(_str(_dict(resource.get("medicationReference")).get("reference")))
    return [target] if target is not None else []


def _concept_reader(catalogue: Catalogue, by_coding: dict[int, dict]):
    """``concept(cc)``: the display entries of a CodeableConcept's codings (those the section's
    translation made, else made now), or its text when it has no code."""
    def concept(cc) -> list[dict]:
        cc = _dict(cc)
        found = [dict(by_coding[id(c)]) if id(c) in by_coding else
                 display.coded_entry(catalogue, _str(c.get("system")), c["code"], _str(c.get("display")), _str(cc.get("text")))
                 for c in _list(cc.get("coding")) if isinstance(c, dict) and isinstance(c.get("code"), str)]
        text = _str(cc.get("text"))
        return found or ([statements.text_value(text, text, "NOT_CODED")] if text else [])
    return concept


def _statements(sec: dict) -> list:
    """The entries of a Composition section, those of its sub-sections included."""
    entries = list(_list(sec.get("entry")))
    for sub in _list(sec.get("section")):
        entries += _statements(_dict(sub))
    return entries


def _section(catalogue: Catalogue, sec: dict, resources: dict[str, dict]) -> dict:
    section_coding = _dict((_list(_dict(sec.get("code")).get("coding")) or [{}])[0])
    code = _str(section_coding.get("code")) if section_coding.get("system") in (LOINC_URI, None) else None
    entries, by_coding, rows = [], {}, []
    statements = _statements(sec)
    concept = _concept_reader(catalogue, by_coding)
    for row, ref in enumerate(statements):
        resource = _dict(resources.get(_str(_dict(ref).get("reference")), {}))
        for part in [resource, *_referenced(resource, resources)]:
            for coding, text, role in _codings(part):
                entries.append(_entry(catalogue, coding, text, row, role))
                by_coding[id(coding)] = entries[-1]
        rows.append(fhir_statements.read_statement(
            resource, row, concept, lambda ref: resources.get(_str(_dict(ref).get("reference"))), catalogue))
    # why a section is empty ("nilknown": nothing known, e.g. no known allergies) is explained too
    for coding, text, role in _codings({"emptyReason": sec.get("emptyReason")}):
        entries.append(_entry(catalogue, coding, text, 0, role))
    result = display.section(catalogue, code, display.clean_text(_str(sec.get("title"))),
                             _narrative(_dict(sec.get("text")).get("div")), entries, len(statements), rows=rows)
    if result["title_translated"]:
        _add_translation(section_coding, result["title"])
    return result


def translate_fhir(content: bytes, catalogue: Catalogue) -> tuple[dict, bytes]:
    """``(display model, translated Bundle)``; raises ``json.JSONDecodeError``, ``NotAnIpsBundle`` or
    ``guard.HostileDocument``."""
    bundle = guard.parse_json(content)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise NotAnIpsBundle("not a FHIR Bundle")
    warnings = []
    try:
        Bundle.model_validate(bundle)
    except (ValidationError, TypeError, ValueError, KeyError, AttributeError):
        # fhir.resources raises more than ValidationError on malformed input (e.g. TypeError for a
        # null resourceType): any of them means the Bundle does not validate.
        warnings.append("FHIR_INVALID")
    resources: dict[str, dict] = {}
    for e in _list(bundle.get("entry")):
        res = _dict(e).get("resource")
        if not isinstance(res, dict):
            continue
        if _str(e.get("fullUrl")):
            resources[e["fullUrl"]] = res
        if _str(res.get("id")):
            resources[f"{res.get('resourceType')}/{res['id']}"] = res
    composition = next((r for r in resources.values() if r.get("resourceType") == "Composition"), None)
    if composition is None:
        raise NotAnIpsBundle("the Bundle has no Composition")
    sections = [_section(catalogue, sec, resources) for sec in _list(composition.get("section"))
                if isinstance(sec, dict)]
    doc_coding = _dict((_list(_dict(composition.get("type")).get("coding")) or [{}])[0])
    language = _str(bundle.get("language")) or _str(composition.get("language"))
    model = display.summary_model(catalogue, _str(doc_coding.get("code")), language, sections, fhir=True,
                                  embedded=_embedded(list({id(r): r for r in resources.values()}.values())),
                                  warnings=warnings)
    return model, json.dumps(bundle, ensure_ascii=False).encode()
