"""What is not a resource of the health data: the reference list of countries, the operations
endpoints (liveness, readiness, Prometheus metrics) and the latency of every HTTP request."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from pydantic import BaseModel

from passerelle.countries import CountryRegistry
from services.gateway.broker_probe import broker_reachable


#: Labelled by the route's template (``/v1/patient-summaries/{request_id}``), never the path itself:
#: a bounded set of series, and no identifier in a label. A long poll (``Prefer: wait``) counts the wait.
HTTP_LATENCY = Histogram("passerelle_http_request_duration_seconds", "HTTP requests to the gateway, by route and status",
                         ["method", "route", "status"],
                         buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))


class RequestTimer:
    """ASGI middleware: each HTTP request's time to its last byte, into ``HTTP_LATENCY``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status = time.perf_counter(), 500  # no answer started: the server's 500

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_LATENCY.labels(scope["method"], route, str(status)).observe(time.perf_counter() - started)


class CountryView(BaseModel):
    code: str
    name: str
    services: list[str]


def reference_router(countries: CountryRegistry) -> APIRouter:
    router = APIRouter(tags=["reference"])

    @router.get("/v1/countries", response_model=list[CountryView])
    async def list_countries():
        """MyHealth@EU countries and the services each has joined."""
        return [c.model_dump(include={"code", "name", "services"}) for c in countries.countries]

    return router


def operations_router(bootstrap_servers: str, ready: asyncio.Event) -> APIRouter:
    """``ready`` is set once the gateway's follower has read what its topics held at its start."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @router.get("/metrics", response_class=Response)
    async def metrics():
        """Prometheus metrics of this gateway process."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/readyz", responses={503: {"description": "Still reading its topics: not ready"}})
    async def readyz():
        if not ready.is_set():
            return JSONResponse({"status": "starting"}, status_code=503)
        if not await broker_reachable(bootstrap_servers):
            return JSONResponse({"status": "broker_unreachable"}, status_code=503)
        return {"status": "ready"}

    return router
