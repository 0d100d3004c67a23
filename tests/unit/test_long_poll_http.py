"""GET /v1/patient-summaries/{id}?wait=: the long poll's bounds are checked at the edge."""

from __future__ import annotations

import httpx
import pytest

from passerelle.settings import Settings
from passerelle.tokens import mint
from services.gateway.app import create_app


@pytest.fixture
async def client(tmp_path):
    app = create_app(Settings(state_dir=tmp_path))  # lifespan not started: no broker involved
    app.state.tracker.ready.set()  # as if it had read its (empty) topics: an unknown request is unknown
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        yield c, {"Authorization": f"Bearer {mint(tmp_path, Settings().tokens, '10001234565', '10', '750000001')}"}


@pytest.mark.parametrize("wait", ["-1", "31", "soon"])
async def test_a_wait_out_of_bounds_is_refused_with_a_stable_code(client, wait):
    c, headers = client
    resp = await c.get("/v1/patient-summaries/some-id", params={"wait": wait}, headers=headers)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "REQUEST_INVALID"
    assert [d["field"] for d in resp.json()["error"]["details"]] == ["wait"]


async def test_an_unknown_request_is_not_found_at_once_even_with_a_wait(client):
    c, headers = client
    resp = await c.get("/v1/patient-summaries/some-id", params={"wait": "30"}, headers=headers, timeout=5)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "REQUEST_NOT_FOUND"


async def test_an_identification_is_unknown_only_once_the_gateway_has_read_its_topics(tmp_path):
    app = create_app(Settings(state_dir=tmp_path))  # lifespan not started: the follower has read nothing
    headers = {"Authorization": f"Bearer {mint(tmp_path, Settings().tokens, '10001234565', '10', '750000001')}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        early = await c.get("/v1/patient-identifications/some-id", headers=headers)
        assert early.status_code == 503 and early.json()["error"]["code"] == "GATEWAY_UNAVAILABLE"  # may exist
        app.state.tracker.ready.set()  # the one follower of summaries and identifications has caught up
        late = await c.get("/v1/patient-identifications/some-id", headers=headers)
        assert late.status_code == 404 and late.json()["error"]["code"] == "IDENTIFICATION_NOT_FOUND"


async def test_a_token_verified_a_moment_ago_is_answered_on_the_event_loop(client, monkeypatch):
    import asyncio
    hops = []
    to_thread = asyncio.to_thread

    async def counting(fn, *args, **kwargs):
        hops.append(getattr(fn, "__name__", fn))
        return await to_thread(fn, *args, **kwargs)
    monkeypatch.setattr(asyncio, "to_thread", counting)
    c, headers = client
    for _ in range(3):
        resp = await c.get("/v1/patient-summaries/some-id", headers=headers)
        assert resp.status_code == 404
    assert hops == ["verify"]  # the signature was checked in a thread once, then found in the cache
