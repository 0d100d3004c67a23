"""Country A's answers: the patient's pivot document, or the error its NCP would send."""

from __future__ import annotations

import json
from typing import Iterable

from lxml import etree

from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import PS_QUERY, PS_RETRIEVED, request_key
from passerelle.processor import Emit, Incoming, handles
from passerelle.topics import Topics
from services.foreign_ncp.directory import CDA_NS, SAFE_PARSER, CountryFolder

PRODUCER = "foreign-ncp"


def document_language(fmt: str, content: bytes) -> str | None:
    if fmt == "CDA":
        codes = etree.fromstring(content, SAFE_PARSER).xpath("/hl7:ClinicalDocument/hl7:languageCode/@code",
                                                             namespaces=CDA_NS)
        return codes[0] if codes else None
    bundle = json.loads(content)
    return bundle.get("language") or next(
        (e["resource"].get("language") for e in bundle.get("entry", [])
         if e.get("resource", {}).get("resourceType") == "Composition"), None)


def answer(query: dict, directory: dict[str, CountryFolder]) -> tuple[dict | None, dict | None]:
    """``(error, document)`` as country A's NCP answers ``query``."""
    country = directory.get(query["patient"]["country"])
    if country is None or not country.available:
        return error("COUNTRY_UNREACHABLE"), None
    patient = country.patients.get(query["patient"]["patient_id"])
    if patient is None:
        return error("PATIENT_NOT_FOUND"), None
    if not patient.consent:
        return error("NO_CONSENT"), None
    found = patient.document()
    if found is None:
        return error("DOCUMENT_NOT_FOUND"), None
    fmt, path = found
    content = path.read_bytes()
    return None, {"format": fmt, "language": document_language(fmt, content), "content": content}


@handles(PS_QUERY)
def answer_patient_summary_query(incoming: Incoming, topics: Topics,
                                 directory: dict[str, CountryFolder]) -> Iterable[Emit]:
    query = incoming.event
    err, document = answer(query, directory)
    retrieved = {"envelope": caused_by(query, PRODUCER), "hp": query["hp"], "patient": query["patient"],
                 "purpose": query["purpose"], "error": err, "document": document}
    yield Emit(topics.ncp_inbound, PS_RETRIEVED, retrieved, request_key(query))
