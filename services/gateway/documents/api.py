"""Original clinical documents API (issue 23, docs/original-documents.md): a French HP lists a
foreign patient's documents of one type and period — laboratory, imaging and discharge reports,
medical images — each with a French header, and opens each original (PDF or image) as it was sent.

``GET /v1/original-documents`` runs the same flow as a Patient Summary (consent → router → country
A → translation, every step audited) and waits for its outcome a few seconds; if it has not arrived,
202 and the request id to poll at ``GET /v1/original-documents/requests/{id}``. An original is served
only with the media type the translation service checked against its bytes, inline under a
sandboxing Content-Security-Policy and ``nosniff``: never as HTML.
"""

from __future__ import annotations

from datetime import date
from typing import Callable

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from passerelle.countries import ORIGINAL_DOCUMENTS
from passerelle.envelope import new_envelope
from passerelle.errors import error
from passerelle.events import ORCD_OPENED, ORCD_REQUESTED
from passerelle.orcd import DOCUMENT_TYPES
from passerelle.service import Service
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.auth import origin_of
from services.gateway.documents.tracker import DocumentTracker
from services.gateway.errors import ApiError, unknown
from services.gateway.listings import PatientListingQuery, listing_answer
from services.gateway.publish import Publisher
from services.gateway.documents.lab_view import lab_view

log = structlog.get_logger()
PRODUCER = Service.GATEWAY
BASE = "/v1/original-documents"
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg", "application/fhir+json": "json"}


def original_documents_requested(hp: dict, country: str, patient_id: str, document_type: str, period_start: str | None,
                                 period_end: str | None, purpose: str, consent_confirmed: bool,
                                 information_notice_given: bool, origin: str | None,
                                 service: str = ORIGINAL_DOCUMENTS) -> dict:
    return {"envelope": new_envelope(PRODUCER), "hp": hp,
            "patient": {"country": country.upper(), "patient_id": patient_id}, "purpose": purpose,
            "query": {"document_type": document_type, "period_start": period_start, "period_end": period_end,
                      "service": service},
            "consent_confirmed": consent_confirmed, "information_notice_given": information_notice_given,
            "request_origin": origin}


def document_view(request_id: str, index: int, d: dict) -> dict:
    """One document's header in French (what was sent beside it) and where to open its original."""
    original = {"available": d["refusal"] is None, "media_type": d["media_type"], "size": d["size"],
                "href": f"{BASE}/requests/{request_id}/documents/{index}" if d["refusal"] is None else None,
                "refusal": error(d["refusal"]) if d["refusal"] else None}
    return {"index": index, "document_id": d["document_id"],
            "document_type": {"code": d["document_type"], "original": d["document_type_original"],
                              "display": d["document_type_french"] or d["document_type_original"] or d["document_type"],
                              "translated": d["document_type_french"] is not None},
            "title": d["title"], "created_at": d["created_at"], "service_start": d["service_start"],
            "service_end": d["service_end"], "author": d["author"], "organisation": d["organisation"],
            "country": {"code": d["country"], "display": d["country_french"] or d["country"]},
            "language": {"code": d["language"], "display": d["language_french"] or d["language"]},
            "original": original, "laboratory": lab_view(d.get("laboratory"))}


def original_opened(outcome: dict, document: dict, origin: str | None) -> dict:
    """The audit event of one opening, caused by the outcome that delivered the document."""
    envelope = new_envelope(PRODUCER, outcome["envelope"]["correlation_id"], outcome["envelope"]["event_id"])
    return {"envelope": envelope, "hp": outcome["hp"], "patient": outcome["patient"], "purpose": outcome["purpose"],
            "document_refs": [{"document_id": document["document_id"], "document_type": document["document_type"]}],
            "media_type": document["media_type"], "request_origin": origin}


def listing_view(request_id: str, outcome: dict | None) -> dict:
    if outcome is None:
        return {"request_id": request_id, "status": "pending", "error": None, "query": None, "documents": []}
    return {"request_id": request_id, "status": outcome["status"].lower(), "error": outcome["error"],
            "query": outcome["query"],
            "documents": [document_view(request_id, i, d) for i, d in enumerate(outcome["documents"])]}


def _day(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ApiError(422, "PERIOD_INVALID") from None


def checked_query(document_type: str, period_start: str | None, period_end: str | None) -> tuple[str | None, str | None]:
    """The period's days (ISO), when the document type is known and the period is one (else 422)."""
    if document_type not in DOCUMENT_TYPES:
        raise ApiError(422, "DOCUMENT_TYPE_UNKNOWN")
    start, end = _day(period_start), _day(period_end)
    if start and end and start > end:
        raise ApiError(422, "PERIOD_INVALID")
    return start, end


def openable(outcome: dict | None, index: int) -> dict:
    """Document ``index`` of a listing, when its original may be opened (else 404 or 409)."""
    documents = outcome["documents"] if outcome else []
    if not 0 <= index < len(documents):
        raise ApiError(404, "ORIGINAL_DOCUMENT_NOT_FOUND")
    document = documents[index]
    if document["refusal"] is not None or document["content"] is None:
        raise ApiError(409, document["refusal"] or "ORIGINAL_MISSING")
    return document


def original_response(document: dict, index: int) -> Response:
    """The original with its checked media type, inline (PDF, image) under a sandboxing CSP and
    ``nosniff``, or as an attachment (a FHIR document)."""
    media = document["media_type"]
    name = f"{document['document_type']}-{index + 1}.{EXTENSIONS[media]}"
    disposition = "attachment" if media not in ("application/pdf", "image/png", "image/jpeg") else "inline"
    return Response(document["content"], media_type=media, headers={
        "Content-Disposition": f'{disposition}; filename="{name}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        "Cache-Control": "no-store"})


#: The query's checked parameters, declared as ``checked_query`` checks them (its 422s stay precise:
#: DOCUMENT_TYPE_UNKNOWN, PERIOD_INVALID), so that what OpenAPI allows is what is accepted.
DOCUMENT_TYPE = Query(description="11502-2 laboratory, 18748-4 imaging, 34105-7 discharge, x-clinical-image "
                      "medical images.", json_schema_extra={"enum": list(DOCUMENT_TYPES)})
PERIOD_START = Query(None, description="YYYY-MM-DD, inclusive.", json_schema_extra={"format": "date"})
PERIOD_END = Query(None, description="YYYY-MM-DD, inclusive; not before period_start.",
                   json_schema_extra={"format": "date"})


def documents_router(settings: Settings, caller: Callable[..., HealthProfessionalClaims], publisher: Publisher,
                     tracker: DocumentTracker) -> APIRouter:
    """The routes; ``tracker`` is fed by the gateway's follower."""
    topics = Topics(settings.topic_prefix)
    router = APIRouter(tags=["original documents"])

    @router.get(BASE, summary="A foreign patient's original clinical documents of one type, headers in French",
                responses={202: {"description": "Not back within wait: poll the request id at "
                                                 f"{BASE}/requests/{{request_id}}"}})
    async def list_documents(request: Request, q: PatientListingQuery = Depends(),
                             document_type: str = DOCUMENT_TYPE, period_start: str | None = PERIOD_START,
                             period_end: str | None = PERIOD_END, hp: HealthProfessionalClaims = Depends(caller)):
        """Ask country A for the patient's documents (consent rules as for a Patient Summary); the
        list if it arrives within ``wait`` seconds, else 202 and the request id."""
        start, end = checked_query(document_type, period_start, period_end)
        event = original_documents_requested(hp.as_record(), q.country, q.patient_id, document_type, start, end,
                                             q.purpose, q.consent_confirmed, q.information_notice_given,
                                             origin_of(request))
        request_id = event["envelope"]["correlation_id"]
        tracker.requested(request_id, hp.rpps)
        await publisher.publish(topics.orcd_requested, ORCD_REQUESTED, event)
        log.info("original documents requested", correlation_id=request_id, country=q.country.upper(),
                 document_type=document_type)
        return listing_answer(listing_view, request_id, await tracker.arrived_within(request_id, q.wait))

    def owned(request_id: str, hp: HealthProfessionalClaims) -> dict:
        found = tracker.listing(request_id, hp.rpps)
        if found is None:
            raise unknown(tracker.ready, "REQUEST_NOT_FOUND")
        return found

    @router.get(BASE + "/requests/{request_id}", summary="Poll an original-documents request")
    async def documents_request(request_id: str, hp: HealthProfessionalClaims = Depends(caller)):
        return listing_view(request_id, owned(request_id, hp)["outcome"])

    @router.get(BASE + "/requests/{request_id}/documents/{index}", summary="Open one original (PDF or image)",
                response_class=Response)
    async def open_original(request_id: str, index: int, request: Request, hp: HealthProfessionalClaims = Depends(caller)):
        """The original as country A sent it, with the media type checked against its bytes; the
        opening is audited first (no unaudited opening: 503 when it cannot be)."""
        outcome = owned(request_id, hp)["outcome"]
        document = openable(outcome, index)
        opened = original_opened(outcome, document, origin_of(request))
        await publisher.publish(topics.orcd_opened, ORCD_OPENED, opened)  # not audited: withheld (503)
        log.info("original document opened", correlation_id=request_id, document_type=document["document_type"])
        return original_response(document, index)

    return router
