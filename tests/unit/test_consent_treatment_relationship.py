"""Country A (the foreign NCP simulator) checks the treatment-relationship confirmation before
anything else: the query's professional and patient must be the ones confirmed, within 2 hours."""

from __future__ import annotations

import time

import pytest

from passerelle.processor import Incoming
from passerelle.settings import TokenSettings
from passerelle.tokens import ConfirmationVerifier, confirm_treatment_relationship
from passerelle.topics import Topics
from services.foreign_ncp.directory import load_directory
from services.foreign_ncp.handlers import answer_patient_summary_query

from tests.conftest import FIXTURES

SETTINGS = TokenSettings()
HP = {"rpps": "10001234565", "profession": "10", "organisation": "750000001", "auth_method": "CPS",
      "assertion_issued_at": 0}


def query(patient_id: str, confirmation: str | None, rpps: str = HP["rpps"]) -> dict:
    from passerelle.envelope import new_envelope
    return {"envelope": new_envelope("router"), "hp": {**HP, "rpps": rpps}, "purpose": "TREATMENT",
            "patient": {"country": "PT", "patient_id": patient_id}, "target_language": "fr-FR",
            "treatment_relationship": confirmation}


@pytest.fixture
def ask(tmp_path):
    directory, verifier = load_directory(FIXTURES / "ncp"), ConfirmationVerifier(SETTINGS, tmp_path)

    def answer(q: dict, now: int | None = None) -> dict:
        [retrieved] = answer_patient_summary_query(Incoming("t", "fr.passerelle.ncp.PatientSummaryQuery", q),
                                                   Topics("p"), directory, verifier, now)
        return retrieved.record
    return answer


def confirm(tmp_path, patient_id: str, issued: int | None = None) -> str:
    return confirm_treatment_relationship(tmp_path, SETTINGS, HP, {"country": "PT", "patient_id": patient_id},
                                          "TREATMENT", "req", issued)


def test_the_confirmed_patient_gets_their_document(tmp_path, ask):
    answer = ask(query("PT-TEST-1", confirm(tmp_path, "PT-TEST-1")))
    assert answer["error"] is None and answer["document"]["format"] == "CDA"


@pytest.mark.parametrize("make_query, code", [
    (lambda c: query("PT-NO-CONSENT", c), "TREATMENT_RELATIONSHIP_INVALID"),  # confirmation for another patient
    (lambda c: query("PT-TEST-1", c, rpps="10009999995"), "TREATMENT_RELATIONSHIP_INVALID"),  # another professional
    (lambda c: query("PT-TEST-1", None), "TREATMENT_RELATIONSHIP_INVALID"),  # none
    (lambda c: query("PT-TEST-1", c[:-4] + "AAAA"), "TREATMENT_RELATIONSHIP_INVALID"),  # forged signature
])
def test_country_a_refuses_a_confirmation_that_is_not_for_this_query(tmp_path, ask, make_query, code):
    answer = ask(make_query(confirm(tmp_path, "PT-TEST-1")))
    assert answer["error"]["code"] == code and answer["document"] is None


def test_a_confirmation_replayed_after_two_hours_is_refused(tmp_path, ask):
    issued = int(time.time())
    confirmation = confirm(tmp_path, "PT-TEST-1", issued)
    assert ask(query("PT-TEST-1", confirmation), issued + 7000)["error"] is None
    late = ask(query("PT-TEST-1", confirmation), issued + 7200 + SETTINGS.leeway_seconds)
    assert late["error"]["code"] == "TREATMENT_RELATIONSHIP_EXPIRED" and late["document"] is None


def test_with_a_valid_confirmation_country_a_may_still_refuse_for_want_of_consent(tmp_path, ask):
    answer = ask(query("PT-NO-CONSENT", confirm(tmp_path, "PT-NO-CONSENT")))
    assert answer["error"]["code"] == "NO_CONSENT" and "4701" in answer["error"]["message"]
