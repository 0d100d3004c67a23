"""Who is calling: the bearer token of a health professional, verified (ES256 JWT or a portal
session), then checked against the RPPS directory and the professions (``identity_refusal``).

``Authentication.professional`` is the FastAPI dependency every resource's routes take; a refused
identity is counted, published on the security events topic (the audit trail of every refusal) and
answered with its stable code. ``authentication_failed`` is that event, a plain function.
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import Counter

from passerelle.envelope import new_envelope
from passerelle.events import AUTHENTICATION_FAILED
from passerelle.professionals import Profession, identity_refusal
from passerelle.service import Service
from passerelle.tokens import HealthProfessionalClaims, TokenError, TokenVerifier
from services.gateway.errors import ApiError
from services.gateway.publish import Publisher

AUTH_FAILURES = Counter("passerelle_gateway_auth_failures", "Refused tokens", ["code"])
bearer = HTTPBearer(auto_error=False)


def authentication_failed(code: str, token: str | None, hp: HealthProfessionalClaims | None, method: str,
                          path: str, origin: str | None) -> dict:
    """The audit event of a refused identity: never the token, only a fingerprint of it, and the
    professional only when the token's signature was verified (``hp`` is then set)."""
    fingerprint = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16] if token else None
    return {"envelope": new_envelope(Service.GATEWAY), "reason_code": code, "hp": hp.as_record() if hp else None,
            "token_fingerprint": fingerprint, "http_method": method, "http_path": path, "request_origin": origin}


def origin_of(request: Request) -> str | None:
    """The caller's address, as the audit trail records it."""
    return request.client.host if request.client else None


class Authentication:
    """The gateway's verification of callers; ``security_events`` is the topic refusals go to."""

    def __init__(self, verifier: TokenVerifier, directory: dict, professions: dict[str, Profession],
                 publisher: Publisher, security_events: str):
        self.verifier, self.directory, self.professions = verifier, directory, professions
        self.publisher, self.security_events = publisher, security_events

    async def refuse(self, request: Request, status: int, code: str, token: str | None,
                     hp: HealthProfessionalClaims | None = None) -> ApiError:
        """Count, publish (for the audit trail) and return the refusal of a caller's identity."""
        AUTH_FAILURES.labels(code).inc()
        event = authentication_failed(code, token, hp, request.method, request.url.path, origin_of(request))
        await self.publisher.publish_or_log(self.security_events, AUTHENTICATION_FAILED, event)
        return ApiError(status, code)

    async def professional(self, request: Request,
                           credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                           ) -> HealthProfessionalClaims:
        """The dependency: the verified professional, or the refusal (401, 403; 503 when the
        identity provider cannot be reached)."""
        if credentials is None:
            raise await self.refuse(request, 401, "TOKEN_MISSING", None)
        token = credentials.credentials
        try:
            hp = self.verifier.cached(token)  # verified a moment ago: a lookup, on the event loop
            if hp is None:
                hp = await asyncio.to_thread(self.verifier.verify, token)  # may fetch the JWKS: off the loop
        except TokenError as exc:
            status = 503 if exc.code == "IDENTITY_PROVIDER_UNAVAILABLE" else 401
            raise await self.refuse(request, status, exc.code, token) from exc
        refusal = identity_refusal(hp.as_record(), self.directory, self.professions, int(time.time() * 1000))
        if refusal:
            raise await self.refuse(request, 401 if refusal == "ASSERTION_EXPIRED" else 403, refusal, token, hp)
        return hp
