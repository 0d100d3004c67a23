"""The Patient Summary's rules as plain functions: API body → event, outcome event → API answer."""

from __future__ import annotations

from pydantic_core import to_json

from passerelle.documents import UnreadableDocument, unpack
from passerelle.envelope import new_envelope
from passerelle.errors import error
from passerelle.tokens import HealthProfessionalClaims
from passerelle.service import Service

PRODUCER = Service.GATEWAY
CONTENT_TYPES = {"CDA": "application/xml", "FHIR": "application/fhir+json"}


def patient_summary_requested(body: dict, hp: HealthProfessionalClaims, origin: str | None) -> dict:
    return {
        "envelope": new_envelope(PRODUCER),
        "hp": hp.as_record(),
        "patient": {"country": body["country"].upper(), "patient_id": body["patient_id"]},
        "purpose": body["purpose"],
        "consent_confirmed": body["consent"]["confirmed"],
        "information_notice_given": body["consent"]["information_notice_given"],
        "request_origin": origin,
    }


def status_view(request_id: str, outcome: dict | None) -> dict:
    """The API answer for a request, from its outcome event (None while pending)."""
    if outcome is None:
        return {"request_id": request_id, "status": "pending", "error": None, "summary": None}
    summary = outcome["summary"]
    if summary is not None:
        try:
            content = unpack(summary.get("document_encoding"), summary["document"])
        except UnreadableDocument:  # never written so by the translation service; not a 500 either
            return {"request_id": request_id, "status": "failed", "error": error("DOCUMENT_UNREADABLE"), "summary": None}
        summary = {**summary, "document": {"content_type": CONTENT_TYPES[summary["format"]],
                                           "content": content.decode("utf-8", errors="replace")}}
        del summary["document_encoding"]  # how the event stored it: not the API's business
    return {"request_id": request_id, "status": outcome["status"].lower(), "error": outcome["error"],
            "summary": summary}


def status_json(request_id: str, outcome: dict | None) -> bytes:
    """``status_view`` as the JSON body of the API's answer, serialized without validating it again.

    The view is built from an event the Avro schema has already checked field by field; validating
    it once more against ``models.RequestStatus`` was a quarter of the gateway's CPU per summary. That
    the two agree is checked by the tests instead: for every document of the corpus, this body is
    exactly what the validated model would have written (``tests/unit/test_corpus_translation.py``)."""
    return to_json(status_view(request_id, outcome))
