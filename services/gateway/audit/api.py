"""``GET /v1/audit/accesses``: who accessed a patient's health data, when and why (issue 5).

Authorisation (docs/adr/0021-audit-accesses-authorisation.md): the caller's token must carry the
scope ``audit:read`` — a security officer, or the patient-information service that answers
patients. Everyone else gets 403 ``AUDIT_SCOPE_REQUIRED``. The list is read from the audit store.
Every answer and every refusal is itself audited (``AuditTrailRead``); a list whose reading cannot
be audited is not given (503).
"""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode
from typing import Annotated, Callable

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from passerelle.envelope import new_envelope
from passerelle.events import AUDIT_TRAIL_READ
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from passerelle.service import Service
from passerelle.topics import Topics
from services.gateway.auth import origin_of
from services.gateway.errors import ApiError
from services.gateway.publish import Publisher

log = structlog.get_logger()
AUDIT_READ_SCOPE = "audit:read"

class AccessedDocument(BaseModel):
    document_id: str = Field(description="The document's identifier as the patient's country gave it.")
    document_type: str = Field(description="LOINC code of its type, e.g. 11502-2 (laboratory report).")


class Access(BaseModel):
    accessed_at: datetime = Field(description="When the health professional received the data (UTC).")
    rpps: str = Field(description="RPPS number of the health professional.")
    profession: str = Field(description="French profession code of the health professional.")
    organisation: str = Field(description="Organisation the health professional acted for.")
    point_of_care: str | None = Field(description="Where the professional acted, when asserted.")
    purpose: str | None = Field(description="Why: TREATMENT or EMERGENCY.")
    action: str = Field(description="The audited step that was the access, e.g. PS_OUTCOME.")
    request_id: str = Field(description="Id of the professional's request (correlation id).")
    documents: list[AccessedDocument] = Field(default_factory=list, description=(
        "The documents this access disclosed (original clinical documents: identifier and type)."))


class Accesses(BaseModel):
    country: str
    patient_id: str
    accesses: list[Access]
    next_cursor: str | None = Field(description="Give it as cursor for the next page (older accesses); "
                                                "null on the last page. Also in the Link header (rel=next).")


#: Accesses per page at most, and by default.
MAX_PAGE, DEFAULT_PAGE = 1000, 100


#: A cursor: the position after which the next page starts (time of the step in ms, sequence
#: number). Clients give it back as they got it; any value of this form is a valid position.
CURSOR_PATTERN = r"^[0-9]{1,18}\.[0-9]{1,18}$"


def encode_cursor(position: tuple[int, int]) -> str:
    return f"{position[0]}.{position[1]}"


def decode_cursor(cursor: str) -> tuple[int, int]:
    occurred_at, seq = cursor.split(".")
    return int(occurred_at), int(seq)


def access_view(record: dict) -> dict:
    hp = record["hp"]
    return {"accessed_at": datetime.fromtimestamp(record["source_occurred_at"] / 1000, timezone.utc),
            "rpps": hp["rpps"], "profession": hp["profession"], "organisation": hp["organisation"],
            "point_of_care": record.get("point_of_care"), "purpose": record.get("purpose"),
            "action": record["action"], "request_id": record["envelope"]["correlation_id"],
            "documents": record.get("document_refs") or []}


def trail_read(who: HealthProfessionalClaims, country: str, patient_id: str, origin: str | None,
               refusal: str | None = None, listed: int = 0) -> dict:
    """The ``AuditTrailRead`` event of one call."""
    return {"envelope": new_envelope(Service.GATEWAY), "hp": who.as_record(),
            "patient": {"country": country, "patient_id": patient_id}, "authorised": refusal is None,
            "reason_code": refusal, "accesses_listed": listed, "request_origin": origin}


def audit_router(settings: Settings, caller: Callable[..., HealthProfessionalClaims], publisher: Publisher) -> APIRouter:
    audit_reads = Topics(settings.topic_prefix).audit_reads
    router = APIRouter(tags=["audit"])
    stores: list = []

    def store():
        if not stores:
            from passerelle.audit_store import AuditStore
            stores.append(AuditStore.from_settings(settings))
        return stores[0]

    @router.get("/v1/audit/accesses", response_model=Accesses)
    async def list_accesses(request: Request,
                            country: Annotated[str, Query(pattern=r"^[A-Za-z]{2}$", description="Country of affiliation.")],
                            patient_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$",
                                                             description="The patient's identifier in that country.")],
                            response: Response,
                            limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Accesses per page.")] = DEFAULT_PAGE,
                            cursor: Annotated[str | None, Query(pattern=CURSOR_PATTERN,
                                                                description="next_cursor of the previous page.")] = None,
                            who: HealthProfessionalClaims = Depends(caller)):
        """Who accessed this patient's health data, when and why (newest first), a page at a time.
        Needs the scope audit:read."""
        country, origin = country.upper(), origin_of(request)
        before = decode_cursor(cursor) if cursor else None
        if AUDIT_READ_SCOPE not in who.scopes:
            log.warning("audit accesses refused", reason="AUDIT_SCOPE_REQUIRED")
            refused = trail_read(who, country, patient_id, origin, refusal="AUDIT_SCOPE_REQUIRED")
            await publisher.publish_or_log(audit_reads, AUDIT_TRAIL_READ, refused)  # the refusal stands unaudited
            raise ApiError(403, "AUDIT_SCOPE_REQUIRED")
        try:
            page = await run_in_threadpool(store().accesses_page, country, patient_id, limit + 1, before)
        except SQLAlchemyError as exc:
            log.error("audit store unavailable", error_class=type(exc).__name__)
            raise ApiError(503, "AUDIT_STORE_UNAVAILABLE") from exc
        records = [record for record, _ in page[:limit]]
        next_cursor = encode_cursor(page[limit - 1][1]) if len(page) > limit else None
        # no unaudited reading of the audit trail: 503 when it cannot be audited
        await publisher.publish(audit_reads, AUDIT_TRAIL_READ, trail_read(who, country, patient_id, origin,
                                                                          listed=len(records)))
        log.info("audit accesses listed", country=country, count=len(records))
        if next_cursor:
            query = urlencode({"country": country, "patient_id": patient_id, "limit": limit, "cursor": next_cursor})
            response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
        return {"country": country, "patient_id": patient_id, "accesses": [access_view(r) for r in records],
                "next_cursor": next_cursor}

    return router
