"""The patient's identity pivot (FranceConnect's claims) matched to exactly one DMP patient."""

from __future__ import annotations

import pytest

from passerelle.settings import Settings
from passerelle.dmp import load_dmp
from services.gateway.patient.signin import PatientRefused, matching_patient, pivot_traits

DMP = load_dmp(Settings().dmp_data)
CAMILLE = {"family_name": "Durand", "given_name": "Camille Marie", "birthdate": "1986-03-14", "gender": "female",
           "birthplace": "75056"}


def test_the_pivot_matches_the_patient_whatever_the_case_and_accents():
    assert matching_patient(DMP, pivot_traits({**CAMILLE, "family_name": "DURAND", "given_name": "camille marie"})) \
        == "286037505604238"


@pytest.mark.parametrize("change", [{"birthdate": "1986-03-15"}, {"gender": "male"}, {"birthplace": "75101"},
                                    {"given_name": "Camille"}, {"given_name": "Camille Marie Louise"},
                                    {"family_name": "Dupont"}])
def test_any_trait_that_differs_matches_no_one(change):
    with pytest.raises(PatientRefused) as refused:
        matching_patient(DMP, pivot_traits({**CAMILLE, **change}))
    assert refused.value.code == "PATIENT_NOT_FOUND" and refused.value.status == 403


@pytest.mark.parametrize("missing", ["family_name", "given_name", "birthdate", "gender", "birthplace"])
def test_an_incomplete_pivot_is_refused(missing):
    with pytest.raises(PatientRefused) as refused:
        pivot_traits({k: v for k, v in CAMILLE.items() if k != missing})
    assert refused.value.code == "PATIENT_IDENTITY_INCOMPLETE"
