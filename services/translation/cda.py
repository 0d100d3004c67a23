"""eHDSI pivot CDA (R2, level 3): Patient Summary, ePrescription, eDispensation.

``translate_cda(content, catalogue)`` returns ``(display model, translated document)``. The document
is the one country A sent with, inside each coded element, a ``translation`` child (``hl7:translation``,
also under ``pharm:`` elements, whose coded types are the HL7 ones; ``epsos:translation`` under
``epsos:`` elements, whose schema redefines the data types in its own namespace) carrying the same code and the French
``displayName``; the original ``displayName`` and ``originalText`` are untouched. Issue 6 (dispensing)
uses the same function for ePrescriptions: rows are the prescription items, ``role`` names the
element (``code``, ``formCode``, ``routeCode``…).
"""

from __future__ import annotations

import base64
import binascii

from lxml import etree

from services.translation import cda_statements, display, guard
from services.translation.catalogue import LOINC, Catalogue

NS = "urn:hl7-org:v3"
#: The epSOS medication namespace: its schema declares the coded data types (and their
#: ``translation``) in that namespace; the HL7 pharmacy extension uses the HL7 ones.
EPSOS = "urn:epsos-org:ep:medication"
NSMAP = {"hl7": NS}
#: Coded elements inside a section's entry: any element with a code (translations we or country A
#: added excepted, and CS-typed elements, which cannot carry a translation), or a code/value left
#: empty with a nullFlavor.
CODED = ("descendant::*[@code and local-name() != 'translation' and local-name() != 'statusCode'"
         " and local-name() != 'languageCode' and local-name() != 'signatureCode']"
         " | descendant::*[@nullFlavor and not(@code) and (local-name() = 'code' or local-name() = 'value'"
         " or local-name() = 'formCode' or local-name() = 'routeCode')]")
SECTIONS = "hl7:component/hl7:structuredBody/hl7:component/hl7:section"
#: The clinical statements of a section, those of its sub-sections included.
STATEMENTS = "hl7:entry | .//hl7:section/hl7:entry"
#: Coded elements of the header (document type, gender, confidentiality, author's profession).
HEADER = ("*[local-name() != 'component']/descendant-or-self::*[@code and @codeSystem"
          " and local-name() != 'translation']")
MEDIA = ".//*[@mediaType and @representation='B64'] | .//hl7:nonXMLBody/hl7:text[@mediaType]"
#: Compiled once: the expressions run for every section, entry and coded element of every document.
_CODED = etree.XPath(CODED)
_STATEMENTS = etree.XPath(STATEMENTS, namespaces=NSMAP)
_SECTIONS = etree.XPath(SECTIONS, namespaces=NSMAP)
_HEADER = etree.XPath(HEADER, namespaces=NSMAP)
_MEDIA = etree.XPath(MEDIA, namespaces=NSMAP)
_NARRATIVE_IDS = etree.XPath(".//hl7:text//*[@ID]", namespaces=NSMAP)
_REFERENCE = etree.XPath("*[local-name()='reference']/@value", smart_strings=False)
#: An element's text nodes (what ``itertext()`` yields, comments and processing instructions left out).
_TEXTS = etree.XPath("descendant::text()", smart_strings=False)
_LANGUAGE = etree.XPath("hl7:languageCode/@code", namespaces=NSMAP)
_DOCUMENT_CODE = etree.XPath("hl7:code/@code", namespaces=NSMAP)
_NON_XML_BODY = etree.XPath("hl7:component/hl7:nonXMLBody", namespaces=NSMAP)
_TEMPLATES = etree.XPath("hl7:templateId/@root", namespaces=NSMAP)


class NotACdaDocument(ValueError):
    pass


def _narrative_ids(section: etree._Element) -> dict[str, str]:
    return {el.get("ID"): _text(el) for el in _NARRATIVE_IDS(section)}


def _text(el: etree._Element) -> str | None:
    """The element's text, its text nodes joined by spaces, whitespace runs as one space."""
    return display.clean_text(" ".join(_TEXTS(el)))


def _original_text(el: etree._Element, ids: dict[str, str]) -> str | None:
    original = next(el.iterchildren("{*}originalText"), None)  # (lxml's find() is slower)
    if original is None:
        return None
    ref = _REFERENCE(original)
    if ref and ref[0].lstrip("#") in ids:
        return ids[ref[0].lstrip("#")]
    return _text(original)


#: Coded elements whose schema type allows attributes only (HL7 ``EIVL.event``: the timing event of
#: a dose, "before meals"): their French label is in the display model, not added to the XML.
NO_CONTENT = {"event"}
#: What a ``translation`` repeats of its coded element, in this order (then the French displayName).
CARRIED = ("code", "codeSystem", "codeSystemName", "codeSystemVersion")


def _add_translation(el: etree._Element, french: str) -> None:
    namespace, _, local = el.tag[1:].rpartition("}") if el.tag[0] == "{" else ("", "", el.tag)
    if local in NO_CONTENT:
        return
    namespace = EPSOS if namespace == EPSOS else NS
    attributes = {attr: value for attr in CARRIED if (value := el.get(attr))}
    attributes["displayName"] = french
    etree.SubElement(el, f"{{{namespace}}}translation", attributes)


def _entry(el: etree._Element, ids: dict[str, str], catalogue: Catalogue, row: int) -> dict:
    original = _original_text(el, ids)
    role = el.tag.rpartition("}")[2]
    if el.get("code") is None:
        return display.null_flavor_entry(catalogue, el.get("nullFlavor"), original, row, role)
    entry = display.coded_entry(catalogue, el.get("codeSystem"), el.get("code"), el.get("displayName"),
                                original, row, role)
    if el.get("nullFlavor") and not entry["translated"]:
        entry["flag"] = "NULL_FLAVOR"
    if entry["translated"]:
        _add_translation(el, entry["display"])
    return entry


def _section_code(sec: etree._Element, catalogue: Catalogue) -> tuple[str | None, list[str]]:
    code_el = sec.find(f"{{{NS}}}code")
    if code_el is not None and code_el.get("code"):
        return code_el.get("code"), []
    for template in _TEMPLATES(sec):
        if template in catalogue.section_templates:
            return catalogue.section_templates[template], ["CODE_FROM_TEMPLATE"]
    return None, []


def _section(sec: etree._Element, catalogue: Catalogue) -> dict:
    code, flags = _section_code(sec, catalogue)
    title_el = sec.find(f"{{{NS}}}title")
    text_el = sec.find(f"{{{NS}}}text")
    ids = _narrative_ids(sec)
    statements = _STATEMENTS(sec)
    by_element = {el: _entry(el, ids, catalogue, row) for row, entry_el in enumerate(statements)
                  for el in _CODED(entry_el)}
    entries = list(by_element.values())
    value = cda_statements.value_reader(by_element)
    rows = [cda_statements.read_statement(entry_el, row, code, value, catalogue, ids)
            for row, entry_el in enumerate(statements)]
    title = _text(title_el) if title_el is not None else None
    narrative = _text(text_el) if text_el is not None else None
    result = display.section(catalogue, code, title, narrative, entries, len(statements), flags, rows)
    code_el = sec.find(f"{{{NS}}}code")
    if result["title_translated"] and code_el is not None and code_el.get("codeSystem") == LOINC:
        _add_translation(code_el, result["title"])
    return result


def _embedded(root: etree._Element) -> list[dict]:
    """Documents country A embedded (the PDF of the summary, scanned reports): listed, kept as sent."""
    found = []
    for el in _MEDIA(root):
        sec = next(el.iterancestors(f"{{{NS}}}section"), None)
        code_el = sec.find(f"{{{NS}}}code") if sec is not None else None
        section_code = code_el.get("code") if code_el is not None else None
        try:
            size = len(base64.b64decode("".join((el.text or "").split()), validate=True))
        except (binascii.Error, ValueError):
            size = None
        found.append({"media_type": el.get("mediaType"), "section_code": section_code, "size": size})
    return found


def translate_cda(content: bytes, catalogue: Catalogue) -> tuple[dict, bytes]:
    """``(display model, translated document)``; raises ``etree.XMLSyntaxError`` if unparseable,
    ``guard.HostileDocument`` if hostile and ``NotACdaDocument`` if the XML is not an HL7 CDA
    ``ClinicalDocument``."""
    root = guard.parse_xml(content)
    if root.tag != f"{{{NS}}}ClinicalDocument":
        raise NotACdaDocument("not an HL7 CDA ClinicalDocument")
    language = _LANGUAGE(root)
    document_code = (_DOCUMENT_CODE(root) or [None])[0]
    sections = [_section(sec, catalogue) for sec in _SECTIONS(root)]
    for el in _HEADER(root):
        french = catalogue.french(el.get("codeSystem"), el.get("code"))
        if french:
            _add_translation(el, french)
    non_xml = bool(_NON_XML_BODY(root))
    model = display.summary_model(catalogue, document_code, language[0] if language else None, sections,
                                  embedded=_embedded(root), warnings=["NON_XML_BODY"] if non_xml else [])
    if non_xml:  # a level-1 document (the PDF itself): nothing is missing, nothing to translate
        model["missing_sections"] = []
    return model, etree.tostring(root, xml_declaration=True, encoding="UTF-8")
