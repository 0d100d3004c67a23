"""What every page the gateway serves to a person shares (the professionals' portal, the patient
space): the security headers, and the stable code of a failed OpenID Connect sign-in."""

from __future__ import annotations

from authlib.integrations.base_client import MismatchingStateError, OAuthError
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def oidc_failure_code(exc: Exception) -> str:
    """The stable code of a failure while Authlib finishes the flow."""
    if isinstance(exc, MismatchingStateError):
        return "OIDC_STATE_INVALID"
    if isinstance(exc, OAuthError):  # the token endpoint's error answer (invalid_grant, invalid_client…)
        return "OIDC_CODE_REFUSED"
    if isinstance(exc, ExpiredTokenError):
        return "OIDC_ID_TOKEN_EXPIRED"
    if isinstance(exc, ClaimError) and exc.claim == "nonce":
        return "OIDC_NONCE_MISMATCH"
    if isinstance(exc, (BadSignatureError, JoseError, ValueError)):
        return "OIDC_ID_TOKEN_INVALID"
    return "IDENTITY_PROVIDER_UNAVAILABLE"
