"""Real document shapes: every PS section, ePrescription / eDispensation, IPS Bundles of three countries,
and imperfect documents (missing codes and titles, empty sections, null flavours, embedded PDF)."""

from __future__ import annotations

import base64
import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from lxml import etree

from passerelle.documents import unpack
from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.cda import translate_cda
from services.translation.fhir import TRANSLATION_EXT, translate_fhir
from services.translation.handlers import translate_document

from tests.conftest import FIXTURES

DOCS = FIXTURES / "documents"
NS = {"hl7": "urn:hl7-org:v3", "epsos": "urn:epsos-org:ep:medication"}
FULL_PS = PROJECT_ROOT / "data/ncp/PT/284716395/ps.xml"


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def test_every_section_of_a_full_patient_summary_gets_its_french_title(catalogue):
    model, _ = translate_cda(FULL_PS.read_bytes(), catalogue)
    titles = {s["code"]: s["title"] for s in model["sections"]}
    assert titles == {
        "48765-2": "Allergies, effets indésirables, alertes", "10160-0": "Historique de la prise médicamenteuse",
        "11450-4": "Liste des problèmes actifs", "47519-4": "Antécédents chirurgicaux et actes",
        "46264-8": "Dispositifs médicaux et implants", "11369-6": "Vaccinations", "11348-0": "Antécédents médicaux",
        "29762-2": "Mode de vie (habitus)", "10162-6": "Historique des grossesses", "8716-3": "Signes vitaux",
        "30954-2": "Résultats d'examens", "42348-3": "Directives anticipées", "47420-5": "Statut fonctionnel"}
    assert model["document_type"] == "PATIENT_SUMMARY" and model["missing_sections"] == []
    assert {s["code"] for s in model["sections"] if s["required"]} == {
        "48765-2", "10160-0", "11450-4", "47519-4", "46264-8", "11369-6", "11348-0"}
    assert model["coded_elements"] == sum(len(s["entries"]) for s in model["sections"]) > 60
    assert model["translated_elements"] >= model["coded_elements"] - 1  # only the national product code is left
    pregnancy = next(s for s in model["sections"] if s["code"] == "10162-6")
    assert any(e["display"] == "Enceinte" for e in pregnancy["entries"])


def test_the_header_gets_french_too(catalogue):
    _, document = translate_cda(FULL_PS.read_bytes(), catalogue)
    root = etree.fromstring(document)
    [gender] = root.xpath("//hl7:administrativeGenderCode/hl7:translation/@displayName", namespaces=NS)
    assert gender == "Féminin"


def test_an_eprescription_keeps_one_row_per_item_with_every_ingredient(catalogue):
    content = (DOCS / "ep-FI-multi-ingredient.xml").read_bytes()
    model, document = translate_cda(content, catalogue)
    assert (model["document_type"], model["source_language"]) == ("EPRESCRIPTION", "fi-FI")
    [prescriptions] = model["sections"]
    assert prescriptions["title"] == "Liste des prescriptions" and prescriptions["required"]
    second = [e for e in prescriptions["entries"] if e["row"] == 1]
    ingredients = [e["code"]["code"] for e in second if e["code"]["system"] == "2.16.840.1.113883.6.73"]
    assert ingredients == ["J01CA04", "J01CR02"]
    displays = {e["code"]["code"]: e["display"] for e in second}
    assert displays.items() >= {"J01CA04": "amoxicilline", "J01CR02": "amoxicilline et inhibiteur d'enzyme",
                                "N": "Aucune substitution", "10221000": "Comprimé pelliculé"}.items()
    product = next(e for e in second if e["role"] == "code" and e["flag"] == "NULL_FLAVOR")
    assert product["original"] == "Amoksisilliini + klavulaanihappo 875/125 mg" and product["explanation"]
    first = [e for e in prescriptions["entries"] if e["row"] == 0]
    vnr = next(e for e in first if e["code"]["code"] == "481726")
    assert (vnr["flag"], vnr["display"], vnr["original"]) == (
        "UNKNOWN_CODE_SYSTEM", "Levothyroxine 100 microgram tablet", "Levotyroksiini 100 mikrog tabletti")
    root = etree.fromstring(document)
    # an epsos: element gets its translation in its own namespace, as eHDSI documents do
    [form] = root.xpath("//epsos:formCode[@code='10219000']/epsos:translation/@displayName", namespaces=NS)
    assert form == "Comprimé"
    assert root.xpath("//hl7:routeCode/hl7:translation/@displayName", namespaces=NS) == ["Voie orale"]


def test_an_edispensation_translates_the_substitution(catalogue):
    model, _ = translate_cda((DOCS / "ed-PT.xml").read_bytes(), catalogue)
    assert model["document_type"] == "EDISPENSATION"
    [dispensed] = model["sections"]
    by_code = {e["code"]["code"]: e for e in dispensed["entries"]}
    assert by_code["G"]["display"] == "Substitution par un générique"
    assert by_code["N02BE01"]["display"] == "paracétamol"
    assert by_code["5440985"]["original"] == "Paracetamol 500 mg comprimido (genérico)"


def test_an_imperfect_document_is_translated_partially_with_flags(catalogue):
    summary, error = translate_document(
        {"format": "CDA", "language": None, "content": (DOCS / "ps-ES-robustness.xml").read_bytes()}, catalogue)
    assert error is None and summary["translated"]
    sections = {s["code"]: s for s in summary["sections"]}
    allergies = sections["48765-2"]  # no <code>: recognised by its eHDSI template id
    assert allergies["flags"] == ["CODE_FROM_TEMPLATE"] and allergies["title"] == "Allergies, effets indésirables, alertes"
    nka = next(e for e in allergies["entries"] if e["code"]["code"] == "716186003")
    assert nka["display"] == "Aucune allergie connue" and "aucune allergie" in nka["explanation"]
    assert nka["original"] == "No se conocen alergias"
    assert sections["10160-0"]["flags"] == ["NO_TITLE"] and sections["10160-0"]["original_title"] is None
    no_system = next(e for e in sections["10160-0"]["entries"] if e["code"]["code"] == "A02BC01")
    assert no_system["flag"] == "NO_CODE_SYSTEM" and not no_system["translated"]
    problems = sections["11450-4"]  # titled "Medicación" by mistake: the code decides
    assert (problems["title"], problems["original_title"]) == ("Liste des problèmes actifs", "Medicación")
    other = next(e for e in problems["entries"] if e["flag"] == "NULL_FLAVOR")
    assert (other["display"], other["original"], other["row"]) == ("Autre", "Dolor de espalda", 1)
    assert sections["11369-6"]["flags"] == ["EMPTY"]
    assert sections["99999-9"]["flags"] == ["UNKNOWN_SECTION", "EMPTY"]
    assert sections["99999-9"]["title"] == "Otra sección" and not sections["99999-9"]["title_translated"]
    assert summary["missing_sections"] == [{"code": "47519-4", "title": "Antécédents chirurgicaux et actes"},
                                           {"code": "46264-8", "title": "Dispositifs médicaux et implants"}]
    assert summary["embedded_documents"] == [{"media_type": "application/pdf", "section_code": "11348-0", "size": 78}]
    root = etree.fromstring(unpack(summary["document_encoding"], summary["document"]))  # still a well-formed CDA with the PDF untouched
    [pdf] = root.xpath("//hl7:observationMedia/hl7:value/text()", namespaces=NS)
    assert base64.b64decode(pdf).startswith(b"%PDF-")


def test_a_level_1_document_with_only_a_pdf_is_delivered_with_its_pdf_listed(catalogue):
    pdf = base64.b64encode(b"%PDF-1.4 fixture").decode()
    content = (f'<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="60591-5" codeSystem="2.16.840.1.113883.6.1"/>'
               f'<component><nonXMLBody><text mediaType="application/pdf" representation="B64">{pdf}</text>'
               f'</nonXMLBody></component></ClinicalDocument>').encode()
    summary, error = translate_document({"format": "CDA", "language": "de-DE", "content": content}, catalogue)
    assert error is None and summary["sections"] == [] and summary["missing_sections"] == []
    assert summary["warnings"] == ["NON_XML_BODY"]
    assert summary["embedded_documents"] == [{"media_type": "application/pdf", "section_code": None, "size": 16}]


def test_xml_that_is_not_a_cda_document_is_delivered_as_sent(catalogue):
    content = b'<Bundle xmlns="http://hl7.org/fhir"><id value="x"/></Bundle>'
    summary, error = translate_document({"format": "CDA", "language": None, "content": content}, catalogue)
    assert error["code"] == "TRANSLATION_FAILED" and unpack(summary["document_encoding"], summary["document"]) == content and not summary["translated"]


@pytest.mark.parametrize("name, language, translated_display", [
    ("ips-PT.json", "pt-PT", "Hypothyroïdie, sans précision"),
    ("ips-FI.json", "fi-FI", "Aucun traitement connu"),
    ("ips-GR.json", "el-GR", "Vaccin contre la grippe"),
])
def test_ips_bundles_of_three_countries_come_out_as_valid_fhir_with_french_translations(
        catalogue, name, language, translated_display):
    content = (DOCS / name).read_bytes()
    model, document = translate_fhir(content, catalogue)
    assert model["source_language"] == language and model["document_type"] == "PATIENT_SUMMARY"
    assert model["warnings"] == [] and model["missing_sections"] == []
    entries = [e for s in model["sections"] for e in s["entries"]]
    assert translated_display in {e["display"] for e in entries}
    bundle = Bundle.model_validate_json(document)  # the output is still a valid FHIR Bundle
    composition = json.loads(document)["entry"][0]["resource"]
    titles = [_french(s["code"]["coding"][0]) for s in composition["section"]]
    assert titles == [s["title"] for s in model["sections"]]  # each title on its own section's code
    frenches = [ext for ext in _translation_extensions(json.loads(document))]
    assert len(frenches) == model["translated_elements"] + sum(s["title_translated"] for s in model["sections"])
    assert all(ext["extension"][0] == {"url": "lang", "valueCode": "fr-FR"} for ext in frenches)
    assert bundle.entry[0].resource.get_resource_type() == "Composition"


def test_an_ips_no_known_code_is_explained_and_a_missing_required_section_is_listed(catalogue):
    bundle = json.loads((DOCS / "ips-FI.json").read_text(encoding="utf-8"))
    composition = bundle["entry"][0]["resource"]
    composition["section"] = [s for s in composition["section"] if s["code"]["coding"][0]["code"] != "48765-2"]
    model, _ = translate_fhir(json.dumps(bundle).encode(), catalogue)
    assert model["missing_sections"] == [{"code": "48765-2", "title": "Allergies, effets indésirables, alertes"}]
    [nothing] = [e for s in model["sections"] for e in s["entries"] if e["code"]["code"] == "no-known-medications"]
    assert nothing["explanation"].startswith("Le pays d'origine déclare qu'aucun traitement")


def test_a_bundle_that_fails_fhir_validation_is_still_translated_with_a_warning(catalogue):
    bundle = json.loads((DOCS / "ips-PT.json").read_text(encoding="utf-8"))
    bundle["entry"][2]["resource"]["clinicalStatus"] = "not a CodeableConcept"
    bundle["timestamp"] = "yesterday"
    model, document = translate_fhir(json.dumps(bundle).encode(), catalogue)
    assert model["warnings"] == ["FHIR_INVALID"]
    assert any(e["display"] == "Hypothyroïdie, sans précision" for s in model["sections"] for e in s["entries"])
    assert json.loads(document)["timestamp"] == "yesterday"  # nothing of country A's is changed


def _french(coding: dict) -> str | None:
    for ext in coding.get("_display", {}).get("extension", []):
        if {"url": "lang", "valueCode": "fr-FR"} in ext["extension"]:
            return next(e["valueString"] for e in ext["extension"] if e["url"] == "content")
    return None


def _translation_extensions(node):
    if isinstance(node, dict):
        if node.get("url") == TRANSLATION_EXT:
            yield node
        for value in node.values():
            yield from _translation_extensions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _translation_extensions(item)


def test_statements_of_sub_sections_belong_to_their_section(catalogue):
    cda = (b'<ClinicalDocument xmlns="urn:hl7-org:v3"><code code="60591-5" codeSystem="2.16.840.1.113883.6.1"/>'
           b'<component><structuredBody><component><section><code code="30954-2" codeSystem="2.16.840.1.113883.6.1"/>'
           b'<component><section><text><td ID="r1">Hemoglobina</td></text><entry><observation>'
           b'<code code="718-7" codeSystem="2.16.840.1.113883.6.1"><originalText><reference value="#r1"/></originalText>'
           b'</code></observation></entry></section></component></section></component></structuredBody></component>'
           b'</ClinicalDocument>')
    model, _ = translate_cda(cda, catalogue)
    [results] = model["sections"]
    assert [(e["display"], e["original"]) for e in results["entries"]] == [
        ("Hémoglobine [Masse/Volume] Sang", "Hemoglobina")]
    bundle = json.loads((DOCS / "ips-GR.json").read_text(encoding="utf-8"))
    sections = bundle["entry"][0]["resource"]["section"]
    immunisations = sections.pop()
    sections[0]["section"] = [immunisations]  # nested under allergies
    model, _ = translate_fhir(json.dumps(bundle).encode(), catalogue)
    assert "Vaccin contre la grippe" in {e["display"] for e in model["sections"][0]["entries"]}


def test_the_api_answer_carries_the_whole_display_model(catalogue):
    from services.gateway.summaries.rules import status_view
    from services.gateway.summaries.models import RequestStatus

    summary, error = translate_document(
        {"format": "CDA", "language": None, "content": (DOCS / "ps-ES-robustness.xml").read_bytes()}, catalogue)
    answer = RequestStatus.model_validate(status_view("r-1", {"status": "COMPLETED", "error": error, "summary": summary}))
    body = answer.model_dump()["summary"]
    assert body["missing_sections"] == summary["missing_sections"] and body["embedded_documents"][0]["size"] == 78
    assert body["sections"][0]["flags"] == ["CODE_FROM_TEMPLATE"] and body["sections"][0]["required"]
    nka = body["sections"][0]["entries"][1]
    assert (nka["explanation"], nka["row"], nka["role"]) == (summary["sections"][0]["entries"][1]["explanation"], 0, "value")
    assert body["document"]["content"].startswith("<?xml")


def test_every_ips_section_gets_its_french_title_too(catalogue):
    codes = ["48765-2", "10160-0", "11450-4", "47519-4", "46264-8", "11348-0", "11369-6", "10162-6", "29762-2",
             "8716-3", "30954-2", "42348-3", "47420-5"]
    bundle = json.loads((DOCS / "ips-PT.json").read_text(encoding="utf-8"))
    composition = bundle["entry"][0]["resource"]
    kept = {s["code"]["coding"][0]["code"]: s for s in composition["section"]}
    composition["section"] = [kept.get(code) or {"title": f"Secção {code}", "code": {"coding": [
        {"system": "http://loinc.org", "code": code}]}, "emptyReason": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/list-empty-reason", "code": "unavailable"}]}}
        for code in codes]
    model, document = translate_fhir(json.dumps(bundle).encode(), catalogue)
    Bundle.model_validate_json(document)
    assert model["warnings"] == [] and [s["code"] for s in model["sections"]] == codes
    assert all(s["title_translated"] for s in model["sections"])
    assert [s["code"] for s in model["sections"] if "EMPTY" in s["flags"]] == codes[3:]
    [reason] = model["sections"][3]["entries"]  # the emptyReason of an empty section is explained
    assert (reason["role"], reason["display"], reason["translated"]) == ("emptyReason", "Non disponible", True)
    assert reason["explanation"].startswith("L'information n'est pas disponible")


def test_a_contained_medication_is_translated_in_its_statement_row(catalogue):
    bundle = json.loads((DOCS / "ips-GR.json").read_text(encoding="utf-8"))
    statement = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "MedicationStatement")
    medication = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Medication")
    statement["contained"] = [{**medication, "id": "med"}]
    statement["medicationReference"] = {"reference": "#med"}
    model, document = translate_fhir(json.dumps(bundle).encode(), catalogue)
    Bundle.model_validate_json(document)
    medication_section = next(s for s in model["sections"] if s["code"] == "10160-0")
    assert [e["display"] for e in medication_section["entries"]] == ["metformine", "Comprimé pelliculé"]
