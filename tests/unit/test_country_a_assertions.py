"""A foreign NCP's signed assertion at France's /ncp/v1 boundary: every generated assertion that is
expired, replayed, for another patient, from another country, signed by an unknown or revoked key
or tampered with is refused with its eHDSI-style code; a good one is accepted."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings, strategies as st

from passerelle.crossborder import AssertionRefused, Policy, TrustList, dev_key, sign_assertion, verify_assertion
from passerelle.settings import Settings
from services.gateway.ncp.rules import ReplayMemory

S = Settings()
TRUST, POLICY = TrustList.load(S.ncp_trust_list), Policy.load(S.country_a_policy)
NOW = 1_800_000_000.0
INS, OTHER = "286037505604238", "185072A12345665"
KIDS = {"DE": "de-dev-2026", "BE": "be-dev-2026", "IT": "it-dev-2026", "AT": "at-dev-2026"}


def hp(country: str, role: str = "physician") -> dict:
    return {"id": "HP-1", "name": "Dr. Test", "role": role, "organisation": "Hospital", "country": country}


def sign(country="DE", kid=None, purpose="TREATMENT", patient=INS, now=NOW, lifetime=600, hp_country=None, key=None):
    kid = kid or KIDS[country]
    return sign_assertion(key or dev_key(kid), kid, country, hp(hp_country or country), purpose, patient,
                          now=now, lifetime=lifetime)


def refused(token, country="DE", ins=INS, now=NOW) -> str | None:
    try:
        verify_assertion(token, TRUST, POLICY, country, ins, now)
    except AssertionRefused as exc:
        return exc.code
    return None


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(KIDS)), st.sampled_from(["TREATMENT", "EMERGENCY"]), st.integers(-50, 50))
def test_a_valid_assertion_is_accepted_unless_its_purpose_is_not_allowed_from_that_country(country, purpose, drift):
    code = refused(sign(country, purpose=purpose, now=NOW + drift), country)
    expected = None if POLICY.purpose_allowed(purpose, country) else "ERROR_POLICY_PURPOSE_NOT_ALLOWED"
    assert code == expected
    assert (purpose, country) != ("EMERGENCY", "IT") or code == "ERROR_POLICY_PURPOSE_NOT_ALLOWED"


@settings(max_examples=30, deadline=None)
@given(st.integers(61, 10**6), st.integers(1, 600))
def test_expired_or_not_yet_valid_or_too_long_assertions_are_refused(late, lifetime):
    assert refused(sign(now=NOW - lifetime - late, lifetime=lifetime)) == "ERROR_SEC_ASSERTION_EXPIRED"
    assert refused(sign(now=NOW + late)) == "ERROR_SEC_ASSERTION_EXPIRED"
    assert refused(sign(lifetime=POLICY.max_assertion_lifetime_seconds + late)) == "ERROR_SEC_ASSERTION_EXPIRED"


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(sorted(KIDS)), st.sampled_from(sorted(KIDS)))
def test_wrong_country_is_refused(signer, claimed):
    if signer == claimed:
        return
    assert refused(sign(signer), claimed) == "ERROR_SEC_COUNTRY_MISMATCH"  # requesting country is not the signer's
    assert refused(sign(signer, hp_country=claimed), signer) == "ERROR_SEC_COUNTRY_MISMATCH"  # professional elsewhere
    # a key of one country signing as another
    assert refused(sign(claimed, kid=KIDS[signer], key=dev_key(KIDS[signer])), claimed) == "ERROR_SEC_COUNTRY_MISMATCH"


def test_wrong_patient_unknown_or_revoked_signer_bad_signature_and_garbage():
    assert refused(sign(patient=OTHER)) == "ERROR_PI_PATIENT_MISMATCH"
    assert refused(sign(), ins=OTHER) == "ERROR_PI_PATIENT_MISMATCH"
    assert refused(sign(kid="de-dev-2024")) == "ERROR_SEC_REVOKED_SIGNER"
    stranger = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert refused(sign(kid="fr-nobody", key=stranger)) == "ERROR_SEC_UNKNOWN_SIGNER"
    assert refused(sign(kid="de-dev-2026", key=stranger)) == "ERROR_SEC_INVALID_SIGNATURE"
    header, payload, signature = sign().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "purpose": "EMERGENCY"}).encode()).rstrip(b"=").decode()
    assert refused(f"{header}.{forged}.{signature}") == "ERROR_SEC_INVALID_SIGNATURE"
    for garbage in ("", "a.b", "not-a-jws", "e30.e30.e30"):
        assert refused(garbage) in ("ERROR_SEC_ASSERTION_INVALID", "ERROR_SEC_UNKNOWN_SIGNER")


@pytest.mark.parametrize("role", ["physician", "administrative"])
def test_the_role_is_carried_for_the_dmp_rules_not_judged_here(role):
    token = sign_assertion(dev_key("de-dev-2026"), "de-dev-2026", "DE", hp("DE", role), "TREATMENT", INS, now=NOW)
    assert verify_assertion(token, TRUST, POLICY, "DE", INS, NOW).hp.role == role


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(min_size=8, max_size=12), min_size=1, max_size=30))
def test_an_assertion_id_serves_once_until_it_expires(jtis):
    memory, unique = ReplayMemory(), list(dict.fromkeys(jtis))
    assert all(memory.first_use(jti, int(NOW) + 600, NOW) for jti in unique)
    assert not any(memory.first_use(jti, int(NOW) + 600, NOW) for jti in jtis)  # replayed
    assert all(memory.first_use(jti, int(NOW) + 2000, NOW + 1000) for jti in unique)  # expired: forgotten


def test_the_replay_memory_stays_bounded():
    memory = ReplayMemory(capacity=10)
    for i in range(100):
        assert memory.first_use(f"jti-{i:04d}", int(NOW) + i, NOW)
    assert len(memory.seen) <= 10 and not memory.first_use("jti-0099", int(NOW) + 99, NOW)
