"""What is not a resource of the health data: the reference list of countries, and the operations
endpoints (liveness, readiness, Prometheus metrics)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from passerelle.countries import CountryRegistry
from services.gateway.broker_probe import broker_reachable


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
