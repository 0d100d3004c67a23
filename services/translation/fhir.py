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

from services.translation import display
from services.translation.catalogue import Catalogue

TRANSLATION_EXT = "http://hl7.org/fhir/StructureDefinition/translation"
LOINC_URI = "http://loinc.org"
_TAGS = re.compile(r"<[^>]+>")
#: Parts of a resource that hold no clinical coding to translate.
_SKIP = {"meta", "text", "identifier", "subject", "patient", "extension", "contained"}


class NotAnIpsBundle(ValueError):
    pass


def _narrative(div: str | None) -> str | None:
    return display.clean_text(html.unescape(_TAGS.sub(" ", div))) if isinstance(div, str) else None


def _codings(node, role: str | None = None):
    """Yield ``(coding, text of its CodeableConcept, role)`` for every coding under ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get("coding"), list):
            for coding in node["coding"]:
                if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                    yield coding, node.get("text"), role
        for key, value in node.items():
            if key not in _SKIP and key != "coding":
                yield from _codings(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from _codings(item, role)


def _add_translation(coding: dict, french: str) -> None:
    ext = {"url": TRANSLATION_EXT, "extension": [{"url": "lang", "valueCode": "fr-FR"},
                                                 {"url": "content", "valueString": french}]}
    coding.setdefault("_display", {}).setdefault("extension", []).append(ext)


def _entry(catalogue: Catalogue, coding: dict, text: str | None, row: int, role: str | None) -> dict:
    system = coding.get("system") if isinstance(coding.get("system"), str) else None
    entry = display.coded_entry(catalogue, system, coding["code"], coding.get("display"), text, row, role)
    if entry["translated"]:
        _add_translation(coding, entry["display"])
    return entry


def _embedded(resources: list[dict]) -> list[dict]:
    found = []
    for res in resources:
        attachments = [res] if res.get("resourceType") == "Binary" else [
            c.get("attachment") for c in res.get("content", []) if isinstance(c, dict)
        ] if res.get("resourceType") == "DocumentReference" else []
        for att in attachments:
            if isinstance(att, dict) and att.get("contentType") and att.get("data"):
                try:
                    size = len(base64.b64decode(att["data"], validate=True))
                except (binascii.Error, ValueError, TypeError):
                    size = None
                found.append({"media_type": att["contentType"], "section_code": None, "size": size})
    return found


def _referenced(resource: dict, resources: dict[str, dict]) -> list[dict]:
    """The product a medication statement points to: its codes belong to the same row."""
    ref = resource.get("medicationReference")
    target = resources.get(ref.get("reference")) if isinstance(ref, dict) else None
    return [target] if isinstance(target, dict) else []


def _section(catalogue: Catalogue, sec: dict, resources: dict[str, dict]) -> dict:
    codings = (sec.get("code") or {}).get("coding") or [{}]
    code = codings[0].get("code") if codings[0].get("system") in (LOINC_URI, None) else None
    entries = []
    statements = sec.get("entry") if isinstance(sec.get("entry"), list) else []
    for row, ref in enumerate(statements):
        resource = resources.get(ref.get("reference")) if isinstance(ref, dict) else None
        for part in [resource or {}, *_referenced(resource or {}, resources)]:
            for coding, text, role in _codings(part):
                entries.append(_entry(catalogue, coding, text, row, role))
    title = sec.get("title") if isinstance(sec.get("title"), str) else None
    result = display.section(catalogue, code, display.clean_text(title),
                             _narrative((sec.get("text") or {}).get("div")), entries, len(statements))
    if result["title_translated"]:
        _add_translation(codings[0], result["title"])
    return result


def translate_fhir(content: bytes, catalogue: Catalogue) -> tuple[dict, bytes]:
    """``(display model, translated Bundle)``; raises ``json.JSONDecodeError`` or ``NotAnIpsBundle``."""
    bundle = json.loads(content)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise NotAnIpsBundle("not a FHIR Bundle")
    warnings = []
    try:
        Bundle.model_validate(bundle)
    except ValidationError:
        warnings.append("FHIR_INVALID")
    resources: dict[str, dict] = {}
    for e in bundle.get("entry") or []:
        res = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(res, dict):
            continue
        if isinstance(e.get("fullUrl"), str):
            resources[e["fullUrl"]] = res
        if isinstance(res.get("id"), str):
            resources[f"{res.get('resourceType')}/{res['id']}"] = res
    composition = next((r for r in resources.values() if r.get("resourceType") == "Composition"), None)
    if composition is None:
        raise NotAnIpsBundle("the Bundle has no Composition")
    sections = [_section(catalogue, sec, resources) for sec in composition.get("section") or []
                if isinstance(sec, dict)]
    doc_codings = (composition.get("type") or {}).get("coding") or [{}]
    language = bundle.get("language") or composition.get("language")
    model = display.summary_model(catalogue, doc_codings[0].get("code"), language, sections, fhir=True,
                                  embedded=_embedded(list({id(r): r for r in resources.values()}.values())),
                                  warnings=warnings)
    return model, json.dumps(bundle, ensure_ascii=False).encode()
