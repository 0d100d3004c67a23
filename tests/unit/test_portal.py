"""The portal's server side (services/gateway/portal/api.py) and its static files: development
sign-in on only without an identity provider, the countries' search masks, no external resource."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from passerelle import PROJECT_ROOT
from passerelle.countries import CountryRegistry
from passerelle.settings import Settings, TokenSettings
from passerelle.tokens import TokenVerifier
from services.gateway.errors import install_error_handling
from services.gateway.portal.api import PORTAL_DIR, install_portal

PHYSICIAN = "10001234565"


def client(settings: Settings) -> TestClient:
    app = FastAPI()
    install_error_handling(app)
    install_portal(app, settings)
    return TestClient(app)


@pytest.fixture
def dev(tmp_path) -> Settings:
    return Settings(state_dir=tmp_path)


def test_development_sign_in_mints_a_token_the_gateway_verifies(dev):
    resp = client(dev).post("/portail/dev-token", json={"rpps": PHYSICIAN, "profession": "10", "audit_read": True})
    assert resp.status_code == 200, resp.text
    claims = TokenVerifier(dev.tokens, dev.state_dir).verify(resp.json()["token"])
    assert (claims.rpps, claims.profession, claims.scopes) == (PHYSICIAN, "10", ("audit:read",))
    plain = client(dev).post("/portail/dev-token", json={"rpps": PHYSICIAN, "profession": "10"}).json()["token"]
    assert TokenVerifier(dev.tokens, dev.state_dir).verify(plain).scopes == ()
    assert client(dev).get("/portail/config").json()["dev_sign_in"] is True


def test_development_sign_in_is_refused_when_an_identity_provider_is_configured(tmp_path):
    production = Settings(state_dir=tmp_path, tokens=TokenSettings(jwks_url="https://auth.esw.esante.gouv.fr/jwks"))
    resp = client(production).post("/portail/dev-token", json={"rpps": PHYSICIAN, "profession": "10"})
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "DEV_SIGN_IN_DISABLED"
    assert "Pro Santé Connect" in resp.json()["error"]["message"]
    assert not (tmp_path / "dev-signing-key.pem").exists()
    assert client(production).get("/portail/config").json() == {"dev_sign_in": False,
                                                                 "identity_provider": "Pro Santé Connect",
                                                                 "oidc_sign_in": False}  # no issuer configured


@pytest.mark.parametrize("body", [{"rpps": "123", "profession": "10"}, {"rpps": PHYSICIAN, "profession": "médecin"},
                                  {"rpps": PHYSICIAN, "profession": "10", "scope": "admin"}])
def test_a_malformed_sign_in_gets_422(dev, body):
    resp = client(dev).post("/portail/dev-token", json=body)
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "REQUEST_INVALID"


def test_a_countrys_search_mask_is_served_and_an_unknown_country_is_404(dev):
    mask = client(dev).get("/v1/countries/pt/identifiers").json()
    assert mask["code"] == "PT" and mask["identifiers"][0]["format"] == "[0-9]{9}"
    assert mask["identifiers"][0]["required"] is True and "9 chiffres" in mask["identifiers"][0]["hint"]
    resp = client(dev).get("/v1/countries/XX/identifiers")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "COUNTRY_UNKNOWN"


def test_every_connected_country_publishes_a_mask_its_demo_patients_and_example_match():
    registry = CountryRegistry.load(PROJECT_ROOT / "data" / "countries.yaml")
    for country in registry.countries:
        assert bool(country.identifiers) == bool(country.services), country.code
        for identifier in country.identifiers:
            assert identifier.example and identifier.accepts(identifier.example), country.code
            # what the API accepts as patient_id (services/gateway/summaries/models.py)
            assert re.fullmatch(r"[\w.\-/]+", identifier.example)
    demo = [(d.parent.name, d.name) for d in (PROJECT_ROOT / "data" / "ncp").glob("*/*") if d.is_dir()]
    assert demo
    for code, patient_id in demo:
        assert registry.get(code).identifiers[0].accepts(patient_id), (code, patient_id)
    assert not registry.get("PT").identifiers[0].accepts("12AB")


def test_the_home_page_leads_to_the_portal_and_its_files_are_served(dev):
    http = client(dev)
    assert http.get("/", follow_redirects=False).headers["location"] == "/portail/"
    page = http.get("/portail/")
    assert page.status_code == 200 and '<html lang="fr">' in page.text
    assert http.get("/portail/portal.js").status_code == 200
    assert http.get("/portail/portal.css").status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    token = http.post("/portail/dev-token", json={"rpps": PHYSICIAN, "profession": "10"})
    assert token.headers["cache-control"] == "no-store"


class Fields(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields, self.labelled = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("input", "select", "textarea"):
            self.fields.append(attrs.get("id"))
        if tag == "label":
            self.labelled.add(attrs.get("for"))


def test_every_field_of_the_page_has_a_label_and_nothing_is_loaded_from_elsewhere():
    fields = Fields()
    fields.feed((PORTAL_DIR / "index.html").read_text(encoding="utf-8"))
    assert fields.fields and all(f in fields.labelled for f in fields.fields)
    for path in PORTAL_DIR.rglob("*"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path.name
        assert "@import" not in text and "url(" not in text, path.name
