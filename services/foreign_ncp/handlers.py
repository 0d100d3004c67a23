"""Country A's answers: the patient's pivot document, or the error its NCP would send.

Before anything else, country A checks the treatment-relationship confirmation (TRC) that France's
NCP signed: valid signature, at most 2 hours old, and naming the very professional and patient of
the query. Then its own consent (4701 when the patient has not consented there).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable

from passerelle.documents import pack
from passerelle.envelope import caused_by
from passerelle.errors import error
from passerelle.events import (DISPENSATION_SUBMITTED, EP_QUERY, IDENTIFICATION_QUERY, ORCD_QUERY, PS_QUERY, PS_RETRIEVED,
                               identification_outcome, request_key)
from passerelle.processor import Emit, Handlers, Incoming
from passerelle.service import Service
from passerelle.tokens import ConfirmationVerifier, TokenError
from passerelle.topics import Topics
from services.foreign_ncp.directory import CountryFolder, patient_refusal
from services.foreign_ncp.identification import identify
from services.foreign_ncp.orcd import answer_orcd_query
from services.foreign_ncp.prescriptions import Ledger, answer_dispensation, answer_prescription_query

PRODUCER = Service.FOREIGN_NCP
#: Everything France's NCP sends country A (on ``ncp.<country>.outbound``): an identification, a
#: summary query, a prescriptions query, an original-documents query, a dispensation. Every function takes
#: ``(incoming, topics, directory, verifier, ledger, now=None)``.
answer_ncp_request = Handlers()
OUTBOUND = "ncp_outbound"


def answer(query: dict, directory: dict[str, CountryFolder]) -> tuple[dict | None, dict | None]:
    """``(error, document)`` as country A's NCP answers ``query``."""
    refusal, patient = patient_refusal(directory.get(query["patient"]["country"]), query["patient"]["patient_id"])
    if refusal is not None:
        return error(refusal), None
    document = patient.document
    if document is None:
        return error("DOCUMENT_NOT_FOUND"), None
    encoding, content = packed(document.path)
    return None, {"format": document.format, "language": document.language, "content": content, "encoding": encoding}


@lru_cache(maxsize=256)
def packed(path: Path) -> tuple[str, bytes]:
    """A stored document as it travels, read and packed at its first query only (the directory is
    read once at start-up too; documents are not read before a query asks for one)."""
    return pack(path.read_bytes())


def confirmation_refusal(query: dict, verifier: ConfirmationVerifier, now: int | None = None) -> str | None:
    """Why country A refuses the query's treatment-relationship confirmation, or None."""
    token = query.get("treatment_relationship")
    if not token:
        return "TREATMENT_RELATIONSHIP_INVALID"
    try:
        confirmed = verifier.verify(token, now)
    except TokenError as exc:
        return exc.code
    patient = query["patient"]
    if not confirmed.binds(query["hp"]["rpps"], patient["country"], patient["patient_id"]):
        return "TREATMENT_RELATIONSHIP_INVALID"
    return None


def answer_patient_summary_query(incoming: Incoming, topics: Topics, directory: dict[str, CountryFolder],
                                 verifier: ConfirmationVerifier, now: int | None = None) -> Iterable[Emit]:
    query = incoming.event
    refusal = confirmation_refusal(query, verifier, now)
    err, document = (error(refusal), None) if refusal else answer(query, directory)
    retrieved = {"envelope": caused_by(query, PRODUCER), "hp": query["hp"], "patient": query["patient"],
                 "purpose": query["purpose"], "error": err, "document": document}
    yield Emit(topics.ncp_inbound, PS_RETRIEVED, retrieved, request_key(query))


def answer_identification_query(incoming: Incoming, topics: Topics, directory: dict[str, CountryFolder]) -> Iterable[Emit]:
    """Who the patient is, as country A answers: the outcome goes straight back to the gateway."""
    query = incoming.event
    country = query["patient"]["country"]
    answer = identify(query["search_fields"], directory.get(country))
    mapped = {"country": country, "patient_id": answer.patient_id} if answer.patient_id else None
    yield identification_outcome(topics, query, PRODUCER, answer.status, answer.error, answer.fields, mapped)


@answer_ncp_request.on(IDENTIFICATION_QUERY, topic=OUTBOUND)
def _identification(incoming: Incoming, topics: Topics, directory: dict[str, CountryFolder],
                    verifier: ConfirmationVerifier, ledger: Ledger, now: int | None = None) -> Iterable[Emit]:
    return answer_identification_query(incoming, topics, directory)


@answer_ncp_request.on(PS_QUERY, topic=OUTBOUND)
def _patient_summary(incoming: Incoming, topics: Topics, directory: dict[str, CountryFolder],
                     verifier: ConfirmationVerifier, ledger: Ledger, now: int | None = None) -> Iterable[Emit]:
    return answer_patient_summary_query(incoming, topics, directory, verifier, now)


@answer_ncp_request.on(EP_QUERY, topic=OUTBOUND)
def _prescriptions(incoming: Incoming, topics: Topics, directory: dict[str, CountryFolder],
                   verifier: ConfirmationVerifier, ledger: Ledger, now: int | None = None) -> Iterable[Emit]:
    event = incoming.event
    refusal = confirmation_refusal(event, verifier, now)
    yield answer_prescription_query(event, directory.get(event["patient"]["country"]), refusal, topics)


@answer_ncp_request.on(ORCD_QUERY, topic=OUTBOUND)
def _original_documents(incoming: Incoming, topics: Topics, directory: dict[str, CountryFolder],
                        verifier: ConfirmationVerifier, ledger: Ledger, now: int | None = None) -> Iterable[Emit]:
    event = incoming.event
    refusal = confirmation_refusal(event, verifier, now)
    yield answer_orcd_query(event, directory.get(event["patient"]["country"]), refusal, topics)


@answer_ncp_request.on(DISPENSATION_SUBMITTED, topic=OUTBOUND)
def _dispensation(incoming: Incoming, topics: Topics, directory: dict[str, CountryFolder],
                  verifier: ConfirmationVerifier, ledger: Ledger, now: int | None = None) -> Iterable[Emit]:
    return answer_dispensation(incoming.event, ledger, topics)
