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
from collections.abc import Iterator, Mapping

from lxml import etree

from services.translation import cda_statements, display, guard
from services.translation.catalogue import LOINC, Catalogue

NS = "urn:hl7-org:v3"
#: The epSOS medication namespace: its schema declares the coded data types (and their
#: ``translation``) in that namespace; the HL7 pharmacy extension uses the HL7 ones.
EPSOS = "urn:epsos-org:ep:medication"
NSMAP = {"hl7": NS}
TEXT, NON_XML_BODY = f"{{{NS}}}text", f"{{{NS}}}nonXMLBody"
#: Coded elements inside a section's entry: any element with a code (translations we or country A
#: added excepted, and CS-typed elements, which cannot carry a translation), or a code/value left
#: empty with a nullFlavor. (``_coded`` finds them: the attributes through XPath, the rest in Python.)
CODED = ("descendant::*[@code and local-name() != 'translation' and local-name() != 'statusCode'"
         " and local-name() != 'languageCode' and local-name() != 'signatureCode']"
         " | descendant::*[@nullFlavor and not(@code) and (local-name() = 'code' or local-name() = 'value'"
         " or local-name() = 'formCode' or local-name() = 'routeCode')]")
#: Local names ``CODED`` leaves out although they hold a code, and those it keeps with a nullFlavor alone.
NOT_CODED = frozenset({"translation", "statusCode", "languageCode", "signatureCode"})
NULL_CODED = frozenset({"code", "value", "formCode", "routeCode"})
SECTIONS = "hl7:component/hl7:structuredBody/hl7:component/hl7:section"
#: The clinical statements of a section, those of its sub-sections included.
STATEMENTS = "hl7:entry | .//hl7:section/hl7:entry"
#: Coded elements of the header (document type, gender, confidentiality, author's profession).
HEADER = ("*[local-name() != 'component']/descendant-or-self::*[@code and @codeSystem"
          " and local-name() != 'translation']")
#: Embedded documents (``_media`` finds them from the ``mediaType`` attributes, one walk of the tree).
MEDIA = ".//*[@mediaType and @representation='B64'] | .//hl7:nonXMLBody/hl7:text[@mediaType]"
#: Compiled once: the expressions run for every section, entry and coded element of every document.
#: The attributes an element of ``CODED`` or ``MEDIA`` has (the attribute axis is the cheapest walk
#: libxml2 makes: no predicate evaluated per element), in document order.
_CODE_ATTRIBUTES = etree.XPath("descendant::*/@code | descendant::*/@nullFlavor")
_MEDIA_TYPES = etree.XPath("descendant::*/@mediaType")
_STATEMENTS = etree.XPath(STATEMENTS, namespaces=NSMAP)
_SECTIONS = etree.XPath(SECTIONS, namespaces=NSMAP)
_HEADER = etree.XPath(HEADER, namespaces=NSMAP)
#: The ``ID`` attributes of the narrative (elements under a ``text``), their elements by ``getparent()``.
_NARRATIVE_IDS = etree.XPath("descendant::hl7:text/descendant::*/@ID", namespaces=NSMAP)
#: An element's text nodes (what ``itertext()`` yields, comments and processing instructions left out).
_TEXTS = etree.XPath("descendant::text()", smart_strings=False)
_LANGUAGE = etree.XPath("hl7:languageCode/@code", namespaces=NSMAP)
_DOCUMENT_CODE = etree.XPath("hl7:code/@code", namespaces=NSMAP)
_NON_XML_BODY = etree.XPath("hl7:component/hl7:nonXMLBody", namespaces=NSMAP)
_TEMPLATES = etree.XPath("hl7:templateId/@root", namespaces=NSMAP)


class NotACdaDocument(ValueError):
    pass


class NarrativeTexts(Mapping):
    """A section's narrative texts by ``ID``: the elements found in one XPath, the text of each read
    when first asked for (a section's IDs are not all referenced by what the reader looks at)."""

    __slots__ = ("_elements", "_texts")

    def __init__(self, section: etree._Element):
        self._elements = {str(id_): id_.getparent() for id_ in _NARRATIVE_IDS(section)}
        self._texts: dict[str, str | None] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._elements

    def __getitem__(self, key: str) -> str | None:
        if key not in self._texts:
            self._texts[key] = _text(self._elements[key])
        return self._texts[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self[key] if key in self._elements else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._elements)

    def __len__(self) -> int:
        return len(self._elements)


def _coded(entry_el: etree._Element) -> list[etree._Element]:
    """The coded elements of one entry (``CODED``), in document order."""
    found, last = [], None
    for attribute in _CODE_ATTRIBUTES(entry_el):
        el = attribute.getparent()
        if el is last:  # an element with both a code and a nullFlavor
            continue
        last = el
        local = el.tag.rpartition("}")[2]
        if local not in NOT_CODED if el.get("code") is not None else local in NULL_CODED:
            found.append(el)
    return found


def _text(el: etree._Element) -> str | None:
    """The element's text, its text nodes joined by spaces, whitespace runs as one space."""
    return display.clean_text(" ".join(_TEXTS(el)))


def _original_text(el: etree._Element, ids: NarrativeTexts) -> str | None:
    original = next(el.iterchildren("{*}originalText"), None)  # (lxml's find() is slower)
    if original is None:
        return None
    ref = next((value for r in original.iterchildren("{*}reference") if (value := r.get("value")) is not None), None)
    if ref is not None and ref.lstrip("#") in ids:
        return ids[ref.lstrip("#")]
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


def _entry(el: etree._Element, ids: NarrativeTexts, catalogue: Catalogue, row: int) -> dict:
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


def _section_code(sec: etree._Element, code_el: etree._Element | None,
                  catalogue: Catalogue) -> tuple[str | None, list[str]]:
    if code_el is not None and code_el.get("code"):
        return code_el.get("code"), []
    for template in _TEMPLATES(sec):
        if template in catalogue.section_templates:
            return catalogue.section_templates[template], ["CODE_FROM_TEMPLATE"]
    return None, []


def _section(sec: etree._Element, catalogue: Catalogue) -> dict:
    code_el = next(sec.iterchildren(f"{{{NS}}}code"), None)
    code, flags = _section_code(sec, code_el, catalogue)
    title_el = next(sec.iterchildren(f"{{{NS}}}title"), None)
    text_el = next(sec.iterchildren(f"{{{NS}}}text"), None)
    ids = NarrativeTexts(sec)
    statements = _STATEMENTS(sec)
    by_element = {el: _entry(el, ids, catalogue, row) for row, entry_el in enumerate(statements)
                  for el in _coded(entry_el)}
    entries = list(by_element.values())
    value = cda_statements.value_reader(by_element)
    rows = [cda_statements.read_statement(entry_el, row, code, value, catalogue, ids)
            for row, entry_el in enumerate(statements)]
    title = _text(title_el) if title_el is not None else None
    narrative = _text(text_el) if text_el is not None else None
    result = display.section(catalogue, code, title, narrative, entries, len(statements), flags, rows)
    if result["title_translated"] and code_el is not None and code_el.get("codeSystem") == LOINC:
        _add_translation(code_el, result["title"])
    return result


def _media(root: etree._Element) -> list[etree._Element]:
    """The elements ``MEDIA`` selects: base64 data, or the text of a non-XML body, in document order."""
    found = []
    for media_type in _MEDIA_TYPES(root):
        el = media_type.getparent()
        parent = el.getparent()
        if el.get("representation") == "B64" or (el.tag == TEXT and parent is not None and parent.tag == NON_XML_BODY):
            found.append(el)
    return found


def _embedded(root: etree._Element) -> list[dict]:
    """Documents country A embedded (the PDF of the summary, scanned reports): listed, kept as sent."""
    found = []
    for el in _media(root):
        sec = next(el.iterancestors(f"{{{NS}}}section"), None)
        code_el = next(sec.iterchildren(f"{{{NS}}}code"), None) if sec is not None else None
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
