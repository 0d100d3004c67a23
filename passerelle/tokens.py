"""Health-professional tokens: signed JWTs (asymmetric), verified against a key set.

Development: ``passerelle token`` signs with a P-256 key generated on first use under
``state_dir``. Production: the identity provider's JWKS URL (``PASSERELLE_TOKENS__JWKS_URL``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passerelle.settings import TokenSettings

REQUIRED_CLAIMS = ("sub", "profession", "organisation", "amr", "iat", "exp")
DEV_KEY_FILE = "dev-signing-key.pem"


class TokenError(Exception):
    """The token is refused; ``code`` is a stable error code of ``passerelle.errors``."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class HealthProfessionalClaims:
    rpps: str
    profession: str
    organisation: str
    auth_method: str
    issued_at: int  # seconds since the epoch
    #: OAuth 2.0 ``scope`` claim, split (e.g. ``audit:read`` for GET /v1/audit/accesses).
    scopes: tuple[str, ...] = ()

    def as_record(self) -> dict:
        return {"rpps": self.rpps, "profession": self.profession, "organisation": self.organisation,
                "auth_method": self.auth_method, "assertion_issued_at": self.issued_at * 1000}


def dev_private_key(state_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The development signing key, generated (0600) on first use."""
    path = state_dir / DEV_KEY_FILE
    if not path.exists():
        state_dir.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        tmp.replace(path)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def mint(state_dir: Path, settings: TokenSettings, rpps: str, profession: str,
         organisation: str, auth_method: str = "CPS", ttl_seconds: int = 3600,
         now: int | None = None, scope: str | None = None) -> str:
    now = int(time.time()) if now is None else now
    claims = {"iss": settings.issuer, "aud": settings.audience, "sub": rpps, "profession": profession,
              "organisation": organisation, "amr": auth_method, "iat": now, "exp": now + ttl_seconds}
    if scope:
        claims["scope"] = scope
    return jwt.encode(claims, dev_private_key(state_dir), algorithm=settings.algorithm, headers={"kid": "dev"})


class TokenVerifier:
    def __init__(self, settings: TokenSettings, state_dir: Path):
        self.settings = settings
        if settings.jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwks_url)
            self._static_key = None
        else:
            self._jwks = None
            self._static_key = dev_private_key(state_dir).public_key()

    def verify(self, token: str) -> HealthProfessionalClaims:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._static_key
            claims = jwt.decode(
                token, key, algorithms=[self.settings.algorithm], audience=self.settings.audience,
                issuer=self.settings.issuer, leeway=self.settings.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("TOKEN_EXPIRED") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError("TOKEN_CLAIMS_MISSING") from exc
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise TokenError("TOKEN_INVALID") from exc
        if not all(isinstance(claims.get(k), str) and claims[k] for k in ("sub", "profession", "organisation", "amr")):
            raise TokenError("TOKEN_CLAIMS_MISSING")
        return HealthProfessionalClaims(claims["sub"], claims["profession"], claims["organisation"],
                                        claims["amr"], int(claims["iat"]),
                                        scopes=tuple(str(claims.get("scope") or "").split()))
