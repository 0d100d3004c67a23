"""Pro Santé Connect's claims → the professional (services/gateway/portal/claims.py), pure."""

from __future__ import annotations

import pytest

from services.gateway.portal.claims import (SignInRefused, auth_method_of, merged_claims, professional_of,
                                          profession_and_organisation, rpps_of)
from tests.oidc_provider import psc_user

STRONG = ["eidas1"]


def claims(**changes) -> dict:
    base = {**psc_user("10001234565"), "iat": 1_800_000_000, "auth_time": 1_799_999_900}
    return {**base, **changes}


def test_the_psc_claims_give_the_rpps_profession_organisation_method_and_authentication_time():
    hp = professional_of(claims(), STRONG)
    assert (hp.rpps, hp.profession, hp.organisation, hp.auth_method, hp.issued_at) == (
        "10001234565", "10", "R10100000097563", "PSC_EIDAS1", 1_799_999_900)
    assert professional_of({**claims(), "auth_time": None} | {"auth_time": 1_799_999_000}, STRONG).issued_at == 1_799_999_000
    no_auth_time = claims()
    del no_auth_time["auth_time"]
    assert professional_of(no_auth_time, STRONG).issued_at == 1_800_000_000  # then the ID token's iat


@pytest.mark.parametrize("value, rpps", [("810001234565", "10001234565"), ("0751234567", None), ("10001234565", None),
                                         ("8100012345", None), (None, None), (810001234565, None)])
def test_the_rpps_is_the_national_identifier_after_its_prefix_8(value, rpps):
    assert rpps_of({"SubjectNameID": value}) == rpps


def test_preferred_username_is_read_when_subject_name_id_is_absent_and_sub_never_is():
    assert rpps_of({"preferred_username": "810001234565"}) == "10001234565"
    assert rpps_of({"sub": "810001234565"}) is None


def test_the_first_practice_with_a_profession_and_its_first_identified_site():
    c = claims()
    c["SubjectRefPro"]["exercices"][0]["activities"] = [
        {"numeroFinessSite": " ", "identifiantTechniqueDeLaStructure": ""},
        {"numeroSiretSite": "12345678900011", "identifiantTechniqueDeLaStructure": "R1"}]
    c["SubjectRefPro"]["exercices"].insert(0, {"codeProfession": "", "activities": []})
    assert profession_and_organisation(c) == ("10", "12345678900011")
    c["SubjectRefPro"]["exercices"][1]["activities"] = []
    assert profession_and_organisation(c) == ("10", "")  # the identity rules then say ORGANISATION_MISSING


@pytest.mark.parametrize("ref", [None, {}, {"exercices": "10"}, {"exercices": [{"activities": []}]}, "10"])
def test_no_profession_is_an_incomplete_identity(ref):
    with pytest.raises(SignInRefused) as refused:
        profession_and_organisation({"SubjectRefPro": ref})
    assert refused.value.code == "OIDC_IDENTITY_INCOMPLETE"


@pytest.mark.parametrize("acr, amr, method", [("eidas1", None, "PSC_EIDAS1"), ("eidas1", ["hwk"], "CPS"),
                                              ("eidas1", ["pwd", "swk"], "E_CPS"), ("eidas1", "sc", "CPS"),
                                              ("eidas0", ["hwk"], "ACR_eidas0"), (None, ["hwk"], "NONE"),
                                              ("", None, "NONE")])
def test_only_a_strong_acr_gives_a_strong_method_and_amr_names_it_when_it_can(acr, amr, method):
    assert auth_method_of({"acr": acr, "amr": amr}, STRONG) == method


def test_userinfo_completes_the_id_token_but_must_be_about_the_same_subject_and_never_overrides_it():
    merged = merged_claims({"sub": "a", "acr": "eidas1"}, {"sub": "a", "acr": "eidas0", "SubjectNameID": "8x"})
    assert merged == {"sub": "a", "acr": "eidas1", "SubjectNameID": "8x"}
    with pytest.raises(SignInRefused) as refused:
        merged_claims({"sub": "a"}, {"sub": "b"})
    assert refused.value.code == "OIDC_ID_TOKEN_INVALID"
    assert merged_claims({"sub": "a"}, None) == {"sub": "a"}


def test_a_missing_or_odd_authentication_time_is_refused():
    c = claims()
    del c["auth_time"], c["iat"]
    with pytest.raises(SignInRefused):
        professional_of(c, STRONG)
    with pytest.raises(SignInRefused):
        professional_of(claims(auth_time=True), STRONG)
