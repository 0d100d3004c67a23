"""Patient identification (step 1), as pure rules: the search mask at the gateway, the HP's identity
rules at consent, routing, country A's answers on the demo data, the audit trail, the API view."""

from __future__ import annotations

import pytest

from passerelle import PROJECT_ROOT
from passerelle.countries import CountryRegistry
from passerelle.processor import Incoming
from passerelle.topics import Topics
from services.audit.handlers import audit_record
from services.gateway.identifications.rules import given, identification_view, mask_problems
from tests.identification_flow import identification_flow

COUNTRIES = CountryRegistry.load(PROJECT_ROOT / "data" / "countries.yaml")
OUTCOME = "fr.passerelle.identification.PatientIdentificationOutcome"


def outcome_of(tmp_path, country, fields, **hp) -> dict:
    emits = identification_flow(tmp_path, country, fields, **hp)
    assert emits[-1].event_type == OUTCOME and emits[-1].topic == Topics("p").identification_outcomes
    return emits[-1].record


def test_a_unique_identifier_matches_and_names_the_patient_id_to_use(tmp_path):
    outcome = outcome_of(tmp_path, "PT", {"patient_id": "193857264"})
    assert outcome["status"] == "MATCHED" and outcome["error"] is None and outcome["fields"] == []
    assert outcome["mapped_patient"] == {"country": "PT", "patient_id": "193857264"}


def test_an_identifier_two_patients_share_answers_several_then_the_birth_date_tells_them_apart(tmp_path):
    several = outcome_of(tmp_path, "PT", {"patient_id": "402113658"})
    assert several["status"] == "SEVERAL" and several["error"]["code"] == "SEVERAL_PATIENTS_FOUND"
    assert several["fields"] == ["birth_date"] and several["mapped_patient"] is None
    assert "Plusieurs patients" in several["error"]["message"]
    parent = outcome_of(tmp_path, "PT", {"patient_id": "402113658", "birth_date": "1979-05-21"})
    child = outcome_of(tmp_path, "PT", {"patient_id": "402113658", "birth_date": "2019-11-03"})
    assert parent["mapped_patient"]["patient_id"] == "402113658"
    assert child["mapped_patient"]["patient_id"] == "402113666"  # her own record, not the shared number


def test_greece_wants_the_birth_date_before_it_answers_whether_or_not_the_identifier_exists(tmp_path):
    known = outcome_of(tmp_path, "GR", {"patient_id": "23044903575"})
    unknown = outcome_of(tmp_path, "GR", {"patient_id": "99999999999"})
    for outcome in (known, unknown):  # the same answer: nothing learnt about who exists
        assert outcome["status"] == "MORE_DETAILS_NEEDED" and outcome["fields"] == ["birth_date"]
        assert outcome["error"]["code"] == "MORE_DEMOGRAPHICS_NEEDED"
    assert outcome_of(tmp_path, "GR", {"patient_id": "23044903575", "birth_date": "1949-04-23"})["status"] == "MATCHED"
    wrong = outcome_of(tmp_path, "GR", {"patient_id": "23044903575", "birth_date": "1950-01-01"})
    assert wrong["status"] == "NOT_FOUND" and wrong["error"]["code"] == "PATIENT_NOT_FOUND"


@pytest.mark.parametrize("country, status, code", [
    ("PT", "NOT_FOUND", "PATIENT_NOT_FOUND"),      # no such patient
    ("IT", "FAILED", "COUNTRY_UNREACHABLE"),        # country A's NCP unavailable
    ("DE", "FAILED", "SERVICE_NOT_AVAILABLE_FOR_COUNTRY"),  # known, connected for nothing
    ("ZZ", "FAILED", "COUNTRY_UNKNOWN"),
])
def test_not_found_and_failures_end_with_a_stable_code(tmp_path, country, status, code):
    outcome = outcome_of(tmp_path, country, {"patient_id": "000000000"})
    assert (outcome["status"], outcome["error"]["code"]) == (status, code)


@pytest.mark.parametrize("hp, code", [
    ({"rpps": "10002000056"}, "PROFESSION_ACTIVITY_EXCLUDED"),  # occupational physician
    ({"profession": "99"}, "PROFESSION_NOT_ELIGIBLE"),
    ({"auth_method": "PASSWORD"}, "STRONG_AUTHENTICATION_REQUIRED"),
])
def test_the_hps_identity_rules_deny_before_country_a_is_asked(tmp_path, hp, code):
    emits = identification_flow(tmp_path, "PT", {"patient_id": "193857264"}, **hp)
    assert len(emits) == 2  # requested, then denied by consent: nothing routed
    assert emits[-1].record["status"] == "DENIED" and emits[-1].record["error"]["code"] == code


def test_every_step_is_audited_with_the_patient_as_matched(tmp_path):
    emits = identification_flow(tmp_path, "PT", {"patient_id": "402113658", "birth_date": "2019-11-03"})
    records = [audit_record(Incoming(e.topic, e.event_type, e.record)) for e in emits]
    assert [r["action"] for r in records] == ["IDENTIFICATION_REQUESTED", "IDENTIFICATION_AUTHORISED",
                                              "IDENTIFICATION_QUERY_ROUTED", "IDENTIFICATION_OUTCOME"]
    assert all(r["outcome"] == "SUCCESS" and r["hp"]["rpps"] == "10001234565" for r in records)
    assert records[0]["patient"] == {"country": "PT", "patient_id": "402113658"}  # as entered
    assert records[-1]["mapped_patient"] == {"country": "PT", "patient_id": "402113666"}  # as country A matched
    assert not any(r["patient_access"] for r in records)  # no health data disclosed by identifying
    several = identification_flow(tmp_path, "PT", {"patient_id": "402113658"})[-1]
    record = audit_record(Incoming(several.topic, several.event_type, several.record))
    assert (record["outcome"], record["reason_code"]) == ("FAILURE", "SEVERAL_PATIENTS_FOUND")
    denied = identification_flow(tmp_path, "PT", {"patient_id": "193857264"}, profession="99")[-1]
    assert audit_record(Incoming(denied.topic, denied.event_type, denied.record))["outcome"] == "DENIED"


def test_the_search_mask_names_each_missing_malformed_or_unknown_field_never_its_value():
    pt = COUNTRIES.get("PT")
    assert mask_problems({"patient_id": "193857264"}, pt) == []
    assert mask_problems({"patient_id": "193857264", "birth_date": "1956-11-17"}, pt) == []
    assert mask_problems({"birth_date": "17/11/1956", "shoe_size": "42"}, pt) == [
        ("IDENTIFICATION_FIELD_UNKNOWN", "shoe_size"), ("IDENTIFICATION_FIELD_MISSING", "patient_id"),
        ("IDENTIFICATION_FIELD_INVALID", "birth_date")]
    assert mask_problems({"patient_id": "12AB"}, pt) == [("IDENTIFICATION_FIELD_INVALID", "patient_id")]
    assert mask_problems({"anything": "x"}, COUNTRIES.get("ZZ")) == []  # unknown country: the router refuses it
    assert given({"patient_id": " 193857264 ", "birth_date": "  "}) == {"patient_id": "193857264"}


def test_the_api_view_labels_the_fields_to_add_in_french_and_gives_the_patient_only_when_matched(tmp_path):
    several = outcome_of(tmp_path, "PT", {"patient_id": "402113658"})
    view = identification_view("id-1", several, COUNTRIES.get("PT"))
    assert view["status"] == "several" and view["patient"] is None
    assert view["fields"] == [{"key": "birth_date", "label": "Data de nascimento (date de naissance)"}]
    matched = identification_view("id-2", outcome_of(tmp_path, "PT", {"patient_id": "193857264"}), COUNTRIES.get("PT"))
    assert matched["status"] == "matched" and matched["patient"] == {"country": "PT", "patient_id": "193857264"}
    assert identification_view("id-3", None, None)["status"] == "pending"
