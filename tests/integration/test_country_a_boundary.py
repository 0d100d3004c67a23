"""The /ncp/v1 boundary with the country-a and audit services on the real broker: bad input from a
foreign NCP gets a precise error and an audit record, never a crash or a partial disclosure; an
emergency access raises an audited security alert; a malformed event is dead-lettered."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from passerelle import PROJECT_ROOT
from passerelle.crossborder import dev_key, sign_assertion
from passerelle.testing import consume, read_topic
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.country_a.app import build as country_a
from services.gateway.app import create_app

pytestmark = pytest.mark.integration
CAMILLE = "286037505604238"


def hp(country="DE", role="physician"):
    return {"id": f"{country}-1", "name": "Dr. X", "role": role, "organisation": "H", "country": country}


def body(country="DE", kid="de-dev-2026", purpose="TREATMENT", patient=CAMILLE, ins=CAMILLE, role="physician", **kw):
    token = sign_assertion(dev_key(kid), kid, country, hp(country, role), purpose, patient, **kw)
    return {"requesting_country": country, "patient": {"ins": ins}, "assertion": token}


async def test_refusals_at_the_boundary_emergency_alert_and_dead_letters(topics_ready, serde):
    settings = topics_ready.model_copy(update={"catalogue_dir": PROJECT_ROOT / "data" / "catalogue"})
    topics = Topics(settings.topic_prefix)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in (country_a, audit)]
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                async def post(payload, path="patient-summaries", **kw):
                    return await client.post(f"/ncp/v1/{path}", json=payload, **kw)

                cases = [({**body(), "assertion": None}, 401, "ERROR_SEC_ASSERTION_MISSING"),
                         (body(ins="286037505604239"), 422, "ERROR_PI_INVALID_IDENTIFIER"),
                         (body(patient="185072A12345665"), 403, "ERROR_PI_PATIENT_MISMATCH"),
                         (body(country="IT", kid="it-dev-2026", purpose="EMERGENCY"), 403, "ERROR_POLICY_PURPOSE_NOT_ALLOWED"),
                         (body(now=1_000_000_000), 401, "ERROR_SEC_ASSERTION_EXPIRED"),
                         ({**body(country="BE", kid="be-dev-2026"), "requesting_country": "DE"}, 401, "ERROR_SEC_COUNTRY_MISMATCH"),
                         (body(role="administrative"), 403, "ERROR_INSUFFICIENT_RIGHTS")]
                for payload, status, code in cases:
                    resp = await post(payload)
                    assert (resp.status_code, resp.json()["error"]["code"]) == (status, code), resp.text
                    assert resp.json()["error"]["message"] and resp.json()["error"]["message_en"]
                    assert "pivot" not in resp.text and "DURAND" not in resp.text
                unknown = await post({**body(), "extra": 1})
                assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "REQUEST_INVALID"
                garbage = await client.post("/ncp/v1/patient-summaries", content=b"{not json",
                                            headers={"Content-Type": "application/json"})
                assert garbage.status_code in (400, 422)
                huge = await client.post("/ncp/v1/patient-summaries", content=b"x" * 2_000_000,
                                         headers={"Content-Type": "application/json"})
                assert huge.status_code == 413
                mask = await client.get("/ncp/v1/search-mask")
                assert [f["key"] for f in mask.json()["identifiers"]][:3] == ["ins", "birth_name", "birth_date"]

                emergency = await post(body(purpose="EMERGENCY"))
                assert emergency.status_code == 200 and emergency.json()["document_id"] == "VSM-2860375056042-1"
                nurse = await post(body(role="nurse"))
                assert nurse.status_code == 200

        await (await _producer(settings)).send_and_wait(topics.crossborder_requested, b"\xc3\x01garbage", key=b"k")
        dead = await consume(settings, topics.dead_letters, 2)  # the country-a service's and the audit's
        assert {d.value for d in dead} == {b"\xc3\x01garbage"}
        assert {dict(d.headers)["dlq.consumer"] for d in dead} == {b"country-a", b"audit"}
        records = []
        for _ in range(100):
            records = await read_topic(settings, serde, topics.audit_records)
            if sum(r["action"] == "HP_AUTHENTICATION_FAILED" for r in records) >= 5 and any(
                    r["action"] == "SECURITY_ALERT" for r in records):
                break
        reasons = {r["reason_code"] for r in records if r["action"] == "HP_AUTHENTICATION_FAILED"}
        assert reasons >= {"ERROR_SEC_ASSERTION_MISSING", "ERROR_PI_INVALID_IDENTIFIER", "ERROR_PI_PATIENT_MISMATCH",
                           "ERROR_POLICY_PURPOSE_NOT_ALLOWED", "ERROR_SEC_ASSERTION_EXPIRED", "ERROR_SEC_COUNTRY_MISMATCH"}
        assert ("SECURITY_ALERT", "EMERGENCY_ACCESS") in {(r["action"], r["reason_code"]) for r in records}
        assert ("NCP_PS_DECIDED", "ERROR_INSUFFICIENT_RIGHTS") in {(r["action"], r["reason_code"]) for r in records}
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _producer(settings):
    from passerelle import kafka
    producer = kafka.producer(settings.kafka)
    await producer.start()
    _PRODUCERS.append(producer)
    return producer


_PRODUCERS: list = []


@pytest.fixture(autouse=True)
async def _stop_producers():
    yield
    while _PRODUCERS:
        await _PRODUCERS.pop().stop()
