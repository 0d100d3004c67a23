"""Issue 17: a code translates whichever identifier of its code system the sender used; the output
keeps that identifier; labels the project wrote or derived are flagged as such."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.cda import translate_cda
from services.translation.fhir import translate_fhir

NS = {"hl7": "urn:hl7-org:v3"}
CDA = b"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:epsos="urn:epsos-org:ep:medication">
 <code code="60591-5" codeSystem="2.16.840.1.113883.6.1"/>
 <component><structuredBody><component><section>
  <code code="10160-0" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Medication</title>
  <entry><substanceAdministration classCode="SBADM" moodCode="INT">
   <consumable><manufacturedProduct><manufacturedMaterial>
    <code code="C07AB02" codeSystem="2.16.840.1.113883.6.73" displayName="metoprolol"/>
    <epsos:formCode code="10219000" codeSystem="1.3.6.1.4.1.12559.11.10.1.3.1.44.1" displayName="Tablet"/>
   </manufacturedMaterial></manufacturedProduct></consumable>
  </substanceAdministration></entry>
  <entry><observation classCode="OBS" moodCode="EVN">
   <value code="A00" codeSystem="2.16.840.1.113883.6.3" displayName="Cholera"/>
  </observation></entry>
  <entry><observation classCode="OBS" moodCode="EVN">
   <value code="20053000" codeSystem="1.3.6.1.4.1.12559.11.10.1.3.1.42.12" displayName="Oral use"/>
  </observation></entry>
 </section></component></structuredBody></component>
</ClinicalDocument>"""


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def _by_code(model: dict) -> dict:
    return {e["code"]["code"]: e for s in model["sections"] for e in s["entries"]}


def test_cda_codes_translate_under_legacy_and_other_identifiers(shipped):
    model, document = translate_cda(CDA, shipped)
    entries = _by_code(model)
    form = entries["10219000"]  # EDQM under its epSOS-era OID
    assert form["translated"] and form["flag"] is None and form["display"] == "Comprimé"
    assert form["code"]["system"] == "1.3.6.1.4.1.12559.11.10.1.3.1.44.1"  # kept as sent
    assert entries["A00"]["translated"] and entries["A00"]["display"] == "Choléra"  # ICD-10 under HL7's OID
    assert entries["20053000"]["display"] == "Voie orale"  # an eHDSI value-set OID used as code system
    root = etree.fromstring(document)
    [translation] = root.xpath("//*[@code='10219000']/*[local-name()='translation']")
    assert translation.get("codeSystem") == "1.3.6.1.4.1.12559.11.10.1.3.1.44.1"
    assert translation.get("displayName") == "Comprimé"


def test_derived_and_curated_labels_are_flagged_in_the_output(shipped):
    model, _ = translate_cda(CDA, shipped)
    metoprolol = _by_code(model)["C07AB02"]
    assert (metoprolol["display"], metoprolol["translated"], metoprolol["flag"]) == (
        "métoprolol", True, "DERIVED_LABEL")
    bundle = {"resourceType": "Bundle", "type": "document", "entry": [
        {"fullUrl": "urn:uuid:c", "resource": {"resourceType": "Composition", "section": [
            {"title": "Results", "code": {"coding": [{"system": "http://loinc.org", "code": "30954-2"}]},
             "entry": [{"reference": "urn:uuid:o"}]}]}},
        {"fullUrl": "urn:uuid:o", "resource": {"resourceType": "Observation", "category": [{"coding": [
            {"system": "http://hl7.org/fhir/observation-category", "code": "laboratory"}]}],
            "verificationStatus": {"coding": [{"system": "http://hl7.org/fhir/allergy-verification-status",
                                               "code": "confirmed"}]}}}]}
    model, translated = translate_fhir(json.dumps(bundle).encode(), shipped)
    entries = _by_code(model)
    category = entries["laboratory"]  # older FHIR URI of observation-category, curated French
    assert (category["display"], category["flag"]) == ("Biologie", "CURATED_LABEL")
    assert category["code"]["system"] == "http://hl7.org/fhir/observation-category"
    assert entries["confirmed"]["translated"]  # STU3 URI of allergy verification status
    assert json.loads(translated)["entry"][1]["resource"]["category"][0]["coding"][0]["system"] == \
        "http://hl7.org/fhir/observation-category"
