"""eHDSI pivot CDA (R2, level 3): French ``translation`` elements next to every coded element."""

from __future__ import annotations

from lxml import etree

from services.translation import display
from services.translation.catalogue import LOINC, Catalogue

NS = "urn:hl7-org:v3"
NSMAP = {"hl7": NS}
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                              remove_blank_text=False)
#: Coded elements inside a section's entries: any element with code + codeSystem, or a
#: code/value left empty with a nullFlavor. Translations we add are not themselves translated.
CODED = (".//hl7:entry//*[@code and @codeSystem and local-name() != 'translation']"
         " | .//hl7:entry//*[@nullFlavor and (local-name() = 'code' or local-name() = 'value')]")


def _narrative_ids(section: etree._Element) -> dict[str, str]:
    return {el.get("ID"): display.clean_text(" ".join(el.itertext()))
            for el in section.xpath("hl7:text//*[@ID]", namespaces=NSMAP)}


def _original_text(el: etree._Element, ids: dict[str, str]) -> str | None:
    ref = el.xpath("hl7:originalText/hl7:reference/@value", namespaces=NSMAP)
    if ref and ref[0].lstrip("#") in ids:
        return ids[ref[0].lstrip("#")]
    original = el.find(f"{{{NS}}}originalText")
    if original is not None:
        return display.clean_text(" ".join(original.itertext()))
    return None


def _add_translation(el: etree._Element, french: str) -> None:
    translation = etree.SubElement(el, f"{{{NS}}}translation")
    for attr in ("code", "codeSystem", "codeSystemName"):
        if el.get(attr):
            translation.set(attr, el.get(attr))
    translation.set("displayName", french)


def _entry(el: etree._Element, ids: dict[str, str], catalogue: Catalogue) -> dict:
    original = _original_text(el, ids)
    if el.get("nullFlavor") and not el.get("code"):
        return display.null_flavor_entry(catalogue, el.get("nullFlavor"), original)
    entry = display.coded_entry(catalogue, el.get("codeSystem"), el.get("code"), el.get("displayName"), original)
    if entry["translated"]:
        _add_translation(el, entry["display"])
    return entry


def translate_cda(content: bytes, catalogue: Catalogue) -> tuple[dict, bytes]:
    """``(display model, translated document)``; raises ``etree.XMLSyntaxError`` if unparseable."""
    root = etree.fromstring(content, SAFE_PARSER)
    language = root.xpath("hl7:languageCode/@code", namespaces=NSMAP)
    sections = []
    for sec in root.xpath("hl7:component/hl7:structuredBody/hl7:component/hl7:section", namespaces=NSMAP):
        code_el = sec.find(f"{{{NS}}}code")
        code = code_el.get("code") if code_el is not None else None
        title_el = sec.find(f"{{{NS}}}title")
        text_el = sec.find(f"{{{NS}}}text")
        ids = _narrative_ids(sec)
        entries = [_entry(el, ids, catalogue) for el in sec.xpath(CODED, namespaces=NSMAP)]
        section = display.section(catalogue, code, display.clean_text(title_el.text if title_el is not None else None),
                                  display.clean_text(" ".join(text_el.itertext())) if text_el is not None else None,
                                  entries)
        if section["title_translated"] and code_el is not None and code_el.get("codeSystem") == LOINC:
            _add_translation(code_el, section["title"])
        sections.append(section)
    model = {"source_language": language[0] if language else None, "sections": sections}
    return model, etree.tostring(root, xml_declaration=True, encoding="UTF-8")
