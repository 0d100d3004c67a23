"""Corpus test: every original clinical document read — the vendored ones
(``tests/fixtures/corpus/orcd/``) and, when ``PASSERELLE_CORPUS_DIR`` names a directory with the same
layout (``orcd/*.xml``), those too. Each gets a header (document id, type, language) and its
original checked; the French label coverage of the document types is printed."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.orcd import MAX_LISTING_BYTES, read_document


def corpus(kind: str) -> list[Path]:
    roots = [PROJECT_ROOT / "tests" / "fixtures" / "corpus"]
    if os.environ.get("PASSERELLE_CORPUS_DIR"):
        roots.append(Path(os.environ["PASSERELLE_CORPUS_DIR"]))
    return sorted(p for root in roots for p in (root / kind).glob("*.xml"))


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def test_every_orcd_is_read_with_its_header_and_its_original_checked(catalogue):
    files = corpus("orcd")
    assert len(files) >= 4
    types, french = Counter(), Counter()
    for path in files:
        document = read_document(path.read_bytes(), catalogue, MAX_LISTING_BYTES)
        assert document["document_id"] and document["document_type"] and document["language"], path.name
        assert document["refusal"] is None, (path.name, document["refusal"])
        assert document["media_type"] in ("application/pdf", "image/png", "image/jpeg") and document["size"] > 0
        types[document["document_type"]] += 1
        french[document["document_type"]] += document["document_type_french"] is not None
    print(f"\nOrCD corpus: {len(files)} documents; document type with a French label (LOINC), per type:")
    for code, count in sorted(types.items()):
        print(f"  {code}: {french[code]}/{count}")
