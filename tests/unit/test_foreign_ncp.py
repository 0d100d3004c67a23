"""The foreign NCP simulator answers from its data directory as country A would."""

from __future__ import annotations

import json

import pytest

from passerelle import PROJECT_ROOT
from services.foreign_ncp.directory import load_directory
from services.foreign_ncp.handlers import answer

from tests.conftest import FIXTURES


def query(country, patient_id):
    return {"patient": {"country": country, "patient_id": patient_id}}


@pytest.fixture(scope="module")
def fixtures():
    return load_directory(FIXTURES / "ncp")


def test_a_known_patient_gets_its_document_as_stored(fixtures):
    err, document = answer(query("PT", "PT-TEST-1"), fixtures)
    assert err is None and document["format"] == "CDA" and document["language"] == "pt-PT"
    assert document["content"] == (FIXTURES / "ncp/PT/PT-TEST-1/ps.xml").read_bytes()


@pytest.mark.parametrize("country, patient, code", [
    ("PT", "NOBODY", "PATIENT_NOT_FOUND"), ("PT", "../PT-TEST-1", "PATIENT_NOT_FOUND"),
    ("IT", "X", "COUNTRY_UNREACHABLE"), ("FR", "X", "COUNTRY_UNREACHABLE"), ("PT", "PT-NO-CONSENT", "NO_CONSENT"),
])
def test_errors_country_a_would_send(fixtures, country, patient, code):
    err, document = answer(query(country, patient), fixtures)
    assert err["code"] == code and document is None


def test_identifiers_come_from_patient_json_or_else_from_the_document_header(tmp_path):
    cda = (FIXTURES / "ncp/PT/PT-TEST-1/ps.xml").read_bytes()
    (tmp_path / "PT" / "folder-a").mkdir(parents=True)
    (tmp_path / "PT" / "folder-a" / "ps.xml").write_bytes(cda)  # header says PT-TEST-1
    (tmp_path / "PT" / "folder-b").mkdir()
    (tmp_path / "PT" / "folder-b" / "ps.xml").write_bytes(cda)
    (tmp_path / "PT" / "folder-b" / "patient.json").write_text(json.dumps({"identifiers": [{"value": "ALIAS-9"}]}))
    directory = load_directory(tmp_path)
    assert directory["PT"].patients["PT-TEST-1"].path.name == "folder-a"
    assert directory["PT"].patients["ALIAS-9"].path.name == "folder-b"


def test_the_shipped_demo_directory_serves_several_countries_and_both_formats():
    demo = load_directory(PROJECT_ROOT / "data" / "ncp")
    assert {"PT", "FI", "GR", "NL", "IT"} <= set(demo)
    formats = {answer(query(c, pid), demo)[1]["format"] for c in ("PT", "FI", "GR", "NL")
               for pid in list(demo[c].patients)[:1]}
    assert formats == {"CDA", "FHIR"}
    assert not demo["IT"].available
