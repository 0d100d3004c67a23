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


async def test_oversized_and_non_utf8_bodies_are_refused_before_any_event(gateway):
    ask, state = gateway
    token = mint(state, Settings().tokens, "10001234565", "10", "750000001")
    app = create_app(Settings(state_dir=state))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        big = await client.post("/v1/patient-summaries", content=b'{"x": "' + b"a" * 20_000 + b'"}', headers=headers)
        assert big.status_code == 413 and big.json()["error"]["code"] == "REQUEST_TOO_LARGE"
        garbled = await client.post("/v1/patient-summaries", content=b'{"country": "\xff\xfe"}', headers=headers)
        assert garbled.status_code == 400 and garbled.json()["error"]["code"] == "REQUEST_UNREADABLE"


def test_in_production_the_key_set_is_fetched_from_the_identity_provider_with_pyjwkclient(tmp_path):
    """The production path: PyJWKClient fetching a JWKS over HTTP (here a local server)."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from passerelle.tokens import TokenError, TokenVerifier, dev_jwks_file
    provider = tmp_path / "provider"
    provider.mkdir()
    (provider / "jwks.json").write_text(dev_jwks_file(provider).read_text())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(provider)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = Settings().tokens.model_copy(update={"jwks_url": f"http://127.0.0.1:{server.server_port}/jwks.json"})
        verifier = TokenVerifier(settings, tmp_path / "unused")
        assert verifier.verify(mint(provider, settings, "10001234565", "10", "750000001")).rpps == "10001234565"
        other_key = mint(tmp_path / "other", settings, "10001234565", "10", "750000001")
        with pytest.raises(TokenError) as refused:
            verifier.verify(other_key)
        assert refused.value.code == "TOKEN_INVALID"
        assert not (tmp_path / "unused").exists(), "with a JWKS URL no development key is made"
    finally:
        server.shutdown()
        server.server_close()
    unreachable = TokenVerifier(settings.model_copy(update={"jwks_url": f"http://127.0.0.1:{server.server_port}/x"}),
                                tmp_path / "unused")
    with pytest.raises(TokenError) as refused:
        unreachable.verify(mint(provider, settings, "10001234565", "10", "750000001"))
    assert refused.value.code == "IDENTITY_PROVIDER_UNAVAILABLE"
