"""Hostile documents (issue 17, bad input): entity expansion, external entities, gigantic depth or
attributes are refused with a stable code, audited through the outcome, and never reach the HP;
a merely malformed document is still delivered as sent (ADR 4); nothing raises out of the worker."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from passerelle import PROJECT_ROOT
from passerelle.documents import pack
from passerelle.events import PS_RETRIEVED
from passerelle.processor import Incoming
from passerelle.topics import Topics
from services.audit.handlers import record_step
from services.translation.catalogue import Catalogue
from services.translation.guard import MAX_ATTRIBUTE_CHARS, MAX_DEPTH, HostileDocument, parse_json, parse_xml
from services.translation.handlers import translate_patient_summary

CDA = (PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes()
OPEN = b'<ClinicalDocument xmlns="urn:hl7-org:v3">'
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b']>' + OPEN + b"<title>&lol9;</title></ClinicalDocument>")
HOSTILE_XML = {
    "billion laughs": (LAUGHS, "DOCUMENT_DTD_REFUSED"),
    "external entity": (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                        + OPEN + b"<title>&e;</title></ClinicalDocument>", "DOCUMENT_DTD_REFUSED"),
    "external DTD": (b'<!DOCTYPE ClinicalDocument SYSTEM "http://example.org/x.dtd">' + OPEN + b"</ClinicalDocument>",
                     "DOCUMENT_DTD_REFUSED"),
    "DTD in UTF-16": ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY e "x">]><d>&e;</d>'
                      .encode("utf-16"), "DOCUMENT_DTD_REFUSED"),
    "gigantic depth": (OPEN + b"<a>" * 5000 + b"</a>" * 5000 + b"</ClinicalDocument>", "DOCUMENT_TOO_COMPLEX"),
    "gigantic attribute": (OPEN + b'<code code="' + b"9" * (MAX_ATTRIBUTE_CHARS + 1) + b'"/></ClinicalDocument>',
                           "DOCUMENT_TOO_COMPLEX"),
}


def _retrieved(content: bytes, fmt: str = "CDA") -> dict:
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    encoding, data = pack(content)
    return {"envelope": {"event_id": "e", "event_type": "", "schema_version": 0, "correlation_id": "c",
                         "causation_id": None, "occurred_at": when, "producer": "foreign-ncp"},
            "hp": {"rpps": "1", "profession": "10", "organisation": "o", "auth_method": "CPS",
                   "assertion_issued_at": when},
            "patient": {"country": "PT", "patient_id": "X"}, "purpose": "TREATMENT", "error": None,
            "document": {"format": fmt, "language": "pt-PT", "content": data, "encoding": encoding}}


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


@pytest.mark.parametrize("name", HOSTILE_XML)
def test_a_hostile_cda_is_refused_with_a_stable_code_and_audited(name, catalogue):
    content, code = HOSTILE_XML[name]
    with pytest.raises(HostileDocument) as refused:
        parse_xml(content)
    assert refused.value.code == code
    [outcome] = translate_patient_summary(Incoming("t", PS_RETRIEVED, _retrieved(content)), Topics(), catalogue)
    assert (outcome.record["status"], outcome.record["error"]["code"], outcome.record["summary"]) == ("FAILED", code, None)
    assert "refusé par sécurité" in outcome.record["error"]["message"]
    [audit] = record_step(Incoming("t", outcome.event_type, outcome.record), Topics("p"))
    assert (audit.record["outcome"], audit.record["reason_code"], audit.record["patient_access"]) == (
        "FAILURE", code, False)


def _nested(depth: int) -> bytes:
    return b'{"resourceType": "Bundle", "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("content", [_nested(MAX_DEPTH + 5), _nested(100_000)], ids=["deep", "deeper than the stack"])
def test_a_hostile_fhir_bundle_is_refused(content, catalogue):
    with pytest.raises(HostileDocument):
        parse_json(content)
    [outcome] = translate_patient_summary(Incoming("t", PS_RETRIEVED, _retrieved(content, "FHIR")), Topics(), catalogue)
    assert (outcome.record["status"], outcome.record["error"]["code"]) == ("FAILED", "DOCUMENT_TOO_COMPLEX")


def test_a_document_past_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr("services.translation.guard.MAX_DOCUMENT_BYTES", len(CDA) - 1)
    with pytest.raises(HostileDocument) as refused:
        parse_xml(CDA)
    assert refused.value.code == "DOCUMENT_TOO_LARGE"


def test_real_documents_pass_the_guard():
    """The limits are far from real documents: every demo document is read as before."""
    assert parse_xml(CDA).tag == "{urn:hl7-org:v3}ClinicalDocument"
    for path in (PROJECT_ROOT / "data" / "ncp").rglob("*.xml"):
        parse_xml(path.read_bytes())
    for path in (PROJECT_ROOT / "tests" / "fixtures" / "corpus" / "fhir-ips").glob("*.json"):
        assert parse_json(path.read_bytes())["resourceType"] == "Bundle"


def test_a_malformed_document_is_still_delivered_as_sent(catalogue):
    content = CDA[: len(CDA) // 2]
    [outcome] = translate_patient_summary(Incoming("t", PS_RETRIEVED, _retrieved(content)), Topics(), catalogue)
    assert outcome.record["status"] == "COMPLETED" and outcome.record["error"]["code"] == "TRANSLATION_FAILED"
    assert not outcome.record["summary"]["translated"]
    json.dumps(outcome.record["error"])  # a plain record the gateway answers with
