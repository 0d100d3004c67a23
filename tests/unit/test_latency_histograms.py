"""The gateway's HTTP latency histogram: one series per route template and status, never a path
(an identifier in a label would be a new series per request, and data in the metrics)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY

from services.gateway.operations import RequestTimer


def count(route: str, status: str, method: str = "GET") -> float:
    return REGISTRY.get_sample_value("passerelle_http_request_duration_seconds_count",
                                     {"method": method, "route": route, "status": status}) or 0.0


async def test_requests_are_timed_by_route_template_and_status():
    app = FastAPI()

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str):
        if thing_id == "missing":
            raise HTTPException(404)
        return {"id": thing_id}

    @app.get("/v1/crash")
    async def crash():
        raise RuntimeError("a bug")

    app.add_middleware(RequestTimer)
    before = {key: count(*key) for key in (("/v1/things/{thing_id}", "200"), ("/v1/things/{thing_id}", "404"),
                                           ("unmatched", "404"), ("/v1/crash", "500"))}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        for thing_id in ("PT-1", "PT-2", "missing"):
            await client.get(f"/v1/things/{thing_id}")
        await client.get("/nowhere")
        assert (await client.get("/v1/crash")).status_code == 500
    assert count("/v1/things/{thing_id}", "200") - before[("/v1/things/{thing_id}", "200")] == 2
    assert count("/v1/things/{thing_id}", "404") - before[("/v1/things/{thing_id}", "404")] == 1
    assert count("unmatched", "404") - before[("unmatched", "404")] == 1
    assert count("/v1/crash", "500") - before[("/v1/crash", "500")] == 1
    labels = {s.labels.get("route") for m in REGISTRY.collect() if m.name == "passerelle_http_request_duration_seconds"
              for s in m.samples}
    assert not [route for route in labels if route and "PT-" in route]
