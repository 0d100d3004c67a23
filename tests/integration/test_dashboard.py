"""The stream dashboard on the real broker: its figures reflect a few real requests (two denied by
the consent service after a patient's opposition), and only an operator may read them."""

from __future__ import annotations

import asyncio
import hashlib
import time

import httpx
import pytest

from passerelle.events import AUTHENTICATION_FAILED
from passerelle.testing import consume
from passerelle.tokens import mint
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.consent.cli import directive, record
from services.gateway.app import create_app

pytestmark = pytest.mark.integration
BODY = {"country": "PT", "patient_id": "PT-TEST-1", "consent": {"confirmed": True, "information_notice_given": True}}


async def test_stream_stats_reflect_real_requests_and_need_the_ops_scope(topics_ready, serde):
    settings = topics_ready
    stop = asyncio.Event()
    consent_task = asyncio.create_task(consent(settings, serde).run(stop))
    app = create_app(settings)
    token = lambda **kw: mint(settings.state_dir, settings.tokens, "10001234565", "10", "750000001", "CPS", **kw)  # noqa: E731
    physician = {"Authorization": f"Bearer {token()}"}
    operator = {"Authorization": f"Bearer {token(scope='ops:read')}"}
    try:
        await record(settings, directive("OPPOSITION", "PT", "PT-TEST-1", None, None, None, None, "test"))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                page = await client.get("/dashboard")
                assert page.status_code == 200 and "tableau de bord" in page.text
                assert "http" not in page.text.replace("http://gw", "")  # no external resource
                refused = await client.get("/v1/operations/stream-stats", headers=physician)
                assert (refused.status_code, refused.json()["error"]["code"]) == (403, "OPS_SCOPE_REQUIRED")
                assert (await client.get("/v1/operations/stream-stats")).status_code == 401

                async def stats() -> dict:
                    return (await client.get("/v1/operations/stream-stats", headers=operator)).json()

                before = await stats()
                while not before["topics"]:  # a first sample of the offsets, to measure rates from
                    await asyncio.sleep(0.1)
                    before = await stats()
                assert before["topics"]["ps.requested.v1"] == {"events": 0, "per_second": 0.0}
                for _ in range(2):
                    sent = await client.post("/v1/patient-summaries", json=BODY, headers=physician)
                    assert sent.status_code == 202
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    now = await stats()
                    if (now["requests_by_outcome"].get("patient_summary", {}).get("DENIED") == 2
                            and now["consumer_lag"].get("consent", {}).get("ps.requested.v1") == 0
                            and now["topics"]["ps.outcomes.v1"]["events"] == 2):
                        break
                    await asyncio.sleep(0.3)
                metrics = (await client.get("/metrics")).text  # the same figures for Prometheus
        stats = now
        assert 'passerelle_topic_end_offset{topic="ps.requested.v1"} 2.0' in metrics
        assert 'passerelle_consumer_lag{group="consent",topic="ps.requested.v1"} 0.0' in metrics
        assert stats["requests_by_outcome"] == {"patient_summary": {"DENIED": 2}}
        assert stats["denials_by_reason"] == {"patient_summary": {"PATIENT_OPPOSED": 2}}
        assert stats["topics"]["ps.requested.v1"]["events"] == 2 and stats["topics"]["ps.outcomes.v1"]["events"] == 2
        assert stats["topics"]["ps.requested.v1"]["per_second"] > 0
        assert stats["consumer_lag"]["consent"]["ps.requested.v1"] == 0  # the consent service read both
        pt = stats["countries"]["PT"]
        assert (pt["requests"], pt["outcomes"], pt["latency_ms"]["count"]) == (2, 2, 2)
        assert 0 <= pt["latency_ms"]["p50"] <= pt["latency_ms"]["p95"] < 30_000
        assert "PT-TEST-1" not in str(stats) and "10001234565" not in str(stats)  # no patient or HP data
    finally:
        stop.set()
        await consent_task


async def test_a_refusal_of_ops_read_is_audited_like_every_refused_identity(topics_ready, serde):
    """403 OPS_SCOPE_REQUIRED becomes an AuthenticationFailed on the security events topic, and the
    audit service turns it into a DENIED audit record naming the professional and the reason."""
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    stop = asyncio.Event()
    audit_task = asyncio.create_task(audit(settings, serde).run(stop))
    app = create_app(settings)
    physician = mint(settings.state_dir, settings.tokens, "10001234565", "10", "750000001", "CPS")
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                refused = await client.get("/v1/operations/stream-stats", headers={"Authorization": f"Bearer {physician}"})
                assert (refused.status_code, refused.json()["error"]["code"]) == (403, "OPS_SCOPE_REQUIRED")
        [failure] = await consume(settings, topics.security_events, 1)
        assert physician.encode() not in failure.value  # a fingerprint of the token, never the token
        event_type, event = serde.decode(failure.value)
        assert event_type == AUTHENTICATION_FAILED
        assert (event["reason_code"], event["hp"]["rpps"], event["http_method"], event["http_path"]) == (
            "OPS_SCOPE_REQUIRED", "10001234565", "GET", "/v1/operations/stream-stats")
        assert event["token_fingerprint"] == hashlib.sha256(physician.encode()).hexdigest()[:16]
        [record] = [serde.decode(r.value)[1] for r in await consume(settings, topics.audit_records, 1)]
        assert (record["action"], record["outcome"], record["reason_code"], record["hp"]["rpps"]) == (
            "HP_AUTHENTICATION_FAILED", "DENIED", "OPS_SCOPE_REQUIRED", "10001234565")
        assert record["source_event_id"] == event["envelope"]["event_id"]
    finally:
        stop.set()
        await audit_task
