"""Through the HTTP API on the real broker: every refused identity becomes an audited event that
carries no token content; a patient's opposition reaches the professional as a French denial."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from passerelle.testing import consume
from passerelle.tokens import mint
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.consent.cli import directive, record
from services.gateway.app import create_app

pytestmark = pytest.mark.integration
BODY = {"country": "PT", "patient_id": "PT-TEST-1", "consent": {"confirmed": True, "information_notice_given": True}}


async def test_refused_identities_are_audited_without_token_content_and_an_opposition_is_a_denial(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in (consent, audit)]
    app = create_app(settings)
    mine = lambda rpps, profession="10", method="CPS": mint(settings.state_dir, settings.tokens, rpps, profession,  # noqa: E731
                                                            "750000001", method)
    forged = jwt.encode({"sub": "10001234565", "exp": int(time.time()) + 60}, ec.generate_private_key(ec.SECP256R1()),
                        algorithm="ES256", headers={"kid": "x"})
    unsigned = jwt.encode({"sub": "10001234565", "exp": int(time.time()) + 60}, None, algorithm="none")
    attempts = {forged: (401, "TOKEN_INVALID"), unsigned: (401, "TOKEN_INVALID"),
                mine("10002000114"): (403, "RPPS_UNKNOWN"), mine("10002000056"): (403, "PROFESSION_ACTIVITY_EXCLUDED"),
                mine("10001234565", method="PASSWORD"): (403, "STRONG_AUTHENTICATION_REQUIRED")}
    try:
        await record(settings, directive("OPPOSITION", "PT", "PT-TEST-1", None, None, None, None, "test"))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                for token, (status, code) in attempts.items():
                    resp = await client.post("/v1/patient-summaries", json=BODY,
                                             headers={"Authorization": f"Bearer {token}"})
                    assert (resp.status_code, resp.json()["error"]["code"]) == (status, code)
                missing = await client.post("/v1/patient-summaries", json=BODY)
                assert missing.status_code == 401

                token = mine("10001234565")
                headers = {"Authorization": f"Bearer {token}"}
                request_id = (await client.post("/v1/patient-summaries", json=BODY, headers=headers)).json()["request_id"]
                answer = {"status": "pending"}
                deadline = time.monotonic() + 30
                while answer["status"] == "pending" and time.monotonic() < deadline:
                    answer = (await client.get(f"/v1/patient-summaries/{request_id}", headers=headers)).json()
                    await asyncio.sleep(0.05)
                assert answer["status"] == "denied" and answer["error"]["code"] == "PATIENT_OPPOSED"
                assert answer["error"]["message"] == "Le patient s'est opposé à cet accès."

        failures = await consume(settings, topics.security_events, len(attempts) + 1)
        raw = b"".join(r.value for r in failures)
        for token in attempts:
            assert token.encode() not in raw and token.split(".")[1].encode() not in raw
        events = [serde.decode(r.value)[1] for r in failures]
        assert sorted(e["reason_code"] for e in events) == sorted([c for _, c in attempts.values()] + ["TOKEN_MISSING"])
        assert all(e["hp"] is None for e in events if e["reason_code"].startswith("TOKEN_")), "unverified claims kept"
        assert {e["hp"]["rpps"] for e in events if e["hp"]} == {"10002000114", "10002000056", "10001234565"}

        records = [serde.decode(r.value)[1] for r in await consume(settings, topics.audit_records, 6 + 1 + 3)]
        refusals = sorted(r["reason_code"] for r in records if r["action"] == "HP_AUTHENTICATION_FAILED")
        assert refusals == sorted(e["reason_code"] for e in events)
        assert all(r["outcome"] == "DENIED" for r in records if r["action"] == "HP_AUTHENTICATION_FAILED")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
