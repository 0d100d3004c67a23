"""France as country A, the inbound boundary for foreign NCPs: ``/ncp/v1`` over HTTP/JSON, each
request carrying its NCP's signed assertion (JWS ES256, ``kid`` in the trust list). A verified
request becomes a ``CrossBorderRequested`` event; the country-a service answers it and this route
answers the foreign NCP with that answer (synchronously, as XCPD/XCA do). Every refusal here is
published on the security events topic (audited) with its eHDSI-style code."""

from __future__ import annotations

import time
from typing import Annotated, Literal

import structlog
import yaml
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from passerelle.crossborder import AssertionRefused, Policy, TrustList, verify_assertion
from passerelle.events import AUTHENTICATION_FAILED, CROSSBORDER_REQUESTED
from passerelle.ins import ins_problem, normalise
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.gateway.auth import authentication_failed, origin_of
from services.gateway.ncp.rules import (ReplayMemory, crossborder_requested, error_body,
                                     identification_answer, status_of, summary_answer)
from services.gateway.ncp.tracker import NcpOutcomes
from services.gateway.publish import Publisher, Unpublished

log = structlog.get_logger()
#: how long a foreign NCP's call waits for France's answer
NCP_WAIT_SECONDS = 15.0
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class NcpPatient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ins: str = Field(max_length=32, description="INS: NIR (13 characters, 2A/2B for Corsica) and its 2-digit key.")
    birth_name: Name | None = None
    first_names: list[Name] = Field([], max_length=10)
    birth_date: str | None = Field(None, pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    sex: Literal["F", "M"] | None = None
    birth_place: str | None = Field(None, pattern=r"^[0-9][0-9AB][0-9]{3}$", description="INSEE code.")


class NcpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requesting_country: str = Field(pattern=r"^[A-Z]{2}$", description="The foreign NCP's country (country B).")
    patient: NcpPatient
    assertion: str | None = Field(None, max_length=8192, description=(
        "The foreign NCP's JWS (ES256, header kid): iss, aud=NCP-FR, jti, iat, exp, country, hp {id, name, role, "
        "organisation, country}, purpose TREATMENT|EMERGENCY, treatment_relationship, patient (the INS)."))


class FieldProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str | None = Field(description="The field's path (a client's own key is *); null: the body itself.")
    problem: str
    count: int | None = Field(None, ge=1, description="unexpected_fields: how many.")


class NcpError(BaseModel):
    code: str
    message: str = Field(description="French.")
    message_en: str
    details: list[FieldProblem] | None = Field(None, description="REQUEST_INVALID: the fields in error.")


class NcpErrorBody(BaseModel):
    error: NcpError


class NcpIdentified(BaseModel):
    status: Literal["found", "not_found", "more_traits_needed"]
    fields: list[str] = Field(description="more_traits_needed: the traits to add.")
    patient: dict | None = Field(description="found: the INS and the patient's INS traits.")
    error: NcpError | None


class NcpSummary(BaseModel):
    status: Literal["completed"]
    document_id: str
    pivot: dict = Field(description="The eHDSI pivot Patient Summary, CDA level 3, fr-FR.")
    original: dict = Field(description="The VSM as the DMP holds it (level 1).")
    untranscoded: list[dict] = Field(description="French codes kept as they are, with their labels.")


ERRORS = {s: {"model": NcpErrorBody} for s in (401, 403, 404, 422, 503)}
#: This boundary's error content in the OpenAPI document, for the statuses every operation declares (400, 413, 422)
ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/NcpErrorBody"}}}


def _checked(body: NcpRequest, trust: TrustList, policy: Policy, replays: ReplayMemory):
    """(refusal code, None) or (None, the verified assertion): the foreign NCP's signed assertion
    (trust list, validity, country, patient, purpose), the INS, then the assertion's first use. An
    untrusted caller learns nothing of the request's content (401 first); a trusted assertion naming
    another INS is a mismatch unless the INS sent is no INS at all (422)."""
    ins = normalise(body.patient.ins)
    if not body.assertion:
        return "ERROR_SEC_ASSERTION_MISSING", None
    now = time.time()
    try:
        assertion = verify_assertion(body.assertion, trust, policy, body.requesting_country, ins, now)
    except AssertionRefused as exc:
        mismatch = exc.code == "ERROR_PI_PATIENT_MISMATCH"
        return ("ERROR_PI_INVALID_IDENTIFIER" if mismatch and ins_problem(ins) else exc.code), None
    if ins_problem(ins):
        return "ERROR_PI_INVALID_IDENTIFIER", None
    if not replays.first_use(assertion.jti, assertion.exp, now - policy.clock_skew_seconds):
        return "ERROR_SEC_ASSERTION_REPLAYED", None
    return None, assertion


def ncp_router(settings: Settings, publisher: Publisher, outcomes: NcpOutcomes) -> APIRouter:
    """The routes; ``outcomes`` fed by the gateway's follower. A foreign NCP gets its answers, 503 included,
    in the eHDSI-style error body of this boundary, not as problem details."""
    topics = Topics(settings.topic_prefix)
    trust, policy = TrustList.load(settings.ncp_trust_list), Policy.load(settings.country_a_policy)
    mask = yaml.safe_load((settings.country_a_policy.parent / "search-mask.yaml").read_text(encoding="utf-8"))
    replays = ReplayMemory()
    router = APIRouter(prefix="/ncp/v1", tags=["France as country A (foreign NCPs)"])

    async def refuse(request: Request, code: str, assertion: str | None) -> JSONResponse:
        event = authentication_failed(code, assertion, None, request.method, request.url.path, origin_of(request))
        await publisher.publish_or_log(topics.security_events, AUTHENTICATION_FAILED, event)
        return JSONResponse(error_body(code), status_code=status_of(code))

    async def ask(request: Request, kind: str, body: NcpRequest):
        code, assertion = _checked(body, trust, policy, replays)
        if code is not None:
            return await refuse(request, code, body.assertion or None)
        ins = normalise(body.patient.ins)
        traits = body.patient.model_dump(exclude={"ins"})
        event = crossborder_requested(kind, body.requesting_country, ins, traits, assertion, origin_of(request))
        request_id = event["envelope"]["correlation_id"]
        outcomes.expect(request_id)
        try:
            await publisher.send(topics.crossborder_requested, CROSSBORDER_REQUESTED, event)
        except Unpublished as exc:
            log.error("NCP request not published", correlation_id=request_id, error_class=str(exc))
            await outcomes.wait(request_id, 0)
            return JSONResponse(error_body("ERROR_SERVICE_UNAVAILABLE"), status_code=503)
        log.info("foreign NCP request", correlation_id=request_id, kind=kind, country=body.requesting_country)
        outcome = await outcomes.wait(request_id, NCP_WAIT_SECONDS)
        if outcome is None:
            return JSONResponse(error_body("ERROR_SERVICE_UNAVAILABLE"), status_code=503)
        status, answer = (identification_answer if kind == "IDENTIFICATION" else summary_answer)(outcome)
        return JSONResponse(answer, status_code=status, headers={"X-Request-Id": request_id})

    @router.post("/patient-identifications", response_model=NcpIdentified, responses=ERRORS)
    async def identify_french_patient(body: NcpRequest, request: Request):
        """Patient identification (XCPD-like): the INS and its traits (birth name and birth date
        required). found (with the patient's INS traits), not_found or more_traits_needed."""
        return await ask(request, "IDENTIFICATION", body)

    @router.post("/patient-summaries", response_model=NcpSummary, responses=ERRORS)
    async def french_patient_summary(body: NcpRequest, request: Request):
        """The French patient's Patient Summary (XCA-like): the eHDSI pivot transcoded from the VSM
        of the patient's DMP, with the VSM itself; or a refusal without any clinical data."""
        return await ask(request, "PATIENT_SUMMARY", body)

    @router.get("/search-mask")
    async def search_mask():
        """France's patient search mask: the INS and its traits."""
        return mask

    return router
