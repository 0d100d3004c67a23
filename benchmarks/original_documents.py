"""Cost of the original-documents service in the translation stage, and the size of what it emits.

What runs: ``services.translation.orcd.read_documents`` (the header read, the original decoded and
checked against its magic number, or the structured laboratory report read into French) and the
Avro encoding of the ``OriginalDocumentsOutcome`` that carries the listing, in this process, one
listing at a time, on the shipped catalogue, for:

* ``OrCD PDF``      — the EU reference implementation's laboratory OrCD (a 130 KB PDF inside);
* ``OrCD image``    — its medical-images OrCD (a 360 KB PNG inside);
* ``FHIR lab``      — the demo patient's structured laboratory report (5 results);
* ``PT listing``    — the demo patient's whole laboratory listing (4 OrCDs, 2 refused, 1 FHIR report).

Each is run for at least ``--seconds`` after one warm-up; wall clock on an idle process: ms per
listing (median of the runs) and the encoded outcome's size.

    .venv/bin/python -m benchmarks.original_documents [--seconds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from passerelle import PROJECT_ROOT
from passerelle.envelope import new_envelope
from passerelle.runtime import make_serde
from passerelle.settings import Settings
from services.translation.catalogue import Catalogue
from services.translation.orcd import read_documents

CORPUS = PROJECT_ROOT / "tests/fixtures/corpus/orcd"
PT = PROJECT_ROOT / "data/ncp/PT/193857264"


def cases() -> dict[str, list[bytes]]:
    lab_orcds = sorted((PT / "orcd").glob("lab-*.xml"))
    return {"OrCD PDF": [(CORPUS / "konateq__openncp__orcd-11502-2__3-1234-W8.xml").read_bytes()],
            "OrCD image": [(CORPUS / "konateq__openncp__orcd-x-clinical-image__3-1234-W8.xml").read_bytes()],
            "FHIR lab": [p.read_bytes() for p in sorted((PT / "lab").glob("*.json"))],
            "PT listing": [p.read_bytes() for p in lab_orcds + sorted((PT / "lab").glob("*.json"))]}


def outcome(documents: list[dict]) -> dict:
    hp = {"rpps": "10001234565", "profession": "10", "organisation": "750000001", "auth_method": "CPS",
          "assertion_issued_at": 0}
    return {"envelope": new_envelope("translation"), "hp": hp, "patient": {"country": "PT", "patient_id": "x"},
            "purpose": "TREATMENT", "query": {"document_type": "11502-2", "period_start": None, "period_end": None},
            "status": "COMPLETED", "error": None, "documents": documents,
            "document_refs": [{"document_id": d["document_id"], "document_type": d["document_type"]} for d in documents]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    catalogue = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
    serde = make_serde(Settings())
    print(f"{'case':<12} {'docs':>4} {'input KB':>9} {'ms/listing':>11} {'encode ms':>10} {'event KB':>9}")
    for name, contents in cases().items():
        read_documents([{"content": c} for c in contents], catalogue)  # warm-up
        reads, encodes, size, deadline = [], [], 0, time.perf_counter() + args.seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            listed, _, _ = read_documents([{"content": c} for c in contents], catalogue)
            middle = time.perf_counter()
            size = len(serde.encode("fr.passerelle.orcd.OriginalDocumentsOutcome", outcome(listed)))
            reads.append(middle - start)
            encodes.append(time.perf_counter() - middle)
        print(f"{name:<12} {len(contents):>4} {sum(map(len, contents)) / 1024:>9.0f} "
              f"{statistics.median(reads) * 1000:>11.2f} {statistics.median(encodes) * 1000:>10.2f} {size / 1024:>9.0f}")


if __name__ == "__main__":
    main()
