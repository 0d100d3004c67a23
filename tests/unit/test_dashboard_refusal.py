"""GET /v1/operations/stream-stats without the ops:read scope, in process: refused and audited on
the security events topic (the producer is replaced by a recorder: no broker in unit tests); the
refusal stands when it cannot be published."""

from __future__ import annotations

import httpx
import pytest

from passerelle.events import AUTHENTICATION_FAILED
from passerelle.settings import Settings
from passerelle.tokens import mint
from passerelle.topics import Topics
from services.gateway.app import create_app
from tests.unit.test_audit_api import RecordingProducer


@pytest.fixture
async def gateway(tmp_path):
    settings = Settings(state_dir=tmp_path)
    app = create_app(settings)  # lifespan not started: no broker involved
    app.state.producer = RecordingProducer()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as c:
        yield c, settings, app.state.producer


def bearer(settings, scope=None) -> dict:
    return {"Authorization": f"Bearer {mint(settings.state_dir, settings.tokens, '10001234565', '10', '750000001', scope=scope)}"}


async def test_a_token_without_ops_read_is_refused_and_the_refusal_published_for_the_audit(gateway):
    c, settings, producer = gateway
    answer = await c.get("/v1/operations/stream-stats", headers=bearer(settings, scope="audit:read"))
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "OPS_SCOPE_REQUIRED")
    assert "ops:read" in answer.json()["error"]["message"]
    [(topic, (event_type, event))] = producer.sent
    assert (topic, event_type) == (Topics(settings.topic_prefix).security_events, AUTHENTICATION_FAILED)
    assert (event["reason_code"], event["hp"]["rpps"], event["http_path"]) == (
        "OPS_SCOPE_REQUIRED", "10001234565", "/v1/operations/stream-stats")
    assert event["token_fingerprint"] and len(event["token_fingerprint"]) == 16


async def test_an_operator_is_not_refused_and_nothing_is_published(gateway):
    c, settings, producer = gateway
    answer = await c.get("/v1/operations/stream-stats", headers=bearer(settings, scope="ops:read"))
    assert answer.status_code == 200 and "topics" in answer.json()
    assert producer.sent == []


async def test_the_refusal_stands_when_it_cannot_be_published(gateway):
    c, settings, producer = gateway
    producer.broken = True
    answer = await c.get("/v1/operations/stream-stats", headers=bearer(settings))
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "OPS_SCOPE_REQUIRED")
