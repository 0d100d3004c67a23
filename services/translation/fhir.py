"""HL7 FHIR IPS Bundles: the FHIR translation extension on every coding's display."""

from __future__ import annotations

import html
import json
import re

from services.translation import display
from services.translation.catalogue import Catalogue

TRANSLATION_EXT = "http://hl7.org/fhir/StructureDefinition/translation"
_TAGS = re.compile(r"<[^>]+>")
#: Parts of a resource that hold no clinical coding to translate.
_SKIP = {"meta", "text", "identifier", "subject", "patient", "extension"}


class NotAnIpsBundle(ValueError):
    pass


def _narrative(div: str | None) -> str | None:
    return display.clean_text(html.unescape(_TAGS.sub(" ", div))) if div else None


def _codings(node):
    """Yield ``(coding, text of its CodeableConcept)`` for every coding under ``node``."""
    if isinstance(node, dict):
        if isinstance(node.get("coding"), list):
            for coding in node["coding"]:
                if isinstance(coding, dict) and "system" in coding and "code" in coding:
                    yield coding, node.get("text")
        for key, value in node.items():
            if key not in _SKIP and key != "coding":
                yield from _codings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _codings(item)


def _add_translation(coding: dict, french: str) -> None:
    ext = {"url": TRANSLATION_EXT, "extension": [{"url": "lang", "valueCode": "fr-FR"},
                                                 {"url": "content", "valueString": french}]}
    if "display" in coding:
        coding.setdefault("_display", {}).setdefault("extension", []).append(ext)


def translate_fhir(content: bytes, catalogue: Catalogue) -> tuple[dict, bytes]:
    bundle = json.loads(content)
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise NotAnIpsBundle("not a FHIR Bundle")
    resources = {}
    for e in bundle.get("entry", []):
        res = e.get("resource", {})
        if "fullUrl" in e:
            resources[e["fullUrl"]] = res
        if "id" in res:
            resources[f"{res.get('resourceType')}/{res['id']}"] = res
    composition = next((r for r in resources.values() if r.get("resourceType") == "Composition"), None)
    if composition is None:
        raise NotAnIpsBundle("the Bundle has no Composition")
    sections = []
    for sec in composition.get("section", []):
        codings = sec.get("code", {}).get("coding", [{}])
        entries = []
        for ref in sec.get("entry", []):
            for coding, text in _codings(resources.get(ref.get("reference"), {})):
                entry = display.coded_entry(catalogue, coding["system"], coding["code"], coding.get("display"), text)
                if entry["translated"]:
                    _add_translation(coding, entry["display"])
                entries.append(entry)
        section = display.section(catalogue, codings[0].get("code"), sec.get("title"),
                                  _narrative(sec.get("text", {}).get("div")), entries)
        if section["title_translated"] and codings[0].get("display"):
            _add_translation(codings[0], section["title"])
        sections.append(section)
    language = bundle.get("language") or composition.get("language")
    return {"source_language": language, "sections": sections}, json.dumps(bundle, ensure_ascii=False).encode()
