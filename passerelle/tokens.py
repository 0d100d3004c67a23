"""Signed JWTs (ES256), always verified against a JSON Web Key Set (JWKS): PyJWT's ``PyJWKClient``
for a configured URL, PyJWT's ``PyJWKSet`` for the development file. No hand-written cryptography.

* Health-professional tokens. Production: the identity provider's JWKS URL
  (``PASSERELLE_TOKENS__JWKS_URL``, Pro Santé Connect). Development: ``passerelle token`` signs with
  a P-256 key generated on first use under ``state_dir``, published there as a JWKS file that the
  verifier loads as a key set too (same lookup by ``kid``, same checks).
* Treatment-relationship confirmations (TRC): signed by this NCP (consent service) for one HP and one
  patient, valid at most 2 hours; country A verifies them with this NCP's JWKS
  (``PASSERELLE_TOKENS__CONFIRMATION_JWKS_URL``; development: the file beside the key).

Only ES256 is accepted: ``alg: none``, HMAC (including the public key used as an HMAC secret) and
any other algorithm are refused before any signature is computed.

Verified HP tokens are kept a short while (``VerifiedTokens``): a professional's software sends the
same bearer token with every call, and an ES256 check costs far more than a dictionary lookup. At
most ``MAX_VERIFIED_TOKENS`` (10,000, least recently used forgotten first); a cached token is still
refused once expired (``exp``, with the leeway) and is verified again at least every
``VERIFIED_TOKEN_SECONDS`` (60 s); refusals are never cached. Key rotation: a token signed with a
key removed from the identity provider's JWKS is refused once PyJWKClient's copy of the set has
expired (``lifespan``, 300 s) and, if it was verified before, once its cache entry has (≤ 60 s more):
the cache adds at most a minute to how long a removed key is accepted.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passerelle.private_files import private_dir
from passerelle.keys import LocalKeySet, load_private_key, public_jwk
from passerelle.settings import TokenSettings

REQUIRED_CLAIMS = ("sub", "profession", "organisation", "amr", "iat", "exp")
DEV_KEY_FILE = "dev-signing-key.pem"
#: This NCP's key for treatment-relationship confirmations (a different key from the HPs' tokens).
CONFIRMATION_KEY_FILE = "ncp-confirmation-key.pem"
#: This gateway's key for portal sessions (after an OpenID Connect sign-in; docs/adr/0070).
PORTAL_SESSION_KEY_FILE = "portal-session-key.pem"
CONFIRMATION_CLAIMS = ("sub", "organisation", "patient_country", "patient_id", "purpose", "jti", "iat", "exp")
#: Verified HP tokens kept at most (least recently used forgotten first), and for how long at most.
MAX_VERIFIED_TOKENS = 10_000
VERIFIED_TOKEN_SECONDS = 60


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


def dev_private_key(state_dir: Path, name: str = DEV_KEY_FILE) -> ec.EllipticCurvePrivateKey:
    """A development signing key, generated (0600) on first use. Several processes may start at
    once: the key is written aside and hard-linked into place, so the first writer wins and every
    process reads the same key."""
    path = state_dir / name
    if not path.exists():
        private_dir(state_dir)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = path.with_name(f"{name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(pem)
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            tmp.unlink()
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def dev_jwks_file(state_dir: Path, name: str = DEV_KEY_FILE) -> Path:
    """Publish a development key's public half as a JWKS file."""
    path = state_dir / f"{Path(name).stem}.jwks.json"
    body = json.dumps({"keys": [public_jwk(dev_private_key(state_dir, name))]})
    if not path.exists() or path.read_text() != body:
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(body)
        tmp.replace(path)
    return path


def sign_with_dev_key(claims: dict, state_dir: Path, key_file: str) -> str:
    key = dev_private_key(state_dir, key_file)
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"]})


def token_signing_key(settings: TokenSettings, state_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The development token key: ``signing_key_file`` (a secret), else generated under ``state_dir``."""
    if settings.signing_key_file:
        return load_private_key(settings.signing_key_file, "PASSERELLE_TOKENS__SIGNING_KEY_FILE")
    return dev_private_key(state_dir, DEV_KEY_FILE)


def hp_claims(issuer: str, audience: str, rpps: str, profession: str, organisation: str, auth_method: str,
              issued_at: int, expires_at: int, scope: str | None = None) -> dict:
    """The claims of an HP token, whoever signs it (the development key, the portal's session key)."""
    claims = {"iss": issuer, "aud": audience, "sub": rpps, "profession": profession, "organisation": organisation,
              "amr": auth_method, "iat": issued_at, "exp": expires_at}
    if scope:
        claims["scope"] = scope
    return claims


def mint(state_dir: Path, settings: TokenSettings, rpps: str, profession: str,
         organisation: str, auth_method: str = "CPS", ttl_seconds: int = 3600,
         now: int | None = None, scope: str | None = None) -> str:
    now = int(time.time()) if now is None else now
    claims = hp_claims(settings.issuer, settings.audience, rpps, profession, organisation, auth_method,
                       now, now + ttl_seconds, scope)
    key = token_signing_key(settings, state_dir)
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": public_jwk(key)["kid"]})


def _key_set(url: str | None, path: Path | None, setting: str, state_dir: Path,
             key_file: str) -> jwt.PyJWKClient | LocalKeySet:
    """The configured JWKS URL (fetched and cached by PyJWKClient), else the configured JWKS file
    (``setting`` names it in errors), else the development JWKS file.
    PyJWKClient keeps the set ``lifespan`` seconds; its per-key cache (``cache_keys``) is off: it has
    no expiry, so a key removed from the set would be accepted until the process restarts."""
    if url:
        return jwt.PyJWKClient(url, cache_keys=False, lifespan=300, timeout=5)
    if path:
        return LocalKeySet(path, setting=setting)
    return LocalKeySet(dev_jwks_file(state_dir, key_file))


def portal_session_key(settings: TokenSettings, state_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The key of portal sessions: ``portal_session_key_file`` (PEM), else generated under ``state_dir``."""
    if settings.portal_session_key_file:
        return load_private_key(settings.portal_session_key_file, "PASSERELLE_TOKENS__PORTAL_SESSION_KEY_FILE")
    return dev_private_key(state_dir, PORTAL_SESSION_KEY_FILE)


class PortalSessionSigner:
    """Signs the token the portal holds after an OpenID Connect sign-in: the same claims as any HP
    token (sub = RPPS, profession, organisation, amr), issued by this gateway for its own audience."""

    def __init__(self, settings: TokenSettings, state_dir: Path):
        self.settings = settings
        self._key = portal_session_key(settings, state_dir)
        self._kid = public_jwk(self._key)["kid"]

    def sign(self, hp: HealthProfessionalClaims, expires_at: int) -> str:
        claims = hp_claims(self.settings.portal_session_issuer, self.settings.audience, hp.rpps, hp.profession,
                           hp.organisation, hp.auth_method, hp.issued_at, expires_at, " ".join(hp.scopes))
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self._kid})


def _unverified_issuer(token: str) -> str | None:
    """Which issuer a token names, only to pick the key set it must then verify against."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError:
        return None
    return issuer if isinstance(issuer, str) else None


@dataclass(frozen=True)
class _Verified:
    hp: HealthProfessionalClaims
    valid_from: float  # iat and nbf, less the leeway (a clock set back)
    until: float  # min(exp, verified + VERIFIED_TOKEN_SECONDS): then verified again
    expires: float  # exp plus the leeway: refused from then on, as PyJWT refuses it


class VerifiedTokens:
    """Bearer tokens already verified, by their exact string, least recently used forgotten first.
    Thread-safe: the gateway looks here on its event loop and verifies in a worker thread."""

    def __init__(self, max_entries: int, clock=time.time):
        self.max_entries, self.clock = max_entries, clock
        self._entries: OrderedDict[str, _Verified] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> HealthProfessionalClaims | None:
        """The claims of a token verified a moment ago, None if it must be verified (again);
        ``TokenError("TOKEN_EXPIRED")`` for a cached token past its ``exp``."""
        now = self.clock()
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            if entry.valid_from <= now < entry.until:
                self._entries.move_to_end(token)
                return entry.hp
            del self._entries[token]
        if now >= entry.expires:
            raise TokenError("TOKEN_EXPIRED")
        return None

    def put(self, token: str, hp: HealthProfessionalClaims, claims: dict, leeway: float) -> None:
        now = self.clock()
        exp = int(claims["exp"])
        entry = _Verified(hp, max(int(claims["iat"]), int(claims.get("nbf", 0))) - leeway,
                          min(exp, now + VERIFIED_TOKEN_SECONDS), exp + leeway)
        if entry.until <= now:
            return  # within the leeway after exp: verified each time
        with self._lock:
            self._entries[token] = entry
            self._entries.move_to_end(token)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class TokenVerifier:
    """HP tokens of the identity provider (or the development key); with ``portal_sessions``, also
    this gateway's portal sessions, each verified against its own key set and issuer. A token
    verified a moment ago is answered from ``verified`` (see the module's documentation)."""

    def __init__(self, settings: TokenSettings, state_dir: Path, portal_sessions: bool = False,
                 max_verified: int = MAX_VERIFIED_TOKENS, clock=time.time):
        self.settings = settings
        self._jwks = _key_set(settings.jwks_url, settings.jwks_file, "PASSERELLE_TOKENS__JWKS_FILE",
                              state_dir, DEV_KEY_FILE)
        self._portal = None
        if portal_sessions:
            self._portal = LocalKeySet(jwks={"keys": [public_jwk(portal_session_key(settings, state_dir))]})
        self.verified = VerifiedTokens(max_verified, clock)

    def cached(self, token: str) -> HealthProfessionalClaims | None:
        """The claims if the token was verified a moment ago (no signature check, no I/O: fit for the
        event loop), else None; ``TokenError`` if it has expired since."""
        return self.verified.get(token)

    def verify(self, token: str) -> HealthProfessionalClaims:
        """The token's claims, verified (signature, issuer, audience, lifetime) unless cached; may
        fetch the identity provider's JWKS."""
        hp = self.verified.get(token)
        if hp is not None:
            return hp
        issuer, key_set, algorithm = self.settings.issuer, self._jwks, self.settings.algorithm
        if self._portal is not None and _unverified_issuer(token) == self.settings.portal_session_issuer:
            issuer, key_set, algorithm = self.settings.portal_session_issuer, self._portal, "ES256"
        try:
            key = key_set.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token, key, algorithms=[algorithm], audience=self.settings.audience, issuer=issuer, leeway=self.settings.leeway_seconds,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("TOKEN_EXPIRED") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise TokenError("TOKEN_CLAIMS_MISSING") from exc
        except jwt.PyJWKClientConnectionError as exc:
            raise TokenError("IDENTITY_PROVIDER_UNAVAILABLE") from exc
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise TokenError("TOKEN_INVALID") from exc
        if not all(isinstance(claims.get(k), str) and claims[k] for k in ("sub", "profession", "organisation", "amr")):
            raise TokenError("TOKEN_CLAIMS_MISSING")
        hp = HealthProfessionalClaims(claims["sub"], claims["profession"], claims["organisation"],
                                      claims["amr"], int(claims["iat"]),
                                      scopes=tuple(str(claims.get("scope") or "").split()))
        self.verified.put(token, hp, claims, self.settings.leeway_seconds)
        return hp


@dataclass(frozen=True)
class TreatmentRelationship:
    """A verified treatment-relationship confirmation: this HP treats this patient, until ``expires_at``."""
    rpps: str
    organisation: str
    patient_country: str
    patient_id: str
    purpose: str
    request_id: str
    expires_at: int  # seconds since the epoch

    def binds(self, rpps: str, country: str, patient_id: str) -> bool:
        return (self.rpps, self.patient_country, self.patient_id) == (rpps, country, patient_id)


class ConfirmationSigner:
    """Signs this NCP's treatment-relationship confirmations; the key is read once. Production:
    ``PASSERELLE_TOKENS__CONFIRMATION_KEY_FILE`` (PEM); development: generated under ``state_dir``."""

    def __init__(self, settings: TokenSettings, state_dir: Path):
        self.settings = settings
        if settings.confirmation_key_file:
            self._key = load_private_key(settings.confirmation_key_file, "PASSERELLE_TOKENS__CONFIRMATION_KEY_FILE")
        else:
            self._key = dev_private_key(state_dir, CONFIRMATION_KEY_FILE)
        self._kid = public_jwk(self._key)["kid"]

    def sign(self, hp: dict, patient: dict, purpose: str, request_id: str, now: int | None = None) -> str:
        """The confirmation that ``hp`` treats ``patient``, valid ``confirmation_ttl_seconds`` (≤ 2 h)."""
        now = int(time.time()) if now is None else now
        s = self.settings
        claims = {"iss": s.confirmation_issuer, "aud": s.confirmation_audience, "sub": hp["rpps"],
                  "organisation": hp["organisation"], "patient_country": patient["country"],
                  "patient_id": patient["patient_id"], "purpose": purpose, "jti": request_id,
                  "iat": now, "exp": now + min(s.confirmation_ttl_seconds, 7200)}
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self._kid})


def confirm_treatment_relationship(state_dir: Path, settings: TokenSettings, hp: dict, patient: dict,
                                   purpose: str, request_id: str, now: int | None = None) -> str:
    """One confirmation, signed with a key read for the occasion (tests, tools)."""
    return ConfirmationSigner(settings, state_dir).sign(hp, patient, purpose, request_id, now)


class ConfirmationVerifier:
    """Country A's check of a treatment-relationship confirmation (signature, issuer, age ≤ 2 h)."""

    def __init__(self, settings: TokenSettings, state_dir: Path):
        self.settings = settings
        self._jwks = _key_set(settings.confirmation_jwks_url, settings.confirmation_jwks_file,
                              "PASSERELLE_TOKENS__CONFIRMATION_JWKS_FILE", state_dir, CONFIRMATION_KEY_FILE)

    def verify(self, token: str, now: int | None = None) -> TreatmentRelationship:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token, key, algorithms=["ES256"], audience=self.settings.confirmation_audience,
                issuer=self.settings.confirmation_issuer, leeway=self.settings.leeway_seconds,
                options={"require": list(CONFIRMATION_CLAIMS), "verify_exp": False, "verify_iat": False},
            )
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as exc:
            raise TokenError("TREATMENT_RELATIONSHIP_INVALID") from exc
        now = int(time.time()) if now is None else now
        if not all(isinstance(claims[k], int) for k in ("iat", "exp")) or claims["exp"] - claims["iat"] > 7200:
            raise TokenError("TREATMENT_RELATIONSHIP_INVALID")
        if now >= claims["exp"] + self.settings.leeway_seconds:
            raise TokenError("TREATMENT_RELATIONSHIP_EXPIRED")
        return TreatmentRelationship(claims["sub"], claims["organisation"], claims["patient_country"],
                                     claims["patient_id"], claims["purpose"], claims["jti"], claims["exp"])
