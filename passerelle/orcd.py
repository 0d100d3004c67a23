"""Reading an eHDSI Original Clinical Document (OrCD): a CDA header (patient, author, organisation,
dates, document type) around the original document embedded in ``nonXMLBody/text`` (base64, with
its declared media type). Shared by country A's simulator (which documents match a query) and the
translation service (the French header, the original checked before it is served).

The parser resolves no entity, loads no DTD and reaches no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from lxml import etree

NS = {"hl7": "urn:hl7-org:v3"}
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)

#: The document types of the OrCD service (eHDSI): LOINC codes, and eHDSI's own code for images.
LABORATORY_REPORT = "11502-2"
IMAGING_STUDY = "18748-4"
DISCHARGE_SUMMARY = "34105-7"
MEDICAL_IMAGES = "x-clinical-image"
DOCUMENT_TYPES = (LABORATORY_REPORT, IMAGING_STUDY, DISCHARGE_SUMMARY, MEDICAL_IMAGES)


class NotAnOrcd(ValueError):
    """The document is not a CDA ClinicalDocument with a non-XML body."""


@dataclass(frozen=True)
class EmbeddedOriginal:
    media_type: str | None  # as declared (text/@mediaType)
    representation: str | None  # B64 expected
    text: str  # the base64 text, not decoded yet


def parse(content: bytes) -> etree._Element:
    root = etree.fromstring(content, SAFE_PARSER)
    if etree.QName(root).localname != "ClinicalDocument" or etree.QName(root).namespace != NS["hl7"]:
        raise NotAnOrcd("not an HL7 CDA ClinicalDocument")
    return root


def _first(root: etree._Element, path: str) -> str | None:
    found = root.xpath(path, namespaces=NS)
    if not found:
        return None
    value = found[0] if isinstance(found[0], str) else " ".join(found[0].itertext())
    value = " ".join(str(value).split())
    return value or None


def iso_time(value: str | None) -> str | None:
    """An HL7 TS (``YYYYMMDD[HHMM[SS]][+ZZZZ]``) as ISO 8601; None when it is not one."""
    if not value or len(value) < 8 or not value[:8].isdigit():
        return None
    day = f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    clock = value[8:14]
    if len(clock) >= 4 and clock.isdigit():
        day += f"T{clock[:2]}:{clock[2:4]}" + (f":{clock[4:6]}" if len(clock) == 6 else "")
        zone = value[14:] if len(clock) == 6 else value[12:]
        if len(zone) == 5 and zone[0] in "+-" and zone[1:].isdigit():
            day += f"{zone[:3]}:{zone[3:]}"
    return day


def _name(root: etree._Element, path: str) -> str | None:
    names = root.xpath(path, namespaces=NS)
    if not names:
        return None
    parts = [" ".join(t.split()) for part in ("prefix", "given", "family")
             for t in names[0].xpath(f"hl7:{part}/text()", namespaces=NS)]
    return " ".join(p for p in parts if p) or _first(root, path)


def document_id(root: etree._Element) -> str:
    ident = root.xpath("hl7:id", namespaces=NS)
    if not ident:
        raise NotAnOrcd("no document id")
    root_oid, extension = ident[0].get("root"), ident[0].get("extension")
    return f"{root_oid}^{extension}" if extension else (root_oid or "")


def patient_ids(root: etree._Element) -> list[str]:
    """The patient identifiers of the header (``recordTarget/patientRole/id``): each extension, and
    ``root^extension`` as the document id is written."""
    ids = []
    for ident in root.xpath("hl7:recordTarget/hl7:patientRole/hl7:id", namespaces=NS):
        if ident.get("extension"):
            ids += [ident.get("extension"), f"{ident.get('root')}^{ident.get('extension')}"]
    return ids


def read_header(root: etree._Element) -> dict:
    """What the HP reads of the header, as sent (the French labels are the translation's)."""
    author = "hl7:author/hl7:assignedAuthor"
    organisation = f"{author}/hl7:representedOrganization"
    event = "hl7:documentationOf/hl7:serviceEvent/hl7:effectiveTime"
    return {
        "document_id": document_id(root),
        "document_type": root.xpath("string(hl7:code/@code)", namespaces=NS),
        "document_type_original": root.xpath("string(hl7:code/@displayName)", namespaces=NS) or None,
        "title": _first(root, "hl7:title"),
        "created_at": iso_time(root.xpath("string(hl7:effectiveTime/@value)", namespaces=NS)),
        "service_start": iso_time(root.xpath(f"string({event}/hl7:low/@value)", namespaces=NS)),
        "service_end": iso_time(root.xpath(f"string({event}/hl7:high/@value)", namespaces=NS)),
        "author": _name(root, f"{author}/hl7:assignedPerson/hl7:name"),
        "organisation": _first(root, f"{organisation}/hl7:name"),
        "country": _first(root, f"{organisation}/hl7:addr/hl7:country")
        or _first(root, "hl7:custodian//hl7:addr/hl7:country"),
        "language": root.xpath("string(hl7:languageCode/@code)", namespaces=NS) or None,
    }


def embedded_original(root: etree._Element) -> EmbeddedOriginal | None:
    text = root.xpath("hl7:component/hl7:nonXMLBody/hl7:text", namespaces=NS)
    if not text:
        return None
    return EmbeddedOriginal(text[0].get("mediaType"), text[0].get("representation"), text[0].text or "")


def clinical_date(header: dict) -> date | None:
    """The day the document is about: the care it documents (end, else start), else its creation."""
    for key in ("service_end", "service_start", "created_at"):
        if header.get(key):
            try:
                return date.fromisoformat(header[key][:10])
            except ValueError:
                continue
    return None


def period_valid(start: str | None, end: str | None) -> bool:
    """Both bounds are days (YYYY-MM-DD) or absent, the start not after the end."""
    try:
        days = [date.fromisoformat(d) if d is not None else None for d in (start, end)]
    except (ValueError, TypeError):
        return False
    return None in days or days[0] <= days[1]


def within(header: dict, start: str | None, end: str | None) -> bool:
    """The document falls in the period ``[start, end]`` (days, inclusive; None: unbounded). A
    document without any date is kept: the HP sees it rather than miss it."""
    day = clinical_date(header)
    if day is None:
        return True
    return (start is None or day >= date.fromisoformat(start)) and (end is None or day <= date.fromisoformat(end))
