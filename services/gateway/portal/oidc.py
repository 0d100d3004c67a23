"""The portal's sign-in with an OpenID Connect provider (Pro Santé Connect): authorisation code flow
with PKCE (S256), state and nonce, by Authlib's Starlette client (docs/adr/0070-portal-openid-connect.md).

``GET /portail/oidc/login`` sends the browser to the provider; ``GET /portail/oidc/callback`` takes
the code back, has Authlib exchange it (PKCE verifier, client authentication) and verify the ID token
(signature by the provider's JWKS, ``iss``, ``aud``, ``exp``, ``nonce``), reads UserInfo, maps the
claims to the professional (claims.py) and applies the gateway's identity rules. The professional
then gets a portal session: a token this gateway signs with the same claims as any HP token, handed
over once by ``POST /portail/oidc/session`` from a short-lived HttpOnly cookie (never in a URL).
Every refusal gets a French page with its stable code and is published as an AuthenticationFailed
security event, like a refused token.

The state, nonce and PKCE verifier wait for the callback in a signed cookie (Starlette's
SessionMiddleware, scoped to ``/portail/oidc``, 10 minutes): any gateway replica can finish a sign-in.
"""

from __future__ import annotations

import html
import time
from collections.abc import Awaitable, Callable

import httpx

try:  # Authlib's client is built on httpx2 when installed (the schema registry client brings it), else httpx
    import httpx2
    HTTP_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover - depends on what is installed
    HTTP_ERRORS = (httpx.HTTPError,)
import jwt
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from passerelle.errors import MESSAGES
from services.gateway.errors import error_response
from passerelle.professionals import MAX_ASSERTION_AGE_SECONDS, DirectoryEntry, Profession, identity_refusal
from passerelle.settings import Settings
from passerelle.tokens import HealthProfessionalClaims, PortalSessionSigner, portal_session_key
from services.gateway.portal.claims import SignInRefused, merged_claims, professional_of
from services.gateway.pages import SECURITY_HEADERS, oidc_failure_code
from services.gateway.settings import GatewaySettings, OidcSettings

log = structlog.get_logger()
MOUNT = "/portail/oidc"
#: Where the browser lands once signed in: the portal fetches its session there.
PORTAL_AFTER_SIGN_IN = "/portail/?connexion=oidc"
LOGIN_COOKIE = "passerelle_oidc"
LOGIN_COOKIE_SECONDS = 600
HANDOFF_COOKIE = "passerelle_portal_session"
HANDOFF_COOKIE_SECONDS = 60
#: HTTP status of each refusal (the others of passerelle.professionals: 403).
STATUS = {"OIDC_STATE_INVALID": 400, "OIDC_PROVIDER_REFUSED": 401, "OIDC_CODE_REFUSED": 401,
          "OIDC_ID_TOKEN_INVALID": 401, "OIDC_ID_TOKEN_EXPIRED": 401, "OIDC_NONCE_MISMATCH": 401,
          "ASSERTION_EXPIRED": 401, "IDENTITY_PROVIDER_UNAVAILABLE": 503}

#: Publishes (and counts) a refused identity: ``(request, status, code, token, hp)``, as ``auth.Authentication.refuse``.
RefusalHook = Callable[[Request, int, str, str | None, HealthProfessionalClaims | None], Awaitable[object]]


class ProviderUnavailable(Exception):
    """Discovery, token, JWKS or UserInfo endpoint unreachable, or a discovery document not of our issuer."""


def oidc_enabled(settings: Settings) -> bool:
    return bool(GatewaySettings.of(settings).portal.oidc.issuer)


def _client_key(cfg: OidcSettings) -> tuple[ECKey | RSAKey, str]:
    """The private key of ``private_key_jwt`` and its algorithm (RS256 for RSA, ES256 for P-256)."""
    pem = cfg.private_key_file.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return RSAKey.import_key(pem), "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return ECKey.import_key(pem), "ES256"
    raise ValueError("private_key_jwt needs an RSA or EC P-256 key")


def _cookie_secret(settings: Settings) -> str:
    """The login cookie's signing secret, derived (HKDF) from the portal session key, which every
    replica shares: no second secret to distribute."""
    key = portal_session_key(settings.tokens, settings.state_dir)
    raw = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return HKDF(hashes.SHA256(), 32, salt=None, info=b"passerelle portal oidc login cookie").derive(raw).hex()


def failure_page(code: str) -> HTMLResponse:
    """A French page saying why, with the stable code, and the way back to the sign-in page."""
    message = html.escape(MESSAGES[code])
    body = f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion refusée — Passerelle</title><link rel="stylesheet" href="/portail/portal.css"></head>
<body><main id="contenu"><section aria-labelledby="titre-refus">
<h1 id="titre-refus">Connexion refusée</h1>
<div role="alert" class="erreur"><p>{message}</p><p>Code : <code id="code-erreur">{html.escape(code)}</code></p></div>
<p><a href="/portail/">Revenir à la page de connexion</a></p>
</section></main></body></html>"""
    return HTMLResponse(body, status_code=STATUS.get(code, 403),
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


class OidcSignIn:
    """The sign-in routes, mounted at ``MOUNT`` by ``install_portal``."""

    MOUNT = MOUNT

    def __init__(self, settings: Settings, directory: dict[str, DirectoryEntry], professions: dict[str, Profession],
                 on_refusal: RefusalHook):
        settings = GatewaySettings.of(settings)
        self.settings, self.cfg = settings, settings.portal.oidc
        self.directory, self.professions, self.on_refusal = directory, professions, on_refusal
        self.signer = PortalSessionSigner(settings.tokens, settings.state_dir)
        cfg = self.cfg
        client_kwargs = {"scope": cfg.scopes, "code_challenge_method": "S256",
                         "token_endpoint_auth_method": cfg.token_endpoint_auth_method, "timeout": cfg.timeout_seconds}
        secret, auth_methods = (cfg.client_secret.get_secret_value() if cfg.client_secret else None), None
        if cfg.token_endpoint_auth_method == "private_key_jwt":
            secret, alg = _client_key(cfg)
            auth_methods = [PrivateKeyJWT(alg=alg)]
        self.client = OAuth().register(
            "psc", client_id=cfg.client_id, client_secret=secret, client_kwargs=client_kwargs,
            server_metadata_url=cfg.discovery_url or f"{cfg.issuer.rstrip('/')}/.well-known/openid-configuration",
            client_auth_methods=auth_methods)

    # ---- the provider's metadata ----

    async def metadata(self) -> dict:
        """The discovery document (fetched once): its issuer must be ours (OpenID Connect Discovery
        4.3), and the ID token algorithms are narrowed to those we accept."""
        try:
            metadata = await self.client.load_server_metadata()
        except (*HTTP_ERRORS, ValueError) as exc:
            raise ProviderUnavailable("discovery document unreachable or unreadable") from exc
        if metadata.get("issuer") != self.cfg.issuer:
            self.client.server_metadata.pop("_loaded_at", None)  # read it again next time
            raise ProviderUnavailable("the discovery document names another issuer")
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        metadata["id_token_signing_alg_values_supported"] = [
            a for a in advertised if a in self.cfg.id_token_algorithms] or ["none-accepted"]
        return metadata

    def _claims_options(self) -> dict:
        return {"iss": {"essential": True, "value": self.cfg.issuer},
                "aud": {"essential": True, "value": self.cfg.client_id},
                "exp": {"essential": True}, "sub": {"essential": True}}

    # ---- the routes ----

    async def login(self, request: Request) -> Response:
        """To the provider, with a fresh state, nonce and PKCE challenge (S256)."""
        try:
            await self.metadata()
        except ProviderUnavailable as exc:
            log.error("identity provider unavailable", step="login", reason=str(exc))
            await self.on_refusal(request, 503, "IDENTITY_PROVIDER_UNAVAILABLE", None, None)
            return failure_page("IDENTITY_PROVIDER_UNAVAILABLE")
        redirect_uri = self.cfg.redirect_uri or f"{request.url.scheme}://{request.url.netloc}{MOUNT}/callback"
        extra = {"acr_values": self.cfg.acr_values} if self.cfg.acr_values else {}
        return await self.client.authorize_redirect(request, redirect_uri, **extra)

    async def callback(self, request: Request) -> Response:
        id_token: str | None = None
        try:
            if request.query_params.get("error"):
                raise SignInRefused("OIDC_PROVIDER_REFUSED")
            claims, id_token = await self._verified_claims(request)
            hp = professional_of(claims, self.cfg.strong_acr_values)
            refusal = identity_refusal(hp.as_record(), self.directory, self.professions, int(time.time() * 1000))
            if refusal:
                raise SignInRefused(refusal, hp)
        except SignInRefused as exc:
            log.info("portal sign-in refused", code=exc.code)
            await self.on_refusal(request, STATUS.get(exc.code, 403), exc.code, id_token, exc.hp)
            return failure_page(exc.code)
        now = int(time.time())
        session = self.signer.sign(hp, min(hp.issued_at + MAX_ASSERTION_AGE_SECONDS,
                                           now + self.settings.portal.session_ttl_seconds))
        log.info("portal sign-in", provider=self.cfg.issuer, profession=hp.profession, auth_method=hp.auth_method)
        response = RedirectResponse(PORTAL_AFTER_SIGN_IN, status_code=303)
        response.set_cookie(HANDOFF_COOKIE, session, max_age=HANDOFF_COOKIE_SECONDS, path=f"{MOUNT}/session",
                            httponly=True, secure=self._https(request), samesite="lax")
        return response

    async def _verified_claims(self, request: Request) -> tuple[dict, str]:
        """Authlib finishes the flow (state, code + PKCE verifier, ID token), then UserInfo completes
        the ID token's claims; with the ID token itself (fingerprinted in a refusal's audit event).
        Raises SignInRefused."""
        try:
            metadata = await self.metadata()
            token = await self.client.authorize_access_token(
                request, claims_options=self._claims_options(), leeway=self.settings.tokens.leeway_seconds)
        except ProviderUnavailable as exc:
            log.error("identity provider unavailable", step="callback", reason=str(exc))
            raise SignInRefused("IDENTITY_PROVIDER_UNAVAILABLE") from exc
        except (OAuthError, JoseError, *HTTP_ERRORS, ValueError, RuntimeError) as exc:
            code = oidc_failure_code(exc)
            log.info("provider answer refused", code=code, error_class=type(exc).__name__)
            raise SignInRefused(code) from exc
        id_claims = token.get("userinfo")  # Authlib's name for the verified ID token claims
        if id_claims is None:
            raise SignInRefused("OIDC_ID_TOKEN_INVALID")
        userinfo = None
        if metadata.get("userinfo_endpoint"):
            try:
                userinfo = await self.client.userinfo(token=token)
            except (*HTTP_ERRORS, ValueError, OAuthError) as exc:
                raise SignInRefused("IDENTITY_PROVIDER_UNAVAILABLE") from exc
        return merged_claims(id_claims, userinfo), token["id_token"]

    async def session(self, request: Request) -> Response:
        """The portal session, once: read from the cookie the callback set, then forgotten."""
        token = request.cookies.get(HANDOFF_COOKIE)
        if not token:
            return error_response(404, "PORTAL_SESSION_NOT_FOUND", headers={"Cache-Control": "no-store"})
        try:
            expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
            expires = int(time.time())  # not ours: the gateway will refuse it at the first call
        response = JSONResponse({"token": token, "expires_in": max(0, expires - int(time.time()))},
                                headers={"Cache-Control": "no-store"})
        response.delete_cookie(HANDOFF_COOKIE, path=f"{MOUNT}/session", httponly=True,
                               secure=self._https(request), samesite="lax")
        return response

    def _https(self, request: Request) -> bool:
        return (self.cfg.redirect_uri or str(request.url)).startswith("https://")

    def asgi(self) -> Starlette:
        https = bool(self.cfg.redirect_uri and self.cfg.redirect_uri.startswith("https://"))
        return Starlette(
            routes=[Route("/login", self.login, name="oidc_login"),
                    Route("/callback", self.callback, name="oidc_callback"),
                    Route("/session", self.session, methods=["POST"], name="oidc_session")],
            middleware=[Middleware(SessionMiddleware, secret_key=_cookie_secret(self.settings),
                                   session_cookie=LOGIN_COOKIE, max_age=LOGIN_COOKIE_SECONDS, path=MOUNT,
                                   same_site="lax", https_only=https)])
