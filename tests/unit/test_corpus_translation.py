"""Every published document of the corpus (``tests/corpus/__init__.py``) goes through translation: none raises,
none is delivered without its sections, and at least 85 % of the coded entries whose code belongs to
an eHDSI value set (under any identifier of its code system) are shown in French. Entries coded in
national or other systems are counted apart and shown as sent (issue 17)."""

from __future__ import annotations

import json

import pytest

from passerelle import PROJECT_ROOT
from passerelle.errors import error
from passerelle.events import PS_OUTCOME
from passerelle.serde import AvroSerde, SchemaSet
from services.gateway.summaries.models import RequestStatus
from services.gateway.summaries.rules import status_json, status_view
from services.translation.catalogue import Catalogue
from services.translation.coverage import document_coverage
from services.translation.handlers import translate_document
from tests.corpus import corpus_documents

CATALOGUE = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
DOCUMENTS = corpus_documents()
EHDSI_IN_FRENCH = 0.85
SERDE = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
HP = {"rpps": "10000000001", "profession": "DOCTOR", "organisation": "Cabinet", "auth_method": "PSC",
      "assertion_issued_at": 0}


def _translated(document) -> dict:
    summary, error = translate_document({"format": document.format, "language": None,
                                         "content": document.path.read_bytes()}, CATALOGUE)
    assert error is None, f"{document.id}: {error}"
    return summary


def test_the_vendored_corpus_holds_patient_summaries_in_both_formats():
    kinds = {d.kind for d in corpus_documents("cda-ps", "fhir-ips")}
    assert kinds == {"cda-ps", "fhir-ips"}


@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.id for d in DOCUMENTS])
def test_every_document_is_delivered_with_its_sections(document):
    summary = _translated(document)
    assert summary["translated"]
    if "NON_XML_BODY" in summary["warnings"]:  # level 1: the original itself is what is delivered
        assert summary["embedded_documents"]
        return
    assert summary["sections"], document.id
    for section in summary["sections"]:
        assert section["title"]
        for entry in section["entries"]:
            # shown in French, or as sent (original text, code — even an empty one) with the reason it is not
            assert entry["translated"] or entry["flag"], (document.id, entry)
            assert not entry["translated"] or entry["display"], (document.id, entry)
    _answered_as_its_model_says("COMPLETED", None, summary)


@pytest.mark.parametrize("status, code", [("DENIED", "CONSENT_REVOKED"), ("FAILED", "DOCUMENT_NOT_FOUND")])
def test_an_answer_without_a_summary_is_written_as_its_model_says(status, code):
    _answered_as_its_model_says(status, error(code), None)


def test_a_pending_request_is_written_as_its_model_says():
    assert json.loads(status_json("r", None)) == RequestStatus.model_validate(status_view("r", None)).model_dump(mode="json")


def _answered_as_its_model_says(status: str, err: dict | None, summary: dict | None) -> None:
    """The gateway writes its answer from the outcome event without validating it against the
    response model (``status_json``): the body must be exactly what the validated model writes."""
    outcome = {"envelope": {"event_id": "e", "event_type": PS_OUTCOME, "schema_version": 0, "correlation_id": "r",
                            "causation_id": None, "occurred_at": 0, "producer": "translation"},
               "hp": HP, "patient": {"country": "PT", "patient_id": "p"}, "status": status, "error": err,
               "summary": summary}
    _, event = SERDE.decode(SERDE.encode(PS_OUTCOME, outcome))  # what the gateway's follower hands it
    modelled = RequestStatus.model_validate(status_view("r", event)).model_dump(mode="json")
    assert json.loads(status_json("r", event)) == modelled


def test_coded_entries_of_ehdsi_value_sets_are_shown_in_french():
    rows = [r for d in DOCUMENTS for r in document_coverage(d.path, CATALOGUE) if r.system == "(all)"]
    ehdsi, french = sum(r.ehdsi for r in rows), sum(r.ehdsi_french for r in rows)
    assert ehdsi > 100  # the corpus does carry eHDSI-coded entries: the ratio below means something
    assert french / ehdsi >= EHDSI_IN_FRENCH, f"{french} of {ehdsi} eHDSI-coded entries in French"


def test_national_codes_are_counted_apart_and_shown_as_sent():
    """An entry in a national code system is never counted as eHDSI nor relabelled."""
    rows = [r for d in DOCUMENTS for r in document_coverage(d.path, CATALOGUE)]
    national = [r for r in rows if r.system.startswith(("2.16.620.", "1.2.203.", "urn:oid:1.2.246"))]
    assert all(r.ehdsi == 0 and r.french == 0 for r in national)
