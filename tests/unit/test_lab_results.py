"""Structured laboratory results in French (services/translation/lab.py): units, ranges,
interpretation flags, and what is shown as sent and flagged rather than dropped."""

from __future__ import annotations

import json

import pytest

from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.lab import NotALabReport, read_lab_report, ucum_in_french, ucum_valid

LOINC = "http://loinc.org"
V3 = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def obs(ident, code, display, **fields):
    return {"resourceType": "Observation", "id": ident, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]}, **fields}


def flag(code, display):
    return [{"coding": [{"system": V3, "code": code, "display": display}]}]


BUNDLE = {"resourceType": "Bundle", "type": "document", "entry": [{"resource": r} for r in [
    {"resourceType": "DiagnosticReport", "id": "r", "status": "final", "issued": "2026-03-02T10:00:00+01:00",
     "code": {"coding": [{"system": LOINC, "code": "11502-2", "display": "Laboratory report"}]},
     "performer": [{"reference": "Organization/lab"}], "specimen": [{"reference": "Specimen/s"}],
     "result": [{"reference": "Observation/hb"}, {"reference": "Observation/k"}]},
    {"resourceType": "Organization", "id": "lab", "name": "Laboratório Central"},
    {"resourceType": "Specimen", "id": "s", "type": {"coding": [{"system": "http://snomed.info/sct", "code": "119297000",
                                                                 "display": "Blood specimen"}]}},
    obs("hb", "718-7", "Hemoglobin", specimen={"reference": "Specimen/s"},
        valueQuantity={"value": 9.1, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
        referenceRange=[{"low": {"value": 12, "unit": "g/dL"}, "high": {"value": 16, "unit": "g/dL"}}],
        interpretation=flag("L", "Low")),
    obs("k", "99999-9", "Potassium (local code)",
        valueQuantity={"value": 6.9, "unit": "millimoles per litre", "system": "http://unitsofmeasure.org",
                       "code": "millimoles per litre"}, interpretation=flag("HH", "Critical high")),
    obs("stray", "2345-7", "Glucose", valueRange={"low": {"value": 1}, "high": {"value": 2}}),
    obs("panel", "24331-1", "Lipid panel", hasMember=[{"reference": "Observation/hb"}]),
]]}


@pytest.fixture(scope="module")
def report():
    return read_lab_report(json.dumps(BUNDLE).encode(), Catalogue.load(PROJECT_ROOT / "data" / "catalogue"))[0]


def test_the_report_names_its_laboratory_specimen_and_every_result_in_order(report):
    assert report["laboratory"] == "Laboratório Central" and report["issued"] == "2026-03-02T10:00:00+01:00"
    assert [r["id"] for r in report["results"]] == ["hb", "k", "stray", "panel"]  # the report's, then the others
    assert report["specimens"][0]["type"]["original"] == "Blood specimen"


def test_a_known_test_gets_its_french_label_its_unit_range_and_a_low_flag(report):
    hb = report["results"][0]
    assert hb["test"]["french"] == "Hémoglobine [Masse/Volume] Sang" and hb["test"]["original"] == "Hemoglobin"
    assert hb["value"]["value"] == 9.1 and hb["value"]["unit"]["ucum"] and hb["value"]["unit"]["display"] == "g/dl"
    assert hb["value"]["unit"]["original"] == "g/dL" and hb["value"]["unit"]["label"] == "CURATED_LABEL"
    assert hb["reference_ranges"][0]["low"]["value"] == 12 and hb["severity"] == "low"
    assert hb["severity_french"] == "bas" and hb["flags"] == []
    assert hb["specimen"]["id"] == "s"


def test_an_unknown_code_a_unit_that_is_not_ucum_and_no_range_are_shown_as_sent_and_flagged(report):
    k = report["results"][1]
    assert k["test"] == {**k["test"], "code": "99999-9", "french": None, "display": "Potassium (local code)",
                         "translated": False}
    assert k["value"]["unit"] == {"code": "millimoles per litre", "original": "millimoles per litre",
                                  "display": "millimoles per litre", "ucum": False, "label": None}
    assert set(k["flags"]) == {"UNIT_NOT_UCUM", "CODE_NOT_TRANSLATED", "NO_REFERENCE_RANGE"}
    assert k["severity"] == "critical" and k["severity_french"] == "critique"


def test_a_value_of_a_kind_not_modelled_is_kept_as_sent_and_a_panel_lists_its_members(report):
    stray, panel = report["results"][2:]
    assert stray["value"]["kind"] == "as_sent" and '"low"' in stray["value"]["text"] and "VALUE_AS_SENT" in stray["flags"]
    assert panel["value"] is None and panel["members"] == ["hb"] and "NO_VALUE" not in panel["flags"]


@pytest.mark.parametrize("code, french", [("10*9/L", "10⁹/l"), ("[IU]/L", "UI/l"), ("umol/L", "µmol/l"),
                                          ("mmol/L", "mmol/l"), ("mm[Hg]", "mmHg"), ("mL/min/{1.73_m2}", "ml/min/1,73 m²"),
                                          ("mg/dL", "mg/dl"), ("U/L", "U/l"), ("{ratio}", "sans unité")])
def test_ucum_units_are_written_the_french_way(code, french):
    assert ucum_valid(code) and ucum_in_french(code) == french


@pytest.mark.parametrize("code, french", [("10*3/L", "10³/l"), ("umol/mL", "µmol/ml"), ("kg/L", "kg/l"),
                                          ("mg/(24.h)", "mg/(24·h)"), ("nmol/L/{1.73_m2}", "nmol/l/(1.73 m2)")])
def test_units_outside_the_curated_table_are_written_by_rule_and_flagged_derived(code, french):
    from services.translation.lab import quantity
    from services.translation.ucum_fr import UCUM_FRENCH
    assert code not in UCUM_FRENCH and ucum_valid(code) and ucum_in_french(code) == french
    assert quantity({"value": 1, "system": "http://unitsofmeasure.org", "code": code})["unit"]["label"] == "DERIVED_LABEL"


def test_every_curated_unit_is_valid_ucum():
    from services.translation.ucum_fr import UCUM_FRENCH
    assert [code for code in UCUM_FRENCH if not ucum_valid(code)] == []


def test_a_document_that_is_no_lab_report_is_refused():
    with pytest.raises(NotALabReport):
        read_lab_report(b'{"resourceType": "Patient"}', Catalogue.load(PROJECT_ROOT / "data" / "catalogue"))
