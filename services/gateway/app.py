"""The HTTP API (FastAPI). Wiring only: rules live in handlers.py, state in the views that the
gateway's one follower (follower.py) feeds: tracker.py, identification_tracker.py,
prescription_tracker.py and the dashboard's StreamWatch."""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager

import structlog
from aiokafka.errors import KafkaError
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

from passerelle import kafka
from passerelle.countries import CountryRegistry
from passerelle.events import AUDIT_TRAIL_READ, AUTHENTICATION_FAILED, PS_REQUESTED, request_key
from passerelle.professionals import identity_refusal, load_directory, load_professions
from passerelle.runtime import make_serde
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims, TokenError, TokenVerifier
from passerelle.topics import Topics
from services.gateway import handlers
from services.gateway.audit_api import audit_router
from services.gateway.broker_probe import broker_reachable
from services.gateway.dashboard import StreamWatch, dashboard_router
from services.gateway.errors import ApiError, install_error_handling, unknown
from services.gateway.identification_schema import identification_request_schema
from services.gateway.openapi_errors import install_openapi
from services.gateway.prefer import preferred_wait
from services.gateway.follower import Follower, stop_gateway_if_failed
from services.gateway.identification_api import identification_router
from services.gateway.identification_tracker import IdentificationTracker
from services.gateway.ncp_api import ncp_router
from services.gateway.ncp_inbound import NcpOutcomes
from services.gateway.prescription_api import prescription_router
from services.gateway.prescription_tracker import PrescriptionTracker
from services.gateway.portal_api import install_portal
from services.gateway.portal_oidc import OidcSignIn, oidc_enabled
from services.gateway.patient_space import mount_patient_space
from services.gateway.models import Accepted, CountryView, PatientSummaryRequest, RequestStatus
from services.gateway.settings import MAX_TRACKED_REQUESTS, MAX_WAIT_SECONDS, REQUEST_TTL_SECONDS, GatewaySettings
from services.gateway.tracker import RequestTracker

log = structlog.get_logger()
REQUESTS = Counter("passerelle_gateway_requests", "Patient Summary requests accepted", ["country"])
AUTH_FAILURES = Counter("passerelle_gateway_auth_failures", "Refused tokens", ["code"])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = GatewaySettings.of(settings or Settings())
    serde = make_serde(settings)
    topics = Topics(settings.topic_prefix)
    verifier = TokenVerifier(settings.tokens, settings.state_dir, portal_sessions=oidc_enabled(settings))
    countries = CountryRegistry.load(settings.countries_file)
    ready = asyncio.Event()  # the follower has read what its topics held at its start
    tracker = RequestTracker(MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS, ready=ready)
    identifications = IdentificationTracker(MAX_TRACKED_REQUESTS, REQUEST_TTL_SECONDS, ready=ready)
    prescriptions = PrescriptionTracker(MAX_TRACKED_REQUESTS, ready=ready)
    watch = StreamWatch(settings)
    ncp_outcomes = NcpOutcomes()  # France as country A: answers the /ncp/v1 calls wait for
    follower = Follower(settings, serde, [tracker, identifications, prescriptions, watch, ncp_outcomes], ready)
    directory = load_directory(settings.rpps_directory_file)
    professions = load_professions(settings.professions_file)
    bearer = HTTPBearer(auto_error=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        producer = kafka.producer(settings.kafka)
        await producer.start()
        stop = asyncio.Event()
        following = asyncio.create_task(follower.run(stop))
        following.add_done_callback(stop_gateway_if_failed)
        app.state.producer = producer
        try:
            yield
        finally:
            stop.set()
            await following
            await producer.stop()

    app = FastAPI(title="Passerelle", version="0.1.0", lifespan=lifespan,
                  description="France's National Contact Point for eHealth: foreign patients' summaries in French.")
    app.state.tracker = tracker  # requests known from the topics; ready once it has read them

    install_error_handling(app)
    install_openapi(app, {"IdentificationRequest": identification_request_schema(countries)})

    async def refuse(request: Request, status: int, code: str, token: str | None,
                     hp: HealthProfessionalClaims | None = None) -> ApiError:
        """Count, publish (for the audit trail) and return the refusal of a caller's identity."""
        AUTH_FAILURES.labels(code).inc()
        event = handlers.authentication_failed(code, token, hp, request.method, request.url.path,
                                               request.client.host if request.client else None)
        producer = getattr(app.state, "producer", None)
        try:
            if producer is None:
                raise RuntimeError("gateway not started")
            await producer.send_and_wait(topics.security_events, serde.encode(AUTHENTICATION_FAILED, event),
                                         key=request_key(event))
        except (KafkaError, RuntimeError) as exc:
            log.error("authentication failure not published", code=code, error_class=type(exc).__name__)
        return ApiError(status, code)

    async def professional(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                           ) -> HealthProfessionalClaims:
        if credentials is None:
            raise await refuse(request, 401, "TOKEN_MISSING", None)
        token = credentials.credentials
        try:
            hp = verifier.cached(token)  # verified a moment ago: a lookup, on the event loop
            if hp is None:
                hp = await asyncio.to_thread(verifier.verify, token)  # may fetch the JWKS: off the loop
        except TokenError as exc:
            status = 503 if exc.code == "IDENTITY_PROVIDER_UNAVAILABLE" else 401
            raise await refuse(request, status, exc.code, token) from exc
        refusal = identity_refusal(hp.as_record(), directory, professions, int(time.time() * 1000))
        if refusal:
            raise await refuse(request, 401 if refusal == "ASSERTION_EXPIRED" else 403, refusal, token, hp)
        return hp

    @app.post("/v1/patient-summaries", status_code=202, response_model=Accepted, tags=["patient summary"],
              responses={200: {"model": RequestStatus, "description": "With `Prefer: wait=N`: the request "
                                                                     "ended within N seconds; its answer."}})
    async def request_patient_summary(body: PatientSummaryRequest, request: Request,
                                      hp: HealthProfessionalClaims = Depends(professional),
                                      prefer: str | None = Header(None, description=(
                                          "RFC 7240 `wait=SECONDS` (at most 30): answer 200 with the outcome if "
                                          "the request ends within that time, else 202 as without it."))):
        """Ask for a foreign patient's Patient Summary, in French. Poll the answer with the request id,
        or send `Prefer: wait=SECONDS` to have it in this answer when it comes in time (one call)."""
        event = handlers.patient_summary_requested(body.model_dump(), hp, request.client.host if request.client else None)
        request_id = event["envelope"]["correlation_id"]
        try:
            await app.state.producer.send_and_wait(topics.ps_requested, serde.encode(PS_REQUESTED, event),
                                                   key=request_key(event))
        except KafkaError as exc:
            log.error("request not published", correlation_id=request_id, error_class=type(exc).__name__)
            raise ApiError(503, "GATEWAY_UNAVAILABLE") from exc
        tracker.requested(request_id, hp.rpps)
        REQUESTS.labels(event["patient"]["country"]).inc()
        log.info("patient summary requested", correlation_id=request_id, country=event["patient"]["country"])
        wait = preferred_wait(prefer, MAX_WAIT_SECONDS)
        if wait:
            await tracker.wait_for_outcome(request_id, wait)
            tracked = tracker.lookup(request_id, hp.rpps)
            if tracked is not None and tracked.outcome is not None:
                view = RequestStatus.model_validate(handlers.status_view(request_id, tracked.outcome))
                return Response(view.model_dump_json(), media_type="application/json", headers={
                    "Preference-Applied": f"wait={wait:g}", "Content-Location": f"/v1/patient-summaries/{request_id}"})
        return {"request_id": request_id}

    @app.get("/v1/patient-summaries/{request_id}", response_model=RequestStatus, tags=["patient summary"])
    async def patient_summary_status(request_id: str, hp: HealthProfessionalClaims = Depends(professional),
                                     wait: float = Query(0, ge=0, le=MAX_WAIT_SECONDS, description=(
                                         "Long poll: while the request is pending, answer as soon as it ends "
                                         "or after this many seconds, whichever comes first."))):
        """Where a request stands: pending, completed (with the summary in French), denied or failed."""
        tracked = tracker.lookup(request_id, hp.rpps)
        if tracked is None:
            raise unknown(tracker.ready, "REQUEST_NOT_FOUND")
        await tracker.wait_for_outcome(request_id, wait)
        return handlers.status_view(request_id, tracked.outcome)

    async def publish_audit_read(event: dict) -> None:
        await app.state.producer.send_and_wait(topics.audit_reads, serde.encode(AUDIT_TRAIL_READ, event),
                                               key=request_key(event))

    app.include_router(audit_router(settings, professional, publish_audit_read))
    app.include_router(prescription_router(settings, serde, professions, professional, lambda: app.state.producer,
                                           prescriptions))
    app.include_router(identification_router(settings, serde, countries, professional, lambda: app.state.producer,
                                             identifications))
    app.include_router(ncp_router(settings, serde, lambda: app.state.producer, ncp_outcomes))
    app.include_router(dashboard_router(settings, serde, professional, lambda: app.state.producer, watch))
    install_portal(app, settings, countries,
                   OidcSignIn(settings, directory, professions, refuse) if oidc_enabled(settings) else None)
    mount_patient_space(app, settings, serde, refuse)  # /patient/ (docs/patient-space.md)

    @app.get("/v1/countries", response_model=list[CountryView], tags=["reference"])
    async def list_countries():
        """MyHealth@EU countries and the services each has joined."""
        return [c.model_dump(include={"code", "name", "services"}) for c in countries.countries]

    @app.get("/healthz", tags=["operations"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics():
        """Prometheus metrics of this gateway process."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", tags=["operations"], responses={503: {"description": "Still reading its topics: not ready"}})
    async def readyz():
        if not tracker.ready.is_set():
            return JSONResponse({"status": "starting"}, status_code=503)
        if not await broker_reachable(settings.kafka.bootstrap_servers):
            return JSONResponse({"status": "broker_unreachable"}, status_code=503)
        return {"status": "ready"}

    return app
