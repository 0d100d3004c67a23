"""The property of tests/unit/test_consent_properties.py, through the real broker and the HTTP API:
random sequences (fixed seeds, reproducible) of grants, revocations, oppositions, tokens and
requests (seeds chosen so that each script has gateway refusals, consent denials and deliveries;
the last assertion checks it). A summary is delivered exactly when the independent model allows it,
and every refusal — at the gateway or by the consent service — is in the audit trail."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime, timedelta, timezone

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from passerelle.testing import consume
from passerelle.tokens import sign_with_dev_key
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.consent.cli import directive, record
from services.foreign_ncp.app import build as foreign_ncp
from services.gateway.app import create_app
from services.router.app import build as router
from services.translation.app import build as translation

from tests.unit.test_consent_properties import ORGANISATIONS, PATIENTS, PROFESSIONALS, model_allows

pytestmark = pytest.mark.integration
GRANTEES = [None, ("PROFESSIONAL", "10001234565"), ("PROFESSIONAL", "10002000015"), ("ORGANISATION", "750000001")]


def script(seed: int, length: int = 20) -> list[dict]:
    rnd = random.Random(seed)
    usual = lambda common, *others: common if rnd.random() < 0.75 else rnd.choice(others)  # noqa: E731
    steps = []
    for _ in range(length):
        if rnd.random() < 0.3:
            steps.append({"step": "directive", "kind": rnd.choice(["GRANT", "REVOCATION", "OPPOSITION"]),
                          "patient": rnd.choice(PATIENTS[:2]), "grantee": rnd.choice(GRANTEES),
                          "service": rnd.choice([None, "patient-summary", "eprescription"]),
                          "valid_for_minutes": rnd.choice([None, 60])})
        else:
            steps.append({"step": "request", "patient": usual(PATIENTS[0], *PATIENTS[1:]),
                          "purpose": usual("TREATMENT", "EMERGENCY"), "confirmed": usual(True, False),
                          "notice": usual(True, False),
                          "token": {"kind": usual("valid", "forged", "alg_none", "expired"),
                                    "rpps": usual("10001234565", *sorted(PROFESSIONALS)),
                                    "organisation": usual("750000001", *ORGANISATIONS, " "),
                                    "method": usual("CPS", "E_CPS", "PASSWORD"),
                                    "age_minutes": usual(5, 200, 250)}})
    return steps


def token_for(settings, t: dict) -> str:
    now = int(time.time())
    claims = {"iss": settings.tokens.issuer, "aud": settings.tokens.audience, "sub": t["rpps"],
              "profession": PROFESSIONALS[t["rpps"]][0], "organisation": t["organisation"], "amr": t["method"],
              "iat": now - t["age_minutes"] * 60, "exp": now + (-600 if t["kind"] == "expired" else 3600)}
    if t["kind"] == "forged":
        return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": "x"})
    if t["kind"] == "alg_none":
        return jwt.encode(claims, None, algorithm="none")
    return sign_with_dev_key(claims, settings.state_dir, "dev-signing-key.pem")


async def answer_of(client, request_id: str, headers: dict) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = (await client.get(f"/v1/patient-summaries/{request_id}", headers=headers)).json()
        if answer["status"] != "pending":
            return answer
        await asyncio.sleep(0.02)
    raise TimeoutError(request_id)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_generated_sequences_through_the_broker_and_the_http_api(topics_ready, serde, seed):
    settings = topics_ready
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop))
             for build in (consent, router, foreign_ncp, translation, audit)]
    app = create_app(settings)
    said, gateway_refusals, denials, delivered = [], [], [], 0
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
                for step in script(seed):
                    if step["step"] == "directive":
                        grantee = step["grantee"] or (None, None)
                        until = (datetime.now(timezone.utc) + timedelta(minutes=step["valid_for_minutes"])
                                 if step["valid_for_minutes"] else None)
                        event = directive(step["kind"], *step["patient"],
                                          grantee[1] if grantee[0] == "PROFESSIONAL" else None,
                                          grantee[1] if grantee[0] == "ORGANISATION" else None,
                                          step["service"], until, "test")
                        await record(settings, event)
                        said.append((int(event["envelope"]["occurred_at"].timestamp() * 1000), step))
                        continue
                    headers = {"Authorization": f"Bearer {token_for(settings, step['token'])}"}
                    body = {"country": step["patient"][0], "patient_id": step["patient"][1],
                            "purpose": step["purpose"],
                            "consent": {"confirmed": step["confirmed"], "information_notice_given": step["notice"]}}
                    resp = await client.post("/v1/patient-summaries", json=body, headers=headers)
                    allowed = model_allows(step, said, int(time.time() * 1000))
                    if resp.status_code in (401, 403):
                        gateway_refusals.append(resp.json()["error"]["code"])
                        assert not allowed, step
                        continue
                    assert resp.status_code == 202, resp.text
                    answer = await answer_of(client, resp.json()["request_id"], headers)
                    assert (answer["status"] == "completed") == allowed, (step, answer["error"])
                    delivered += answer["status"] == "completed"
                    if answer["status"] == "denied":
                        denials.append(answer["error"]["code"])

                topics = Topics(settings.topic_prefix)
                expected = len(gateway_refusals) + len(denials)
                records = []
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    records = [serde.decode(r.value)[1] for r in
                               await consume(settings, topics.audit_records, 1, timeout=5)]
                    refused = sorted(r["reason_code"] for r in records if r["outcome"] == "DENIED"
                                     and r["action"] in ("HP_AUTHENTICATION_FAILED", "CONSENT_DECIDED"))
                    if len(refused) >= expected:
                        break
                    await asyncio.sleep(0.2)
                assert refused == sorted(gateway_refusals + denials), "a refusal is missing from the audit trail"
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert gateway_refusals and denials and delivered, f"seed {seed}: the script exercised too little"
