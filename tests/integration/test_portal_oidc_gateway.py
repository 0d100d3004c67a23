"""The gateway as ``passerelle up`` builds it (create_app), on the real broker, with the portal's
OpenID Connect sign-in configured for the test double of Pro Santé Connect: a portal session is
accepted by the API like any HP token, and a refused sign-in is an AuthenticationFailed security
event carrying no ID token content."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from passerelle.testing import consume
from passerelle.topics import Topics
from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings, OidcSettings, PortalSettings
from tests.oidc_provider import ProviderDouble, psc_user

pytestmark = pytest.mark.integration
GATEWAY = "http://gw"


async def sign_in(client: httpx.AsyncClient, provider: ProviderDouble, user: dict) -> httpx.Response:
    provider.user = user
    login = await client.get("/portail/oidc/login")
    assert login.status_code == 302, login.text
    async with httpx.AsyncClient(timeout=10) as browser_hop:  # the browser's visit to the provider
        back = (await browser_hop.get(login.headers["location"])).headers["location"]
    return await client.get(back.removeprefix(GATEWAY))


async def test_a_portal_session_is_an_hp_token_and_a_refused_sign_in_is_a_security_event(topics_ready, serde):
    provider = ProviderDouble(redirect_uris=[f"{GATEWAY}/portail/oidc/callback"]).start()
    settings = GatewaySettings.of(topics_ready).model_copy(update={"portal": PortalSettings(oidc=OidcSettings(
        issuer=provider.issuer, client_id=provider.client_id, client_secret=provider.client_secret))})
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=GATEWAY) as client:
                assert (await sign_in(client, provider, psc_user("10001234565"))).status_code == 303
                session = (await client.post("/portail/oidc/session")).json()["token"]
                headers = {"Authorization": f"Bearer {session}"}
                await asyncio.wait_for(app.state.tracker.ready.wait(), 30)  # it has read its topics
                answer = await client.get("/v1/patient-summaries/no-such-request", headers=headers)
                assert answer.status_code == 404 and answer.json()["error"]["code"] == "REQUEST_NOT_FOUND"  # past auth

                refused = await sign_in(client, provider, psc_user("10002000056"))  # occupational physician
                assert refused.status_code == 403 and "PROFESSION_ACTIVITY_EXCLUDED" in refused.text
    finally:
        provider.stop()

    records = await consume(settings, Topics(settings.topic_prefix).security_events, 1)
    event = serde.decode(records[0].value)[1]  # the first: the successful sign-in published none
    assert event["reason_code"] == "PROFESSION_ACTIVITY_EXCLUDED"
    assert event["http_path"] == "/portail/oidc/callback" and event["hp"]["rpps"] == "10002000056"
    assert event["hp"]["auth_method"] == "PSC_EIDAS1" and len(event["token_fingerprint"]) == 16
    assert b"SubjectNameID" not in records[0].value and b"eyJ" not in records[0].value  # no JWT in the event
