"""Translated documents stay valid (issue 17 item 7): every CDA of the corpus and of ``data/ncp/``
that the eHDSI schemas accept before translation is accepted after it, and so is every
eDispensation Passerelle writes. ``PASSERELLE_CORPUS_DIR`` points at a fuller corpus (same layout)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from passerelle import PROJECT_ROOT
from passerelle.cda_schema import schema_errors
from passerelle.eprescription import read_eprescription
from services.prescription.edispensation import build_edispensation
from services.translation.catalogue import Catalogue
from services.translation.cda import translate_cda

from tests.conftest import FIXTURES

CORPORA = [FIXTURES / "corpus"] + ([Path(os.environ["PASSERELLE_CORPUS_DIR"])]
                                   if os.environ.get("PASSERELLE_CORPUS_DIR") else [])
CDA_FOLDERS = ("cda-ps", "cda-ep", "cda-ed")
#: Every CDA once (the vendored corpus is a subset of the full one: a document counts once)
DOCUMENTS = sorted({p.read_bytes(): p for p in sorted(
    [p for corpus in CORPORA for folder in CDA_FOLDERS for p in (corpus / folder).glob("*.xml")]
    + list((PROJECT_ROOT / "data" / "ncp").rglob("*.xml")))}.values())
PRESCRIPTIONS = [p for p in DOCUMENTS if p.parent.name in ("cda-ep", "ep")]
NS = {"hl7": "urn:hl7-org:v3", "pharm": "urn:hl7-org:pharm", "epsos": "urn:epsos-org:ep:medication"}


def _name(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else path.name


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


@pytest.mark.parametrize("path", DOCUMENTS, ids=_name)
def test_a_document_valid_before_translation_is_valid_after_it(path, catalogue):
    content = path.read_bytes()
    if schema_errors(content):
        pytest.skip("not valid as published: nothing to keep")
    _, translated = translate_cda(content, catalogue)
    assert schema_errors(translated) == []


def test_the_corpus_holds_valid_documents_of_both_medication_namespaces(catalogue):
    """The test above is not vacuous: it meets valid documents of each kind and namespace, into
    which translation writes French."""
    valid = [p for p in DOCUMENTS if not schema_errors(p.read_bytes())]
    namespaces = {ns for p in valid for ns in ("pharm", "epsos")
                  if etree.parse(str(p)).xpath(f"//{ns}:*", namespaces=NS)}
    assert namespaces == {"pharm", "epsos"}
    assert {p.parent.name for p in valid} >= {"cda-ps", "cda-ep", "cda-ed"}
    assert any(p.is_relative_to(PROJECT_ROOT / "data" / "ncp") for p in valid)
    assert all(translate_cda(p.read_bytes(), catalogue)[0]["translated_elements"] > 0
               for p in valid if "cda-" in p.parent.name and p.parent.parent == FIXTURES / "corpus")


def test_a_pharm_element_gets_an_hl7_translation(catalogue):
    path = FIXTURES / "corpus" / "cda-ps" / "gematik__NCPeH-Simulation-API__Patient_Summary_CDA3.xml"
    _, translated = translate_cda(path.read_bytes(), catalogue)
    root = etree.fromstring(translated)
    assert root.xpath("//pharm:formCode/hl7:translation/@displayName", namespaces=NS)
    assert not root.xpath("//pharm:translation", namespaces=NS)


def test_the_schema_refuses_what_it_should():
    """The validator itself can fail: a pharm translation and a stray element are errors."""
    path = FIXTURES / "corpus" / "cda-ps" / "gematik__NCPeH-Simulation-API__Patient_Summary_CDA3.xml"
    root = etree.fromstring(path.read_bytes())
    form = root.xpath("//pharm:formCode", namespaces=NS)[0]
    etree.SubElement(form, f"{{{NS['pharm']}}}translation", code="x")
    assert any("translation" in e for e in schema_errors(etree.tostring(root)))
    assert schema_errors(b"<ClinicalDocument xmlns='urn:hl7-org:v3'><oops/></ClinicalDocument>")
    assert schema_errors(b"<not-closed>")


@pytest.mark.parametrize("path", PRESCRIPTIONS, ids=_name)
@pytest.mark.parametrize("kind", ["DISPENSE", "DISCARD"])
def test_the_edispensations_passerelle_writes_are_valid(path, kind):
    prescription = read_eprescription(path.read_bytes())
    if not prescription["items"]:
        pytest.skip("a level-1 prescription: nothing to dispense")
    lines = [{"item_id": item["item_id"], "quantity": 1, "substitution": "G"} for item in prescription["items"]]
    lines[0].update(product_code="3400936403114", product_name="Produit délivré en France")  # a substitute
    document = build_edispensation(prescription, {"country": "PT", "patient_id": "193857264"},
                                   {"rpps": "10001234565", "organisation": "0011223344"}, "disp-1", lines, kind)
    assert schema_errors(document) == []


def test_the_count_of_valid_documents_is_the_same_after_translation(catalogue):
    """The figure of the issue's closing note (``pytest -s``): N of M valid before, N valid after."""
    before = [p for p in DOCUMENTS if not schema_errors(p.read_bytes())]
    after = [p for p in before if not schema_errors(translate_cda(p.read_bytes(), catalogue)[1])]
    print(f"\nschema validity: {len(before)} of {len(DOCUMENTS)} CDA documents valid before translation, "
          f"{len(after)} valid after")
    assert after == before
