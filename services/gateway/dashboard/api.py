"""The stream dashboard: ``GET /dashboard`` (a page, no data in it) and
``GET /v1/operations/stream-stats`` (the figures it polls every few seconds).

Operators only: the figures need a token with the scope ``ops:read`` (as the audit trail needs
``audit:read``); everyone else gets 403 ``OPS_SCOPE_REQUIRED``, and the refusal is audited like every
refused identity (``AuthenticationFailed`` on the security events topic, read by the audit service). The figures hold no patient data:
topic rates, consumer lag, counts of outcomes and error codes, and per country of affiliation the
translation coverage and the latency (services/gateway/dashboard/rules.py computes them).

Sources: the request and outcome topics, read whole by the gateway's one follower (``follower.py``,
which also feeds the request trackers); the broker's end offsets of this installation's topics and
the committed offsets of its consumer groups (groups named ``<prefix>.<service>``), asked every
``POLL_SECONDS``.
A group's lag counts the topics it has committed offsets on.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Callable

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.security.utils import get_authorization_scheme_param

from passerelle.events import AUTHENTICATION_FAILED
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims
from passerelle.topics import Topics
from services.gateway.auth import authentication_failed, origin_of
from services.gateway.dashboard.tracker import StreamWatch
from services.gateway.errors import ApiError
from services.gateway.publish import Publisher

log = structlog.get_logger()
OPS_READ_SCOPE = "ops:read"
STATIC = files("services.gateway.dashboard")


def dashboard_router(settings: Settings, caller: Callable[..., HealthProfessionalClaims], publisher: Publisher,
                     watch: StreamWatch) -> APIRouter:
    """The routes; ``publisher`` publishes the refusals (audited),
    ``watch`` fed by the gateway's follower (``follower.py``)."""
    security_events = Topics(settings.topic_prefix).security_events
    page_html = (STATIC / "index.html").read_text(encoding="utf-8")  # read once, not per request

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = asyncio.Event()
        task = asyncio.create_task(watch.run(stop))
        try:
            yield
        finally:
            stop.set()
            await task

    router = APIRouter(tags=["operations"], lifespan=lifespan)

    @router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        """The page (no figures in it: it asks for them with the operator's token)."""
        return HTMLResponse(page_html)

    @router.get("/dashboard/dashboard.js", include_in_schema=False)
    async def script():
        return Response((STATIC / "dashboard.js").read_text(encoding="utf-8"), media_type="text/javascript")

    @router.get("/v1/operations/stream-stats")
    async def stream_stats(request: Request, who: HealthProfessionalClaims = Depends(caller)):
        """Per-topic event rates, consumer lag, requests by outcome, denials by reason, translation
        coverage and latency by country. Scope ``ops:read`` required; no patient data."""
        if OPS_READ_SCOPE not in who.scopes:
            log.warning("stream statistics refused", reason="OPS_SCOPE_REQUIRED")
            await audit_refusal(request, who, "OPS_SCOPE_REQUIRED")
            raise ApiError(403, "OPS_SCOPE_REQUIRED")
        return watch.view()

    async def audit_refusal(request: Request, who: HealthProfessionalClaims, code: str) -> None:
        """The refusal on the audit path of every refused identity; it stands even if unaudited."""
        _scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
        event = authentication_failed(code, token or None, who, request.method, request.url.path, origin_of(request))
        await publisher.publish_or_log(security_events, AUTHENTICATION_FAILED, event)

    return router
