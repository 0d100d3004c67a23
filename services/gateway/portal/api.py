"""The web portal (issue 7, docs/portal.md): static French pages under ``/portail/`` that call the
HTTP API from the browser, the countries' patient search masks, and a development-only sign-in.

Development sign-in mints the same token as ``passerelle token`` (the development key in
``state_dir``). It is on only while the gateway trusts that key, that is while no identity provider
is configured (``PASSERELLE_TOKENS__JWKS_URL`` empty); in production the portal signs in with the
OpenID Connect provider (Pro Santé Connect, ``PASSERELLE_PORTAL__OIDC__*``: oidc.py, mounted
at ``/portail/oidc``) and this endpoint answers 403 DEV_SIGN_IN_DISABLED.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from passerelle.countries import CountryRegistry, PatientIdentifier
from passerelle.settings import Settings
from passerelle.tokens import mint
from services.gateway.pages import SECURITY_HEADERS
from services.gateway.errors import ApiError
from services.gateway.bodies import REQUEST_BODY
from services.gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from services.gateway.portal.oidc import OidcSignIn

log = structlog.get_logger()
PORTAL_DIR = Path(__file__).parent
PREFIX = "/portail"
DEV_TOKEN_TTL_SECONDS = 3600
AUDIT_READ_SCOPE = "audit:read"
#: The pages load nothing from elsewhere, and the browser is told so: anything not from the
#: gateway itself is refused (blob: for the original documents the page builds).
class PortalFiles(StaticFiles):
    """The portal's static files, with the security headers above."""

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


class DevSignIn(BaseModel):
    model_config = REQUEST_BODY
    rpps: str = Field(pattern=r"^[0-9]{11}$", description="RPPS number (development directory).")
    profession: str = Field(pattern=r"^[0-9]{2}$", description="Profession code (10 physician, 21 pharmacist...).")
    organisation: str = Field("750000001", pattern=r"^[0-9A-Za-z]{1,20}$")
    audit_read: bool = Field(False, strict=True, description="Ask for the audit:read scope (access log).")


class DevToken(BaseModel):
    token: str
    expires_in: int


class PortalConfig(BaseModel):
    dev_sign_in: bool
    identity_provider: str
    #: "Se connecter avec Pro Santé Connect" (GET /portail/oidc/login) is offered.
    oidc_sign_in: bool = False


class SearchMask(BaseModel):
    code: str
    name: str
    services: list[str]
    identifiers: list[PatientIdentifier]
    document_types: dict[str, list[str]] = {}  # per service, the document types the country serves


def dev_sign_in_enabled(settings: Settings) -> bool:
    """Only while the gateway verifies tokens with the development key (no identity provider): its
    own under ``state_dir``, or the one a secret provides beside the key set that trusts it."""
    tokens = settings.tokens
    return not tokens.jwks_url and (not tokens.jwks_file or tokens.signing_key_file is not None)


def portal_router(settings: Settings, countries: CountryRegistry) -> APIRouter:
    router = APIRouter(tags=["portal"])
    oidc_enabled = bool(GatewaySettings.of(settings).portal.oidc.issuer)

    @router.get(f"{PREFIX}/config", response_model=PortalConfig)
    async def portal_config():
        """How the portal signs in: the development form, or the identity provider."""
        return {"dev_sign_in": dev_sign_in_enabled(settings),
                "identity_provider": "développement" if dev_sign_in_enabled(settings) else "Pro Santé Connect",
                "oidc_sign_in": oidc_enabled}

    @router.post(f"{PREFIX}/dev-token", response_model=DevToken)
    async def dev_token(body: DevSignIn, response: Response):
        """Development only: a token signed by the development key (as ``passerelle token``)."""
        if not dev_sign_in_enabled(settings):
            raise ApiError(403, "DEV_SIGN_IN_DISABLED")
        token = mint(settings.state_dir, settings.tokens, body.rpps, body.profession, body.organisation,
                     ttl_seconds=DEV_TOKEN_TTL_SECONDS, scope=AUDIT_READ_SCOPE if body.audit_read else None)
        log.info("development sign-in", profession=body.profession, audit_read=body.audit_read)
        response.headers["Cache-Control"] = "no-store"
        return {"token": token, "expires_in": DEV_TOKEN_TTL_SECONDS}

    @router.get("/v1/countries/{code}/identifiers", response_model=SearchMask, tags=["reference"])
    async def search_mask(code: str):
        """The patient search mask the country publishes: identifiers, format, mandatory, hints."""
        country = countries.get(code)
        if country is None:
            raise ApiError(404, "COUNTRY_UNKNOWN")
        return country.model_dump(include={"code", "name", "services", "identifiers", "document_types"})

    @router.get("/", include_in_schema=False)
    async def home():
        return RedirectResponse(f"{PREFIX}/")

    return router


def install_portal(app: FastAPI, settings: Settings, countries: CountryRegistry | None = None,
                   oidc: OidcSignIn | None = None) -> None:
    """The portal's routes and its static pages at ``/portail/``; ``countries``: the gateway's, already
    loaded; ``oidc``: the OpenID Connect sign-in, when a provider is configured."""
    app.include_router(portal_router(settings, countries or CountryRegistry.load(settings.countries_file)))
    if oidc is not None:
        app.mount(oidc.MOUNT, oidc.asgi(), name="portal-oidc")  # before the static pages' mount
    app.mount(PREFIX, PortalFiles(directory=PORTAL_DIR, html=True), name="portal")
