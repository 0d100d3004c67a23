"""The portal's OpenID Connect sign-in (services/gateway/portal/oidc.py) against the test double of
Pro Santé Connect (tests/oidc_provider.py), over real HTTP: the flow, then each refusal, each with its
French page, its stable code, and its audit hook call."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient

from passerelle.professionals import load_directory, load_professions
from passerelle.settings import Settings
from passerelle.tokens import TokenError, TokenVerifier
from services.gateway.errors import install_error_handling
from services.gateway.settings import GatewaySettings, OidcSettings, PortalSettings
from services.gateway.portal.api import install_portal
from services.gateway.portal.oidc import HANDOFF_COOKIE, OidcSignIn
from tests.oidc_provider import ProviderDouble, psc_user

PHYSICIAN, PHARMACIST = "10001234565", "10002000007"  # data/rpps-dev.yaml
CALLBACK = "http://testserver/portail/oidc/callback"


@pytest.fixture(scope="module")
def provider():
    running = ProviderDouble(redirect_uris=[CALLBACK]).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh_provider(provider):
    provider.misbehave, provider.user, provider.auth_age = None, None, 0
    provider.authorizations.clear()
    provider.token_requests.clear()


def settings_for(tmp_path, provider, **oidc) -> Settings:
    values = {"issuer": provider.issuer, "client_id": provider.client_id, "client_secret": provider.client_secret,
              "redirect_uri": CALLBACK, **oidc}
    return GatewaySettings(state_dir=tmp_path, portal=PortalSettings(oidc=OidcSettings(**values)))


class Gateway:
    """The portal's routes with the sign-in, and what its audit hook was given."""

    def __init__(self, settings: Settings):
        self.settings, self.refusals = settings, []
        app = FastAPI()
        install_error_handling(app)

        async def record(request, status, code, token, hp):
            self.refusals.append({"status": status, "code": code, "token": token, "hp": hp,
                                  "path": request.url.path})

        sign_in = OidcSignIn(settings, load_directory(settings.rpps_directory_file),
                             load_professions(settings.professions_file), record)
        install_portal(app, settings, oidc=sign_in)
        self.http = TestClient(app)

    def sign_in(self, provider: ProviderDouble, user: dict | None, misbehave: str | None = None) -> httpx.Response:
        """Login → the provider's authorisation (it answers at once) → the callback."""
        provider.user, provider.misbehave = user, misbehave
        login = self.http.get("/portail/oidc/login", follow_redirects=False)
        assert login.status_code == 302, login.text
        back = httpx.get(login.headers["location"], follow_redirects=False, timeout=10)
        assert back.status_code == 302, back.text
        assert back.headers["location"].startswith(CALLBACK)
        return self.http.get(back.headers["location"], follow_redirects=False)


@pytest.fixture
def gateway(tmp_path, provider) -> Gateway:
    return Gateway(settings_for(tmp_path, provider))


def refused_with(resp: httpx.Response, gateway: Gateway, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert '<html lang="fr">' in resp.text and "Connexion refusée" in resp.text
    assert f'<code id="code-erreur">{code}</code>' in resp.text
    assert resp.headers["content-security-policy"].startswith("default-src 'self'")
    assert HANDOFF_COOKIE not in resp.cookies
    assert [(r["status"], r["code"]) for r in gateway.refusals] == [(status, code)]


def test_a_professional_signs_in_and_the_portal_gets_a_session_the_gateway_verifies(gateway, provider):
    resp = gateway.sign_in(provider, psc_user(PHARMACIST, profession="21"))
    assert resp.status_code == 303 and resp.headers["location"] == "/portail/?connexion=oidc"
    assert gateway.refusals == []

    # what the client did, as the provider saw it: PKCE S256, state, nonce, acr eidas1, scopes, client auth
    asked = provider.authorizations[-1]
    assert asked["code_challenge_method"] == "S256" and asked["acr_values"] == "eidas1"
    assert asked["scope"] == "openid scope_all" and asked["state"] and asked["nonce"]
    exchanged = provider.token_requests[-1]
    verifier = exchanged["form"]["code_verifier"]
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() \
        == asked["code_challenge"]
    assert exchanged["authorization"].startswith("Basic ") and "client_secret" not in exchanged["form"]

    config = gateway.http.get("/portail/config").json()
    assert config["oidc_sign_in"] is True and config["dev_sign_in"] is True  # development: both
    handed = gateway.http.post("/portail/oidc/session")
    assert handed.status_code == 200 and handed.headers["cache-control"] == "no-store"
    session = handed.json()["token"]
    assert 3500 <= handed.json()["expires_in"] <= 3600
    hp = TokenVerifier(gateway.settings.tokens, gateway.settings.state_dir, portal_sessions=True).verify(session)
    assert (hp.rpps, hp.profession, hp.organisation, hp.auth_method) == (PHARMACIST, "21", "R10100000097563",
                                                                        "PSC_EIDAS1")
    # handed over once; and a verifier that does not trust portal sessions refuses it
    again = gateway.http.post("/portail/oidc/session")
    assert again.status_code == 404 and again.json()["error"]["code"] == "PORTAL_SESSION_NOT_FOUND"
    with pytest.raises(TokenError):
        TokenVerifier(gateway.settings.tokens, gateway.settings.state_dir).verify(session)


def test_the_login_cookie_is_http_only_and_scoped_to_the_sign_in_routes(gateway, provider):
    provider.user = psc_user(PHYSICIAN)
    login = gateway.http.get("/portail/oidc/login", follow_redirects=False)
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "path=/portail/oidc" in cookie.lower() and "samesite=lax" in cookie.lower()
    query = parse_qs(urlsplit(login.headers["location"]).query)
    assert query["redirect_uri"] == [CALLBACK] and query["response_type"] == ["code"]


@pytest.mark.parametrize("misbehave, code", [("signature", "OIDC_ID_TOKEN_INVALID"), ("nonce", "OIDC_NONCE_MISMATCH"),
                                              ("expired", "OIDC_ID_TOKEN_EXPIRED"), ("issuer", "OIDC_ID_TOKEN_INVALID"),
                                              ("audience", "OIDC_ID_TOKEN_INVALID")])
def test_a_wrong_id_token_is_refused(gateway, provider, misbehave, code):
    resp = gateway.sign_in(provider, psc_user(PHYSICIAN), misbehave=misbehave)
    refused_with(resp, gateway, 401, code)
    assert gateway.refusals[0]["hp"] is None and gateway.refusals[0]["path"] == "/portail/oidc/callback"
    assert gateway.http.post("/portail/oidc/session").status_code == 404


@pytest.mark.parametrize("user, status, code", [
    (psc_user("10002000114"), 403, "RPPS_UNKNOWN"),  # well formed, not in the directory
    (psc_user("10001234566"), 403, "RPPS_INVALID"),  # Luhn key wrong
    (psc_user("10002000080", profession="31"), 403, "PROFESSION_NOT_ELIGIBLE"),  # dental assistant
    (psc_user("10002000056"), 403, "PROFESSION_ACTIVITY_EXCLUDED"),  # occupational physician
    (psc_user(PHYSICIAN, profession="21"), 403, "PROFESSION_MISMATCH"),
    (psc_user(PHYSICIAN, organisation=""), 403, "ORGANISATION_MISSING"),
    (psc_user(PHYSICIAN, acr="eidas0"), 403, "STRONG_AUTHENTICATION_REQUIRED"),
    (psc_user(PHYSICIAN, id_nat="0751234567"), 403, "OIDC_IDENTITY_INCOMPLETE"),  # ADELI: no RPPS
])
def test_a_professional_the_rules_refuse_is_not_signed_in(gateway, provider, user, status, code):
    resp = gateway.sign_in(provider, user)
    refused_with(resp, gateway, status, code)
    recorded = gateway.refusals[0]
    assert recorded["token"] and recorded["token"].count(".") == 2  # the ID token, fingerprinted by the hook
    if code != "OIDC_IDENTITY_INCOMPLETE":
        assert recorded["hp"] is not None and recorded["hp"].rpps == user["SubjectNameID"][1:]


def test_a_cancelled_sign_in_at_the_provider_is_refused(gateway, provider):
    refused_with(gateway.sign_in(provider, None), gateway, 401, "OIDC_PROVIDER_REFUSED")


def test_a_callback_whose_state_is_not_this_browsers_is_refused_and_the_code_is_not_spent(gateway, provider, tmp_path):
    provider.user = psc_user(PHYSICIAN)
    login = gateway.http.get("/portail/oidc/login", follow_redirects=False)
    back = httpx.get(login.headers["location"], follow_redirects=False, timeout=10).headers["location"]
    forged = re.sub(r"state=[^&]+", "state=forged", back)
    refused_with(gateway.http.get(forged, follow_redirects=False), gateway, 400, "OIDC_STATE_INVALID")
    assert provider.token_requests == []  # refused before the code was exchanged

    other_browser = Gateway(gateway.settings)  # same gateway configuration, no login cookie
    refused_with(other_browser.http.get(back, follow_redirects=False), other_browser, 400, "OIDC_STATE_INVALID")
    # the rightful browser can still finish, once
    assert gateway.http.get(back, follow_redirects=False).status_code == 303
    gateway.refusals.clear()
    refused_with(gateway.http.get(back, follow_redirects=False), gateway, 400, "OIDC_STATE_INVALID")


def test_an_unreachable_provider_is_a_503_page_not_a_pass(tmp_path, provider):
    settings = settings_for(tmp_path, provider, issuer="http://127.0.0.1:9/auth/realms/nowhere", timeout_seconds=2)
    gateway = Gateway(settings)
    resp = gateway.http.get("/portail/oidc/login", follow_redirects=False)
    refused_with(resp, gateway, 503, "IDENTITY_PROVIDER_UNAVAILABLE")


def test_a_wrong_client_secret_is_refused_by_the_provider(tmp_path, provider):
    gateway = Gateway(settings_for(tmp_path, provider, client_secret="pas-le-bon"))
    refused_with(gateway.sign_in(provider, psc_user(PHYSICIAN)), gateway, 401, "OIDC_CODE_REFUSED")


def test_private_key_jwt_client_authentication(tmp_path, provider):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "client-key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    provider.client_public_key = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        gateway = Gateway(settings_for(tmp_path, provider, client_secret=None, private_key_file=pem,
                                       token_endpoint_auth_method="private_key_jwt"))
        assert gateway.sign_in(provider, psc_user(PHYSICIAN)).status_code == 303
        form = provider.token_requests[-1]["form"]
        assert form["client_assertion_type"].endswith("jwt-bearer") and provider.token_requests[-1]["authorization"] is None
        assert gateway.http.post("/portail/oidc/session").status_code == 200
    finally:
        provider.client_public_key = None


def test_without_an_issuer_there_is_no_sign_in_route_and_an_incomplete_provider_is_refused_at_start(tmp_path):
    app = FastAPI()
    install_error_handling(app)
    install_portal(app, Settings(state_dir=tmp_path))
    plain = TestClient(app)
    assert plain.get("/portail/oidc/login", follow_redirects=False).status_code == 404
    assert plain.get("/portail/config").json()["oidc_sign_in"] is False
    for incomplete in ({"issuer": "https://psc.example"},
                       {"issuer": "https://psc.example", "client_id": "c"},
                       {"issuer": "https://psc.example", "client_id": "c", "client_secret": "s",
                        "token_endpoint_auth_method": "private_key_jwt"}):
        with pytest.raises(ValueError):
            OidcSettings(**incomplete)


def test_a_session_ends_4_hours_after_the_authentication_and_an_older_one_is_refused(gateway, provider):
    provider.auth_age = 4 * 3600 - 600  # authenticated at PSC 3 h 50 ago: a 10-minute session
    assert gateway.sign_in(provider, psc_user(PHYSICIAN)).status_code == 303
    assert 500 <= gateway.http.post("/portail/oidc/session").json()["expires_in"] <= 600
    provider.auth_age = 5 * 3600
    refused_with(gateway.sign_in(provider, psc_user(PHYSICIAN)), gateway, 401, "ASSERTION_EXPIRED")


def test_an_id_token_signed_with_an_algorithm_we_do_not_accept_is_refused(tmp_path, provider):
    gateway = Gateway(settings_for(tmp_path, provider, id_token_algorithms=["ES256"]))  # the provider signs RS256
    refused_with(gateway.sign_in(provider, psc_user(PHYSICIAN)), gateway, 401, "OIDC_ID_TOKEN_INVALID")
