"""Tokens and treatment-relationship confirmations: ES256 against a JWKS; every forgery refused.

Attack tests: forged signature, ``alg: none``, HMAC keyed with the public key (algorithm confusion),
tampered claims, unknown or missing ``kid``, a confirmation for another patient, a confirmation
replayed after expiry, a confirmation living longer than 2 hours.
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passerelle.settings import TokenSettings
from passerelle.tokens import (CONFIRMATION_KEY_FILE, ConfirmationVerifier, TokenError, TokenVerifier,
                               confirm_treatment_relationship, dev_jwks_file, dev_private_key, mint, public_jwk,
                               sign_with_dev_key)

SETTINGS = TokenSettings()
HP = {"rpps": "10001234565", "organisation": "750000001"}
PATIENT = {"country": "PT", "patient_id": "193857264"}


def claims(**override) -> dict:
    now = int(time.time())
    base = {"iss": SETTINGS.issuer, "aud": SETTINGS.audience, "sub": "10001234565", "profession": "10",
            "organisation": "750000001", "amr": "CPS", "iat": now, "exp": now + 60}
    return {k: v for k, v in {**base, **override}.items() if v is not None}


def refused(verifier, token: str) -> str:
    with pytest.raises(TokenError) as refusal:
        verifier.verify(token)
    return refusal.value.code


def test_a_minted_token_names_the_professional_and_is_verified_through_the_jwks(tmp_path):
    token = mint(tmp_path, SETTINGS, "10001234565", "21", "750000001", "E_CPS")
    claims_ = TokenVerifier(SETTINGS, tmp_path).verify(token)
    assert (claims_.rpps, claims_.profession, claims_.organisation, claims_.auth_method) == (
        "10001234565", "21", "750000001", "E_CPS")
    header = jwt.get_unverified_header(token)
    jwks = json.loads(dev_jwks_file(tmp_path).read_text())
    assert header["alg"] == "ES256" and [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    assert "d" not in jwks["keys"][0], "the JWKS holds the public key only"
    assert (tmp_path / "dev-signing-key.pem").stat().st_mode & 0o777 == 0o600


def test_the_key_is_generated_once_and_kept(tmp_path):
    first = mint(tmp_path, SETTINGS, "1", "10", "o")
    assert TokenVerifier(SETTINGS, tmp_path).verify(mint(tmp_path, SETTINGS, "1", "10", "o"))
    assert TokenVerifier(SETTINGS, tmp_path).verify(first)


@pytest.mark.parametrize("override, code", [
    ({"exp": int(time.time()) - 120}, "TOKEN_EXPIRED"),
    ({"profession": None}, "TOKEN_CLAIMS_MISSING"),
    ({"organisation": ""}, "TOKEN_CLAIMS_MISSING"),
    ({"aud": "someone-else"}, "TOKEN_INVALID"),
    ({"iss": "someone-else"}, "TOKEN_INVALID"),
])
def test_refusals_have_stable_codes(tmp_path, override, code):
    token = sign_with_dev_key(claims(**override), tmp_path, "dev-signing-key.pem")
    assert refused(TokenVerifier(SETTINGS, tmp_path), token) == code


def test_a_forged_signature_is_refused_even_with_our_kid(tmp_path):
    kid = public_jwk(dev_private_key(tmp_path))["kid"]
    forged = jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})
    assert refused(TokenVerifier(SETTINGS, tmp_path), forged) == "TOKEN_INVALID"


def test_alg_none_hmac_with_the_public_key_and_unknown_kids_are_refused(tmp_path):
    verifier = TokenVerifier(SETTINGS, tmp_path)
    kid = public_jwk(dev_private_key(tmp_path))["kid"]
    public_pem = dev_private_key(tmp_path).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    unsigned = jwt.encode(claims(), None, algorithm="none", headers={"kid": kid})
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "kid": kid}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    import hmac, hashlib  # noqa: E401 - PyJWT itself refuses to HMAC with a PEM key, so we forge by hand
    mac = base64.urlsafe_b64encode(hmac.new(public_pem, header + b"." + body, hashlib.sha256).digest()).rstrip(b"=")
    confused = (header + b"." + body + b"." + mac).decode()
    other_kid = jwt.encode(claims(), dev_private_key(tmp_path), algorithm="ES256", headers={"kid": "someone"})
    no_kid = jwt.encode(claims(), dev_private_key(tmp_path), algorithm="ES256")
    for token in (unsigned, confused, other_kid, no_kid, "a.b.c", "not-a-jwt"):
        assert refused(verifier, token) == "TOKEN_INVALID", token


def test_tampered_claims_break_the_signature(tmp_path):
    token = mint(tmp_path, SETTINGS, "10001234565", "60", "750000001", "PASSWORD")
    header, body, signature = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(profession="10", amr="CPS")  # a nurse without a card makes herself a physician with one
    tampered = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert refused(TokenVerifier(SETTINGS, tmp_path), f"{header}.{tampered}.{signature}") == "TOKEN_INVALID"


# --- treatment-relationship confirmations (country A's check) ---

def test_a_confirmation_binds_one_professional_and_one_patient_for_at_most_two_hours(tmp_path):
    now = int(time.time())
    token = confirm_treatment_relationship(tmp_path, SETTINGS, HP, PATIENT, "TREATMENT", "req-1", now)
    confirmed = ConfirmationVerifier(SETTINGS, tmp_path).verify(token, now)
    assert confirmed.binds("10001234565", "PT", "193857264")
    assert not confirmed.binds("10001234565", "PT", "284716395") and not confirmed.binds("10009999995", "PT", "193857264")
    assert confirmed.expires_at == now + 7200


def test_a_confirmation_replayed_after_expiry_is_refused(tmp_path):
    issued = int(time.time()) - 3 * 3600
    token = confirm_treatment_relationship(tmp_path, SETTINGS, HP, PATIENT, "TREATMENT", "req-1", issued)
    verifier = ConfirmationVerifier(SETTINGS, tmp_path)
    assert verifier.verify(token, issued + 7200 - 60)
    with pytest.raises(TokenError) as refusal:
        verifier.verify(token, issued + 7200 + SETTINGS.leeway_seconds)
    assert refusal.value.code == "TREATMENT_RELATIONSHIP_EXPIRED"


def test_a_confirmation_valid_longer_than_two_hours_or_signed_by_another_key_is_refused(tmp_path):
    now = int(time.time())
    long_lived = {"iss": SETTINGS.confirmation_issuer, "aud": SETTINGS.confirmation_audience, "sub": HP["rpps"],
                  "organisation": "o", "patient_country": "PT", "patient_id": "193857264", "purpose": "TREATMENT",
                  "jti": "r", "iat": now, "exp": now + 7201}
    verifier = ConfirmationVerifier(SETTINGS, tmp_path)
    assert refused(verifier, sign_with_dev_key(long_lived, tmp_path, CONFIRMATION_KEY_FILE)) == "TREATMENT_RELATIONSHIP_INVALID"
    # the HPs' token key is not the NCP's confirmation key
    by_hp_key = sign_with_dev_key({**long_lived, "exp": now + 60}, tmp_path, "dev-signing-key.pem")
    assert refused(verifier, by_hp_key) == "TREATMENT_RELATIONSHIP_INVALID"
    assert refused(verifier, jwt.encode({**long_lived, "exp": now + 60}, None, algorithm="none")) == "TREATMENT_RELATIONSHIP_INVALID"
