"""Country A's answers: the patient's pivot document, or the error its NCP would send."""

from __future__ import annotations

from typing import Iterable

from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import PS_QUERY, PS_RETRIEVED, request_key
from passerelle.processor import Emit, Incoming, handles
from passerelle.topics import Topics
from services.foreign_ncp.directory import CountryFolder

PRODUCER = "foreign-ncp"


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
    document = patient.document
    if document is None:
        return error("DOCUMENT_NOT_FOUND"), None
    return None, {"format": document.format, "language": document.language, "content": document.path.read_bytes()}


@handles(PS_QUERY)
def answer_patient_summary_query(incoming: Incoming, topics: Topics,
                                 directory: dict[str, CountryFolder]) -> Iterable[Emit]:
    query = incoming.event
    err, document = answer(query, directory)
    retrieved = {"envelope": caused_by(query, PRODUCER), "hp": query["hp"], "patient": query["patient"],
                 "purpose": query["purpose"], "error": err, "document": document}
    yield Emit(topics.ncp_inbound, PS_RETRIEVED, retrieved, request_key(query))
