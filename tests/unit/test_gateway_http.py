"""The gateway's HTTP edge, in process (no broker needed for what is refused before any event)."""

from __future__ import annotations

import httpx
import pytest

from passerelle.settings import Settings
from passerelle.tokens import mint
from services.gateway.app import create_app


@pytest.fixture
async def client(tmp_path):
    app = create_app(Settings(state_dir=tmp_path))  # lifespan not started: no broker involved
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        yield c, mint(tmp_path, Settings().tokens, "10001234565", "10", "750000001")


async def test_a_chunked_body_over_the_limit_is_refused_without_content_length(client):
    c, token = client

    async def chunks():
        for _ in range(40):
            yield b" " * 1024

    resp = await c.post("/v1/patient-summaries", content=chunks(),
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "REQUEST_TOO_LARGE"


async def test_a_small_chunked_body_still_reaches_validation(client):
    c, token = client

    async def chunks():
        yield b'{"country": "PT",'
        yield b' "patient_id": "1"}'

    resp = await c.post("/v1/patient-summaries", content=chunks(),
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert resp.status_code == 422
    assert [d["field"] for d in resp.json()["error"]["details"]] == ["consent"]


async def test_wrong_method_is_in_the_error_format(client):
    c, _ = client
    resp = await c.delete("/v1/countries")
    assert resp.status_code == 405 and resp.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


async def test_readyz_says_not_ready_while_the_broker_is_unreachable(tmp_path):
    import socket

    from services.gateway.broker_probe import broker_reachable

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert await broker_reachable(f"127.0.0.1:{port}")
        assert await broker_reachable(f"127.0.0.1:1,127.0.0.1:{port}")  # one of them is enough
    assert not await broker_reachable(f"127.0.0.1:{port}")  # closed now
    settings = Settings(state_dir=tmp_path)
    settings.kafka.bootstrap_servers = f"127.0.0.1:{port}"
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        assert (await c.get("/readyz")).json() == {"status": "starting"}  # the follower has not caught up
        app.state.tracker.ready.set()  # caught up: only the broker is missing now
        resp = await c.get("/readyz")
        assert resp.status_code == 503 and resp.json() == {"status": "broker_unreachable"}
