"""Development tokens: signed with an asymmetric key; anything unsigned, expired or malformed refused."""

from __future__ import annotations

import time

import jwt
import pytest

from passerelle.settings import TokenSettings
from passerelle.tokens import TokenError, TokenVerifier, mint

SETTINGS = TokenSettings()


def test_a_minted_token_names_the_professional(tmp_path):
    token = mint(tmp_path, SETTINGS, "10001234567", "21", "750000001", "E_CPS")
    claims = TokenVerifier(SETTINGS, tmp_path).verify(token)
    assert (claims.rpps, claims.profession, claims.organisation, claims.auth_method) == (
        "10001234567", "21", "750000001", "E_CPS")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert (tmp_path / "dev-signing-key.pem").stat().st_mode & 0o777 == 0o600


def test_the_key_is_generated_once_and_kept(tmp_path):
    first = mint(tmp_path, SETTINGS, "1", "10", "o")
    assert TokenVerifier(SETTINGS, tmp_path).verify(mint(tmp_path, SETTINGS, "1", "10", "o"))
    assert TokenVerifier(SETTINGS, tmp_path).verify(first)


@pytest.mark.parametrize("claims, code", [
    ({"exp": int(time.time()) - 120}, "TOKEN_EXPIRED"),
    ({"profession": None}, "TOKEN_CLAIMS_MISSING"),
    ({"organisation": ""}, "TOKEN_CLAIMS_MISSING"),
    ({"aud": "someone-else"}, "TOKEN_INVALID"),
    ({"iss": "someone-else"}, "TOKEN_INVALID"),
])
def test_refusals_have_stable_codes(tmp_path, claims, code):
    from passerelle.tokens import dev_private_key
    now = int(time.time())
    base = {"iss": SETTINGS.issuer, "aud": SETTINGS.audience, "sub": "1", "profession": "10", "organisation": "o",
            "amr": "CPS", "iat": now, "exp": now + 60}
    body = {k: v for k, v in {**base, **claims}.items() if v is not None}
    token = jwt.encode(body, dev_private_key(tmp_path), algorithm="ES256")
    with pytest.raises(TokenError) as refused:
        TokenVerifier(SETTINGS, tmp_path).verify(token)
    assert refused.value.code == code


def test_an_unsigned_or_hmac_token_is_refused(tmp_path):
    verifier = TokenVerifier(SETTINGS, tmp_path)
    claims = {"iss": SETTINGS.issuer, "aud": SETTINGS.audience, "sub": "1", "profession": "10", "organisation": "o",
              "amr": "CPS", "iat": int(time.time()), "exp": int(time.time()) + 60}
    for token in (jwt.encode(claims, None, algorithm="none"), jwt.encode(claims, "x" * 32, algorithm="HS256"), "a.b.c"):
        with pytest.raises(TokenError) as refused:
            verifier.verify(token)
        assert refused.value.code == "TOKEN_INVALID"
