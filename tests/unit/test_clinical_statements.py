"""A summary a clinician can read (issue 17, item 8): one row per clinical statement, CDA in both
medication namespaces and FHIR IPS, on the project's demo documents and real corpus documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from passerelle import PROJECT_ROOT
from services.gateway.summaries.rules import status_view
from services.gateway.summaries.models import RequestStatus
from services.translation.catalogue import Catalogue
from services.translation.cda import translate_cda
from services.translation.fhir import translate_fhir
from services.translation.handlers import translate_document
from services.translation.statements import french_date, text_value

from tests.conftest import FIXTURES

FULL_PS = PROJECT_ROOT / "data/ncp/PT/284716395/ps.xml"  # pharm namespace, every section
CORPUS = FIXTURES / "corpus"
EPSOS_PS = CORPUS / "cda-ps/Sundhedsdatastyrelsen__ehdsi__PT_CDA_W3_898765392_HipReplacement.xml"
PHARM_PS = CORPUS / "cda-ps/gematik__NCPeH-Simulation-API__Patient_Summary_CDA3.xml"
IPS = CORPUS / "fhir-ips/HL7__fhir-omop-ig__Bundle-bundle-ips-all-sections.json"
IPS_MEDICATION = CORPUS / "fhir-ips/hl7-eu__gravitate-health-ips__Bundle-gravitate-Alicia.json"


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def rows(model: dict, section_code: str) -> list[dict]:
    return next(s for s in model["sections"] if s["code"] == section_code)["statements"]


def shown(statement: dict) -> dict[str, list[str]]:
    return {f["name"]: [v["display"] for v in f["values"]] for f in statement["fields"]}


def test_an_allergy_is_one_row_and_its_concern_act_is_no_finding(catalogue):
    model, _ = translate_cda(FULL_PS.read_bytes(), catalogue)
    allergies = rows(model, "48765-2")
    assert [r["kind"] for r in allergies] == ["ALLERGY", "ALLERGY"]
    assert shown(allergies[0]) == {
        "agent": ["amoxicilline"], "category": ["Propension à une réaction indésirable"], "reaction": ["Urticaire"],
        "severity": ["Modéré"], "criticality": ["Risque élevé"], "status": ["Active"], "onset": ["15/03/2004"]}
    values = [v for r in allergies for f in r["fields"] for v in f["values"]]
    assert not any(v["code"] and v["code"]["code"] == "CONC" for v in values)
    onset = allergies[0]["fields"][-1]["values"][0]
    assert (onset["original"], onset["code"], onset["row"]) == ("20040315", None, 0)
    # the flat list still holds every coded element, the concern act's code among them
    assert any(e["code"]["code"] == "CONC" for e in next(s for s in model["sections"] if s["code"] == "48765-2")["entries"])


def test_a_medication_is_one_row_with_substance_strength_form_route_dosage_period_and_status(catalogue):
    model, _ = translate_cda(FULL_PS.read_bytes(), catalogue)
    medications = rows(model, "10160-0")
    assert [r["kind"] for r in medications] == ["MEDICATION"] * 3
    folic = shown(medications[2])
    assert folic["substance"] == ["acide folique 5 mg"] and folic["form"] == ["Comprimé"]
    assert folic["route"] == ["Voie orale"] and folic["status"] == ["Actif"]
    assert folic["dosage"][0].startswith("1 comprimé") and "voie orale" in folic["dosage"][0]
    assert folic["period"] == ["du 10/04/2025 au 20/01/2026"]
    national = medications[0]["fields"][0]["values"][0]  # a national product code: shown as sent, flagged
    assert (national["display"], national["flag"], national["translated"]) == (
        "Tirox 75 µg comprimidos", "UNKNOWN_CODE_SYSTEM", False)


def test_problems_vaccinations_procedures_and_devices_are_rows(catalogue):
    model, _ = translate_cda(FULL_PS.read_bytes(), catalogue)
    assert shown(rows(model, "11450-4")[0]) == {"condition": ["Asthme à prédominance allergique"],
                                                "onset": ["10/05/2002"], "status": ["Actif"]}
    vaccine = shown(rows(model, "11369-6")[2])
    assert vaccine["date"] == ["10/07/2021"] and vaccine["dose_number"] == ["2"] and "Comirnaty" in vaccine["vaccine"]
    assert shown(rows(model, "47519-4")[0])["procedure"] == ["Appendicectomie par cœlioscopie"]
    assert shown(rows(model, "46264-8")[0]) == {"device": ["Implant dentaire endo-osseux"], "date": ["05/11/2019"]}
    vitals = shown(rows(model, "8716-3")[0])["value"]
    assert any(v.endswith(": 118 mm[Hg]") for v in vitals)  # each component named, not a bare number


def test_an_epsos_era_summary_reads_into_rows(catalogue):
    model, _ = translate_cda(EPSOS_PS.read_bytes(), catalogue)
    medications = rows(model, "10160-0")
    assert len(medications) == 4 and all(r["kind"] == "MEDICATION" for r in medications)
    ramipril = shown(medications[1])
    assert ramipril["substance"] == ["ramipril 10 mg"]
    assert "non traduite" in ramipril["dosage"][0] and "8 em 8 horas" in ramipril["dosage"][0]  # free text as written
    allergies = rows(model, "48765-2")
    assert len(allergies) == 3 and all("agent" in shown(r) and "reaction" in shown(r) for r in allergies)
    assert all(len(rows(model, code)) > 0 for code in ("11369-6", "11450-4", "47519-4", "46264-8"))


def test_a_pharm_namespace_summary_reads_into_rows(catalogue):
    model, _ = translate_cda(PHARM_PS.read_bytes(), catalogue)
    medications = rows(model, "10160-0")
    assert len(medications) == 2 and all(shown(r)["form"] and shown(r)["product"] for r in medications)
    allergies = rows(model, "48765-2")
    assert len(allergies) == 4 and all(shown(r)["agent"] and shown(r)["severity"] for r in allergies)


def test_fhir_ips_resources_are_rows(catalogue):
    model, _ = translate_fhir(IPS.read_bytes(), catalogue)
    kinds = {s["code"]: {r["kind"] for r in s["statements"]} for s in model["sections"]}
    assert kinds["48765-2"] == {"ALLERGY"} and kinds["10160-0"] == {"MEDICATION"} and kinds["11450-4"] == {"PROBLEM"}
    assert kinds["11369-6"] == {"VACCINATION"} and kinds["47519-4"] == {"PROCEDURE"}
    vaccine = shown(rows(model, "11369-6")[0])
    assert vaccine["date"] == ["10/04/2024"] and vaccine["dose_number"] == ["1"]
    pressure = next(r for r in rows(model, "8716-3") if "Pression artérielle" in shown(r)["code"])
    assert any("systolique : 140 mmHg" in v for v in shown(pressure)["value"])
    model, _ = translate_fhir(IPS_MEDICATION.read_bytes(), catalogue)
    first = shown(rows(model, "10160-0")[0])
    assert [s.split(" ")[0] for s in first["substance"]] == ["bictegravir", "emtricitabine", "tenofovir"]
    assert first["substance"][0].startswith("bictegravir 30 mg") and first["route"] == ["Voie orale"]


def test_a_statement_of_unknown_shape_is_flagged_and_the_document_still_delivered(catalogue):
    root = etree.fromstring(FULL_PS.read_bytes())
    entry = root.xpath("//hl7:section[hl7:code/@code='11450-4']/hl7:entry", namespaces={"hl7": "urn:hl7-org:v3"})[0]
    for child in list(entry):
        entry.remove(child)
    etree.SubElement(entry, "{urn:hl7-org:v3}regionOfInterest")
    content = etree.tostring(root)
    summary, err = translate_document({"format": "CDA", "language": "pt-PT", "content": content}, catalogue)
    assert err is None and summary["translated"] and len(summary["sections"]) == 13
    problems = next(s for s in summary["sections"] if s["code"] == "11450-4")
    assert problems["statements"][0]["kind"] == "UNRECOGNISED"
    assert problems["statements"][0]["flags"] == ["UNRECOGNISED_STATEMENT"]
    assert shown(problems["statements"][0]) == {"category": ["regionOfInterest"]}
    assert "UNRECOGNISED_STATEMENTS" in problems["flags"] and len(problems["statements"]) == 3


def test_the_api_returns_the_rows(catalogue):
    summary, _ = translate_document({"format": "CDA", "language": "pt-PT", "content": FULL_PS.read_bytes()}, catalogue)
    outcome = {"status": "COMPLETED", "error": None, "summary": summary}
    answer = RequestStatus.model_validate(status_view("r", outcome)).model_dump()
    allergies = next(s for s in answer["summary"]["sections"] if s["code"] == "48765-2")["statements"]
    assert allergies[0]["fields"][0] == {"name": "agent", "label": "Agent", "values": [
        {**allergies[0]["fields"][0]["values"][0], "display": "amoxicilline", "original": "Amoxicilina"}]}
    json.dumps(answer)


@pytest.mark.parametrize("sent, shown", [("20210312", "12/03/2021"), ("20210312083000+0100", "12/03/2021"),
                                         ("2021-03-12T08:30:00Z", "12/03/2021"), ("2015-03", "03/2015"),
                                         ("2018", "2018"), ("201803", "03/2018"), ("2021ab12", "2021")])
def test_dates_are_written_the_french_way_and_kept_as_sent(sent, shown):
    assert french_date(sent) == {**text_value(shown, sent), "row": 0}


@given(st.text(max_size=30))
def test_any_date_text_is_shown_never_raises(sent):
    value = french_date(sent)
    assert value is None if not sent else value["original"] == sent and value["display"]
