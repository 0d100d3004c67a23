"""The patient's sign-in to the patient space, the way FranceConnect works: OpenID Connect
authorisation code with PKCE (S256), state and nonce (Authlib), then the identity pivot (birth name,
first names, birth date, birth place, sex) matched to exactly one DMP patient's INS traits.

The patient then holds a session cookie (HttpOnly, SameSite=Lax, path ``/patient``): a JWT this
gateway signs (HS256, key derived from the portal session key, which every replica shares) naming
the patient's INS, for ``session_ttl_seconds``. A forged or expired session, a replayed code, an
identity that matches no DMP patient: refused with a French page, and published as an
AuthenticationFailed security event (audited) without any trait of the person.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import httpx
import jwt
import structlog
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from services.gateway.settings import GatewaySettings
from passerelle.tokens import portal_session_key
from passerelle.dmp import DmpRecord
from passerelle.dmp import traits_agree
from services.gateway.pages import oidc_failure_code

log = structlog.get_logger()
SESSION_COOKIE = "passerelle_patient"
PATH = "/patient"
SEXES = {"female": "F", "male": "M"}

#: ``(request, status, code, presented token)``: publishes the refusal (the gateway's ``refuse``).
RefusalHook = Callable[[Request, int, str, str | None], Awaitable[object]]


class PatientRefused(Exception):
    def __init__(self, code: str, status: int = 401):
        super().__init__(code)
        self.code, self.status = code, status


def derived_secret(settings: GatewaySettings, purpose: bytes) -> str:
    key = portal_session_key(settings.tokens, settings.state_dir)
    raw = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return HKDF(hashes.SHA256(), 32, salt=None, info=purpose).derive(raw).hex()


def pivot_traits(claims: dict) -> dict:
    """FranceConnect's identity pivot → INS traits; ``PatientRefused`` when one is missing."""
    try:
        return {"birth_name": claims["family_name"], "first_names": claims["given_name"].split(),
                "birth_date": claims["birthdate"], "sex": SEXES[claims["gender"]],
                "birth_place": claims["birthplace"]}
    except (KeyError, AttributeError):
        raise PatientRefused("PATIENT_IDENTITY_INCOMPLETE") from None


def matching_patient(dmp: dict[str, DmpRecord], traits: dict) -> str:
    """The INS of the one DMP patient whose every trait agrees; ``PatientRefused`` otherwise."""
    found = [ins for ins, record in dmp.items() if traits_agree(traits, record)
             and len(traits["first_names"]) == len(record.patient.first_names)]
    if len(found) != 1:
        raise PatientRefused("PATIENT_NOT_FOUND", 403)
    return found[0]


class PatientSignIn:
    def __init__(self, settings: GatewaySettings, dmp: dict[str, DmpRecord], on_refusal: RefusalHook):
        self.settings, self.cfg, self.dmp, self.on_refusal = settings, settings.patient.oidc, dmp, on_refusal
        self.secret = derived_secret(settings, b"passerelle patient session")
        self.login_secret = derived_secret(settings, b"passerelle patient login cookie")
        cfg = self.cfg
        self.client = None if not cfg.issuer else OAuth().register(
            "franceconnect", client_id=cfg.client_id,
            client_secret=cfg.client_secret.get_secret_value() if cfg.client_secret else None,
            client_kwargs={"scope": cfg.scopes, "code_challenge_method": "S256",
                           "token_endpoint_auth_method": cfg.token_endpoint_auth_method,
                           "timeout": cfg.timeout_seconds},
            server_metadata_url=cfg.discovery_url or f"{cfg.issuer.rstrip('/')}/.well-known/openid-configuration")

    # ---- the session ----

    def session_token(self, ins: str) -> str:
        now = int(time.time())
        return jwt.encode({"sub": ins, "iat": now, "exp": now + self.settings.patient.session_ttl_seconds,
                           "jti": str(uuid.uuid4()), "aud": "passerelle-patient"}, self.secret, algorithm="HS256")

    async def patient(self, request: Request) -> str | None:
        """The signed-in patient's INS; None without a session; ``PatientRefused`` (published) for a
        session that is not ours, expired, or names no DMP patient."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"], audience="passerelle-patient",
                                options={"require": ["exp", "sub", "jti"]})
        except jwt.ExpiredSignatureError:
            raise await self.refused(request, PatientRefused("PATIENT_SESSION_EXPIRED"), token) from None
        except jwt.InvalidTokenError:
            raise await self.refused(request, PatientRefused("PATIENT_SESSION_INVALID"), token) from None
        if claims["sub"] not in self.dmp:
            raise await self.refused(request, PatientRefused("PATIENT_SESSION_INVALID"), token)
        return claims["sub"]

    async def refused(self, request: Request, exc: PatientRefused, token: str | None = None) -> PatientRefused:
        log.info("patient space refused", code=exc.code, path=request.url.path)
        await self.on_refusal(request, exc.status, exc.code, token)
        return exc

    # ---- the routes ----

    async def login(self, request: Request) -> Response:
        if self.client is None:
            raise await self.refused(request, PatientRefused("PATIENT_SIGNIN_UNAVAILABLE", 503))
        redirect_uri = self.cfg.redirect_uri or f"{request.url.scheme}://{request.url.netloc}{PATH}/retour"
        extra = {"acr_values": self.cfg.acr_values} if self.cfg.acr_values else {}
        try:
            return await self.client.authorize_redirect(request, redirect_uri, **extra)
        except (httpx.HTTPError, ValueError) as exc:
            log.error("identity provider unavailable", step="login", error_class=type(exc).__name__)
            raise await self.refused(request, PatientRefused("IDENTITY_PROVIDER_UNAVAILABLE", 503)) from exc

    async def callback(self, request: Request) -> Response:
        if self.client is None:
            raise await self.refused(request, PatientRefused("PATIENT_SIGNIN_UNAVAILABLE", 503))
        try:
            if request.query_params.get("error"):
                raise PatientRefused("OIDC_PROVIDER_REFUSED")
            claims = await self._claims(request)
            ins = matching_patient(self.dmp, pivot_traits(claims))
        except PatientRefused as exc:
            raise await self.refused(request, exc) from None
        log.info("patient signed in", provider=self.cfg.issuer)
        response = RedirectResponse(f"{PATH}/", status_code=303)
        response.set_cookie(SESSION_COOKIE, self.session_token(ins), max_age=self.settings.patient.session_ttl_seconds,
                            path=PATH, httponly=True, secure=request.url.scheme == "https", samesite="lax")
        return response

    async def _claims(self, request: Request) -> dict:
        try:
            token = await self.client.authorize_access_token(
                request, claims_options={"iss": {"essential": True, "value": self.cfg.issuer},
                                         "aud": {"essential": True, "value": self.cfg.client_id}},
                leeway=self.settings.tokens.leeway_seconds)
            claims = dict(token.get("userinfo") or {})
            if not claims:
                raise PatientRefused("OIDC_ID_TOKEN_INVALID")
            if self.cfg.acr_values and claims.get("acr") not in self.cfg.strong_acr_values:
                raise PatientRefused("OIDC_ID_TOKEN_INVALID")
            return {**claims, **(await self.client.userinfo(token=token))}
        except (OAuthError, JoseError, httpx.HTTPError, ValueError, RuntimeError) as exc:
            raise PatientRefused(oidc_failure_code(exc)) from exc

    def logout(self, request: Request) -> Response:
        response = RedirectResponse(f"{PATH}/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PATH, httponly=True, samesite="lax")
        return response
