"""The corpus of published documents the tests read: ``tests/fixtures/corpus/`` (vendored, licences in
its README) plus, when ``PASSERELLE_CORPUS_DIR`` names a directory of the same layout (``cda-ps/``,
``cda-ep/``, ``cda-ed/``, ``fhir-ips/``…), the documents found there too.

    PASSERELLE_CORPUS_DIR=/path/to/corpus .venv/bin/python -m pytest tests/unit/test_corpus_translation.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import FIXTURES

VENDORED = FIXTURES / "corpus"
ENV = "PASSERELLE_CORPUS_DIR"
#: Folder prefix → document format as the translation service names it.
FORMATS = {"cda": "CDA", "fhir": "FHIR"}
SUFFIXES = {"CDA": ".xml", "FHIR": ".json"}


@dataclass(frozen=True)
class CorpusDocument:
    path: Path
    kind: str  # the folder: cda-ps, cda-ep, cda-ed, fhir-ips…
    format: str  # CDA or FHIR

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.path.name}"


def corpus_roots() -> list[Path]:
    extra = os.environ.get(ENV)
    return [VENDORED] + ([Path(extra)] if extra and Path(extra).is_dir() else [])


def corpus_documents(*kinds: str) -> list[CorpusDocument]:
    """The documents of the given folders (all ``cda-*``/``fhir-*`` folders when none is named), in
    every corpus root; a document present in two roots under one name is listed once."""
    found: dict[str, CorpusDocument] = {}
    for root in corpus_roots():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            fmt = FORMATS.get(folder.name.split("-", 1)[0])
            if fmt is None or (kinds and folder.name not in kinds):
                continue
            for path in sorted(folder.glob(f"*{SUFFIXES[fmt]}")):
                found.setdefault(f"{folder.name}/{path.name}", CorpusDocument(path, folder.name, fmt))
    return list(found.values())
