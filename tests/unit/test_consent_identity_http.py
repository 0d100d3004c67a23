"""The gateway refuses an identity at once, each failure with its own code and French message
(no broker needed: nothing is published for a refused caller but its audit event, tested on the
real broker in tests/integration/test_consent_api.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from passerelle.settings import Settings
from passerelle.tokens import mint, sign_with_dev_key
from services.gateway.app import create_app

BODY = {"country": "PT", "patient_id": "193857264", "consent": {"confirmed": True, "information_notice_given": True}}


@pytest.fixture
async def gateway(tmp_path):
    app = create_app(Settings(state_dir=tmp_path))  # lifespan not started: no broker involved
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        async def ask(token: str):
            return await client.post("/v1/patient-summaries", json=BODY, headers={"Authorization": f"Bearer {token}"})
        yield ask, tmp_path


@pytest.mark.parametrize("rpps, profession, organisation, method, status, code", [
    ("10001234567", "10", "750000001", "CPS", 403, "RPPS_INVALID"),
    ("1000123456", "10", "750000001", "CPS", 403, "RPPS_INVALID"),
    ("10002000114", "10", "750000001", "CPS", 403, "RPPS_UNKNOWN"),
    ("10002000080", "31", "750000001", "CPS", 403, "PROFESSION_NOT_ELIGIBLE"),
    ("10001234565", "60", "750000001", "CPS", 403, "PROFESSION_MISMATCH"),
    ("10002000056", "10", "750000001", "CPS", 403, "PROFESSION_ACTIVITY_EXCLUDED"),
    ("10002000064", "10", "750000001", "E_CPS", 403, "PROFESSION_ACTIVITY_EXCLUDED"),
    ("10002000072", "21", "750000001", "CPS", 403, "PROFESSION_ACTIVITY_EXCLUDED"),
    ("10001234565", "10", " ", "CPS", 403, "ORGANISATION_MISSING"),
    ("10001234565", "10", "750000001", "PASSWORD", 403, "STRONG_AUTHENTICATION_REQUIRED"),
])
async def test_each_identity_rule_refuses_with_its_own_code(gateway, rpps, profession, organisation, method,
                                                            status, code):
    ask, state = gateway
    resp = await ask(mint(state, Settings().tokens, rpps, profession, organisation, method))
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["message"]


async def test_an_assertion_older_than_four_hours_must_be_renewed(gateway):
    ask, state = gateway
    settings = Settings().tokens
    now = int(time.time())
    old = {"iss": settings.issuer, "aud": settings.audience, "sub": "10001234565", "profession": "10",
           "organisation": "750000001", "amr": "CPS", "iat": now - 5 * 3600, "exp": now + 3600}
    resp = await ask(sign_with_dev_key(old, state, "dev-signing-key.pem"))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "ASSERTION_EXPIRED"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
