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


async def test_a_422_never_repeats_a_clients_keys_or_values_and_counts_the_unexpected_ones(client):
    c, token = client
    name = "Maria Papadopoulou 1949-04-23"
    body = {"country": "PT", "patient_id": name, "purpose": "TREATMENT", name: 1, "other": name,
            "consent": {"confirmed": True, "information_notice_given": True, name: name}}
    resp = await c.post("/v1/patient-summaries", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422 and "Maria" not in resp.text and "1949" not in resp.text
    assert sorted(resp.json()["error"]["details"], key=str) == sorted([
        {"field": "patient_id", "problem": "string_pattern_mismatch"},
        {"field": None, "problem": "unexpected_fields", "count": 2},
        {"field": "consent", "problem": "unexpected_fields", "count": 1}], key=str)


async def test_a_key_of_the_identification_mask_that_is_not_one_is_not_repeated(client):
    c, token = client
    resp = await c.post("/v1/patient-identifications", headers={"Authorization": f"Bearer {token}"},
                        json={"country": "GR", "fields": {"Maria Papadopoulou": "x"}})
    assert resp.status_code == 422 and "Maria" not in resp.text
    assert {"field": "fields.*.[key]", "problem": "string_pattern_mismatch"} in resp.json()["error"]["details"]


@pytest.mark.parametrize("line, field, problem", [
    ({"item_id": "FI-EP-1001.1", "quantity": True}, "lines.0.quantity", "int_type"),
    ({"item_id": "FI-EP-1001.1", "quantity": "1"}, "lines.0.quantity", "int_type"),
    ({"item_id": "FI-EP\x00-1001.1", "quantity": 1}, "lines.0.item_id", "string_pattern_mismatch"),
    ({"item_id": "FI-EP\x1b[31m", "quantity": 1}, "lines.0.item_id", "string_pattern_mismatch"),
    ({"item_id": "FI-EP\u202e1001", "quantity": 1}, "lines.0.item_id", "string_pattern_mismatch"),
    ({"item_id": "FI-EP-1001.1", "quantity": 1, "product_name": "Metformine\u200b"}, "lines.0.product_name",
     "string_pattern_mismatch"),
])
async def test_dispensation_bodies_take_printable_identifiers_and_strict_types(tmp_path, line, field, problem):
    app = create_app(Settings(state_dir=tmp_path))
    token = mint(tmp_path, Settings().tokens, "10002000007", "21", "750000001")
    body = {"country": "FI", "patient_id": "140772-946S", "prescription_id": "1.2.246.10.999.3^FI-EP-1001",
            "lines": [line]}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        resp = await c.post("/v1/dispensations", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422 and resp.json()["error"]["details"] == [{"field": field, "problem": problem}]


async def test_a_consent_confirmation_must_be_a_json_boolean(client):
    c, token = client
    body = {"country": "PT", "patient_id": "193857264", "consent": {"confirmed": "true", "information_notice_given": 1}}
    resp = await c.post("/v1/patient-summaries", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422 and {d["field"] for d in resp.json()["error"]["details"]} == {
        "consent.confirmed", "consent.information_notice_given"}
