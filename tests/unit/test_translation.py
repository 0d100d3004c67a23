"""Translation: French next to every coded element, originals kept, untranslated elements flagged."""

from __future__ import annotations

import json

import pytest
from lxml import etree

from passerelle.documents import unpack
from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.cda import translate_cda
from services.translation.fhir import TRANSLATION_EXT, translate_fhir
from services.translation.handlers import translate_document

from tests.conftest import FIXTURES

CDA = (FIXTURES / "ncp/PT/PT-TEST-1/ps.xml").read_bytes()
IPS = next((PROJECT_ROOT / "data/ncp/NL").glob("*/ps.json")).read_bytes()
NS = {"hl7": "urn:hl7-org:v3"}


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(FIXTURES / "catalogue")


@pytest.fixture(scope="module")
def shipped():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def test_cda_sections_get_french_titles_and_keep_the_original(catalogue):
    model, _ = translate_cda(CDA, catalogue)
    allergies, medication, problems = model["sections"]
    assert model["source_language"] == "pt-PT"
    assert (allergies["title"], allergies["original_title"], allergies["title_translated"]) == (
        "Allergies et réactions indésirables", "Alergias", True)
    assert problems["title"] == "Problemas" and not problems["title_translated"]
    assert allergies["original_narrative"] == "Alergia ao látex Urticária"


def test_cda_entries_are_translated_or_flagged(catalogue):
    model, _ = translate_cda(CDA, catalogue)
    allergies, medication, problems = model["sections"]
    latex, urticaria = allergies["entries"]
    assert (latex["display"], latex["original"], latex["translated"]) == ("Allergie au latex", "Alergia ao látex", True)
    assert (urticaria["display"], urticaria["original"], urticaria["flag"]) == ("Urticaria", "Urticária", "UNKNOWN_CODE")
    national = next(e for e in medication["entries"] if e["code"]["system"] == "2.16.620.1.101.10.4.1")
    assert national["flag"] == "UNKNOWN_CODE_SYSTEM" and national["original"] == "Levotiroxina 100 microgramas, comprimido"
    [unknown] = problems["entries"]
    assert unknown["flag"] == "NULL_FLAVOR" and unknown["display"] == "Inconnu"


def test_the_translated_cda_carries_a_french_translation_next_to_the_original_code(catalogue):
    _, document = translate_cda(CDA, catalogue)
    root = etree.fromstring(document)
    [value] = root.xpath("//hl7:value[@code='300916003']", namespaces=NS)
    [translation] = value.xpath("hl7:translation", namespaces=NS)
    assert translation.get("displayName") == "Allergie au latex" and translation.get("code") == "300916003"
    assert value.get("displayName") == "Latex allergy"  # the pivot label is untouched
    assert root.xpath("//hl7:value[@code='126485001']/hl7:translation", namespaces=NS) == []
    assert etree.tostring(etree.fromstring(CDA)).count(b"<") < etree.tostring(root).count(b"<")


def test_fhir_ips_codings_get_the_fhir_translation_extension(shipped):
    model, document = translate_fhir(IPS, shipped)
    assert model["sections"] and all(s["code"] for s in model["sections"])
    translated = [e for s in model["sections"] for e in s["entries"] if e["translated"]]
    assert translated, "the shipped catalogue translates some of the IPS example's codes"
    bundle = json.loads(document)
    extensions = [ext for entry in bundle["entry"] for ext in json.dumps(entry).split(TRANSLATION_EXT)[1:]]
    assert extensions
    assert json.loads(IPS)["resourceType"] == bundle["resourceType"] == "Bundle"


@pytest.mark.parametrize("fmt, content", [
    ("CDA", b"<ClinicalDocument><unclosed>"),
    ("CDA", b"\xff\xfe not xml"),
    ("FHIR", b"{not json"),
    ("FHIR", b'{"resourceType": "Patient"}'),
])
def test_a_document_that_cannot_be_translated_is_delivered_as_sent_with_an_error(catalogue, fmt, content):
    summary, err = translate_document({"format": fmt, "language": "pt-PT", "content": content}, catalogue)
    assert err["code"] == "TRANSLATION_FAILED" and not summary["translated"]
    assert unpack(summary["document_encoding"], summary["document"]) == content and summary["sections"] == []
