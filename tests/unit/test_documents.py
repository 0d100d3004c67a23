"""Documents inside events (passerelle/documents.py): larger ones travel as LZ4 frames; a frame
that cannot be read back is refused, and the HP gets a FAILED answer with a stable code."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import lz4.frame
import pytest

from passerelle import PROJECT_ROOT
from passerelle.documents import COMPRESS_ABOVE, IDENTITY, LZ4, UnreadableDocument, pack, unpack
from passerelle.events import PS_RETRIEVED
from passerelle.processor import Incoming
from passerelle.topics import Topics
from services.gateway.summaries.rules import status_view
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_patient_summary

CDA = (PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes()


def test_a_large_document_travels_as_an_lz4_frame_and_a_small_one_as_it_is():
    encoding, packed = pack(CDA)
    assert encoding == LZ4 and len(packed) < len(CDA) / 3 and lz4.frame.decompress(packed) == CDA
    assert unpack(encoding, packed) == CDA
    small = CDA[:COMPRESS_ABOVE]
    assert pack(small) == (IDENTITY, small) and unpack(IDENTITY, small) == small and unpack(None, small) == small


@pytest.mark.parametrize("name, data", [
    ("truncated", lz4.frame.compress(CDA)[:-10]),
    ("not a frame", os.urandom(200)),
    ("bytes after the frame", lz4.frame.compress(CDA) + b"x"),
    ("inflates past the limit", lz4.frame.compress(b"\0" * (2 * 2**20))),
])
def test_a_frame_that_cannot_be_read_back_is_refused(name, data):
    with pytest.raises(UnreadableDocument):
        unpack(LZ4, data, limit=2**20)


def test_an_unknown_encoding_is_refused():
    with pytest.raises(UnreadableDocument):
        unpack("BROTLI", b"x")


def _retrieved(content: bytes, encoding: str) -> dict:
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return {"envelope": {"event_id": "e", "event_type": "", "schema_version": 0, "correlation_id": "c",
                         "causation_id": None, "occurred_at": when, "producer": "foreign-ncp"},
            "hp": {"rpps": "1", "profession": "10", "organisation": "o", "auth_method": "CPS",
                   "assertion_issued_at": when},
            "patient": {"country": "PT", "patient_id": "X"}, "purpose": "TREATMENT", "error": None,
            "document": {"format": "CDA", "language": "pt-PT", "content": content, "encoding": encoding}}


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def test_translation_reads_a_packed_document_and_the_gateway_shows_it_unpacked(catalogue):
    [outcome] = translate_patient_summary(Incoming("t", PS_RETRIEVED, _retrieved(*pack(CDA)[::-1])), Topics(), catalogue)
    summary = outcome.record["summary"]
    assert outcome.record["status"] == "COMPLETED" and summary["document_encoding"] == LZ4
    shown = status_view("c", outcome.record)["summary"]
    assert "document_encoding" not in shown and shown["document"]["content"].startswith("<?xml")
    assert '<translation code="' in shown["document"]["content"]


def test_an_unreadable_frame_answers_the_hp_with_document_unreadable(catalogue):
    [outcome] = translate_patient_summary(Incoming("t", PS_RETRIEVED, _retrieved(os.urandom(300), LZ4)), Topics(),
                                          catalogue)
    assert outcome.record["status"] == "FAILED" and outcome.record["error"]["code"] == "DOCUMENT_UNREADABLE"
    assert "illisible" in outcome.record["error"]["message"]


def test_the_gateway_answers_failed_not_500_for_an_outcome_whose_document_cannot_be_read(catalogue):
    [outcome] = translate_patient_summary(Incoming("t", PS_RETRIEVED, _retrieved(*pack(CDA)[::-1])), Topics(), catalogue)
    outcome.record["summary"]["document"] = outcome.record["summary"]["document"][:-20]  # truncated frame
    view = status_view("c", outcome.record)
    assert view["status"] == "failed" and view["error"]["code"] == "DOCUMENT_UNREADABLE" and view["summary"] is None
