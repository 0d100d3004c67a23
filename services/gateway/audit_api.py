"""``GET /v1/audit/accesses``: who accessed a patient's health data, when and why (issue 5).

Authorisation (docs/adr/0021-audit-accesses-authorisation.md): the caller's token must carry the
scope ``audit:read`` — a security officer, or the patient-information service that answers
patients. Everyone else gets 403 ``AUDIT_SCOPE_REQUIRED``. The list is read from the audit store.
Every answer and every refusal is itself audited (``AuditTrailRead``); a list whose reading cannot
be audited is not given (503).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Awaitable, Callable

import structlog
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from passerelle.envelope import new_envelope
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from services.gateway.errors import ApiError

log = structlog.get_logger()
AUDIT_READ_SCOPE = "audit:read"

#: Publishes an ``AuditTrailRead`` event; raises ``KafkaError`` when it cannot.
Publish = Callable[[dict], Awaitable[None]]


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
    return {"envelope": new_envelope("gateway"), "hp": who.as_record(),
            "patient": {"country": country, "patient_id": patient_id}, "authorised": refusal is None,
            "reason_code": refusal, "accesses_listed": listed, "request_origin": origin}


def audit_router(settings: Settings, caller: Callable[..., HealthProfessionalClaims], publish: Publish) -> APIRouter:
    router = APIRouter(tags=["audit"])
    stores: list = []

    def store():
        if not stores:
            from services.audit.store.db import AuditStore
            stores.append(AuditStore.from_settings(settings))
        return stores[0]

    @router.get("/v1/audit/accesses", response_model=Accesses)
    async def list_accesses(request: Request,
                            country: Annotated[str, Query(pattern=r"^[A-Za-z]{2}$", description="Country of affiliation.")],
                            patient_id: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[\w.\-/]+$",
                                                             description="The patient's identifier in that country.")],
                            who: HealthProfessionalClaims = Depends(caller)):
        """Who accessed this patient's health data, when and why (newest first). Needs the scope audit:read."""
        country, origin = country.upper(), request.client.host if request.client else None
        if AUDIT_READ_SCOPE not in who.scopes:
            log.warning("audit accesses refused", reason="AUDIT_SCOPE_REQUIRED")
            try:
                await publish(trail_read(who, country, patient_id, origin, refusal="AUDIT_SCOPE_REQUIRED"))
            except KafkaError as exc:  # the refusal stands even if it cannot be audited; say so
                log.error("refusal not audited", error_class=type(exc).__name__)
            raise ApiError(403, "AUDIT_SCOPE_REQUIRED")
        try:
            records = await run_in_threadpool(store().accesses, country, patient_id)
        except SQLAlchemyError as exc:
            log.error("audit store unavailable", error_class=type(exc).__name__)
            raise ApiError(503, "AUDIT_STORE_UNAVAILABLE") from exc
        try:
            await publish(trail_read(who, country, patient_id, origin, listed=len(records)))
        except KafkaError as exc:  # no unaudited reading of the audit trail
            log.error("audit trail read not audited; answer withheld", error_class=type(exc).__name__)
            raise ApiError(503, "GATEWAY_UNAVAILABLE") from exc
        log.info("audit accesses listed", country=country, count=len(records))
        return {"country": country, "patient_id": patient_id, "accesses": [access_view(r) for r in records]}

    return router
