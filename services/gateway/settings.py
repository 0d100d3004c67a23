"""What the gateway reads from configuration besides the core settings: the portal's sign-in
(``PASSERELLE_PORTAL__*``), the patient space's
(``PASSERELLE_PATIENT__*``), and the limits below."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from passerelle.settings import Settings

#: Requests whose status the gateway remembers (oldest forgotten first), and for how long: an HP
#: reads a summary right away; health data should not stay in memory longer than that needs.
MAX_TRACKED_REQUESTS = 10_000
REQUEST_TTL_SECONDS = 3600
#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 16 * 1024
#: Largest request line and headers together, in bytes (431 beyond; nginx's default is 4 x 8 KiB).
MAX_HEAD_BYTES = 32 * 1024
#: A request body must have arrived whole this many seconds after the route was reached (408 after).
BODY_READ_TIMEOUT_SECONDS = 10.0
#: Longest long poll of GET /v1/patient-summaries/{id}?wait=SECONDS.
MAX_WAIT_SECONDS = 30


class OidcSettings(BaseModel):
    """The portal's OpenID Connect provider (Pro Santé Connect in production; docs/portal.md).
    No ``issuer``: no provider, the portal offers no "Se connecter avec Pro Santé Connect"."""

    #: The provider's issuer; its discovery document is ``<issuer>/.well-known/openid-configuration``.
    issuer: str | None = None
    #: Where the discovery document is, when not at the standard place above (its ``issuer`` must still
    #: be ``issuer``).
    discovery_url: str | None = None
    client_id: str | None = None
    #: ``client_secret_basic`` / ``client_secret_post`` use ``client_secret``; ``private_key_jwt``
    #: signs a client assertion with ``private_key_file`` (PEM, RSA → RS256 or EC P-256 → ES256).
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "private_key_jwt"] = \
        "client_secret_basic"
    client_secret: SecretStr | None = None
    private_key_file: Path | None = None
    #: Registered with the provider. Empty: ``<this gateway's URL>/portail/oidc/callback`` as the
    #: request reached it (set it explicitly behind a proxy).
    redirect_uri: str | None = None
    scopes: str = "openid scope_all"
    #: Asked for at authorisation; an ID token whose ``acr`` is not in ``strong_acr_values`` is refused.
    acr_values: str | None = "eidas1"
    strong_acr_values: list[str] = Field(default_factory=lambda: ["eidas1"])
    #: ID token signature algorithms accepted (whatever the provider advertises beyond these is refused).
    id_token_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    #: Signs the browser's short-lived sign-in cookie (state, nonce, PKCE verifier). Empty: a secret
    #: generated under ``state_dir`` (set the same value on every gateway replica).
    cookie_secret: SecretStr | None = None
    #: HTTP timeout towards the provider (discovery, token, JWKS, UserInfo), in seconds.
    timeout_seconds: float = 10.0

    @model_validator(mode="after")
    def _complete(self) -> "OidcSettings":
        if not self.issuer:
            return self
        if not self.client_id:
            raise ValueError("an OpenID Connect issuer needs a client_id")
        if self.token_endpoint_auth_method == "private_key_jwt" and not self.private_key_file:
            raise ValueError("private_key_jwt needs private_key_file")
        if self.token_endpoint_auth_method != "private_key_jwt" and not self.client_secret:
            raise ValueError(f"{self.token_endpoint_auth_method} needs client_secret")
        return self


class PortalSettings(BaseModel):
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    #: A portal session (the token the portal holds after an OpenID Connect sign-in) lasts this long,
    #: never beyond 4 hours after the professional authenticated.
    session_ttl_seconds: int = 3600


def _france_connect() -> OidcSettings:
    return OidcSettings(scopes="openid given_name family_name birthdate gender birthplace birthcountry")


class PatientSpaceSettings(BaseModel):
    """The patient space (``/patient/``): sign-in with FranceConnect (docs/patient-space.md). No
    ``oidc.issuer``: no provider, the space only says that sign-in is not available."""

    oidc: OidcSettings = Field(default_factory=_france_connect)
    #: A patient session lasts this long (then the patient signs in again).
    session_ttl_seconds: int = 900
    page_size: int = 20


class GatewaySettings(Settings):
    portal: PortalSettings = Field(default_factory=PortalSettings)
    #: ``PASSERELLE_PATIENT__*``
    patient: PatientSpaceSettings = Field(default_factory=PatientSpaceSettings)
