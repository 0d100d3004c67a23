"""Corpus test: every HL7 Europe Laboratory Report read — the vendored ones
(``tests/fixtures/corpus/lab/``) and, when ``PASSERELLE_CORPUS_DIR`` names a directory with the same
layout (``lab/*.json``), those too. No Observation is dropped; the coverage of coded elements in
French is printed per code system."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.lab import read_lab_report


def corpus() -> list[Path]:
    roots = [PROJECT_ROOT / "tests" / "fixtures" / "corpus"]
    if os.environ.get("PASSERELLE_CORPUS_DIR"):
        roots.append(Path(os.environ["PASSERELLE_CORPUS_DIR"]))
    return sorted(p for root in roots for p in (root / "lab").glob("*.json"))


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(PROJECT_ROOT / "data" / "catalogue")


def test_every_lab_report_is_read_whole_and_its_french_coverage_printed(catalogue):
    files = corpus()
    assert len(files) >= 4
    total: Counter = Counter()
    units: Counter = Counter()
    for path in files:
        raw = path.read_bytes()
        report, stats = read_lab_report(raw, catalogue)
        observations = [e["resource"] for e in json.loads(raw)["entry"] if e["resource"]["resourceType"] == "Observation"]
        assert sorted(r["id"] for r in report["results"]) == sorted(o["id"] for o in observations), path.name
        for r in report["results"]:
            assert r["test"]["original"], (path.name, r["id"])  # what was sent is always there
            assert r["value"] is not None or r["members"] or "NO_VALUE" in r["flags"]
            assert r["test"]["translated"] or "CODE_NOT_TRANSLATED" in r["flags"], (path.name, r["id"])
            if r["value"] is not None and r["value"]["kind"] == "quantity":
                unit = r["value"]["unit"]
                # a unit is written the French way (and says how), or shown as sent and flagged
                assert (unit["ucum"] and unit["label"] in ("CURATED_LABEL", "DERIVED_LABEL")) or \
                    (unit["display"] == unit["original"] and ("UNIT_NOT_UCUM" in r["flags"] or not unit["original"]))
                assert r["reference_ranges"] or "NO_REFERENCE_RANGE" in r["flags"], (path.name, r["id"])
                units[unit["label"] or "as sent"] += 1
        total += stats
    print(f"\nLaboratory corpus: {len(files)} reports; coded elements with a French label, per code system:")
    for system in sorted({s for s, _ in total}):
        print(f"  {system}: {total[(system, 'french')]}/{total[(system, 'coded')]}"
              f" (of which {total[(system, 'written by Passerelle')]} curated or derived by Passerelle)")
    print(f"  units of quantities: {units['CURATED_LABEL']} from the curated UCUM table, {units['DERIVED_LABEL']} by rule, "
          f"{units['as sent']} as sent")


def test_the_coverage_command_reads_laboratory_reports_and_orcds_with_their_own_readers(catalogue):
    from services.translation.coverage import by_code_system, document_coverage, document_paths
    root = PROJECT_ROOT / "tests" / "fixtures" / "corpus"
    rows = by_code_system([r for p in document_paths([root / "lab", root / "orcd"]) for r in document_coverage(p, catalogue)])
    found = {(r.format, r.system): (r.coded, r.french) for r in rows}
    lab_loinc, units = found[("LAB", "LOINC")], found[("LAB", "UCUM (units)")]
    assert lab_loinc[0] >= 20 and 0 < lab_loinc[1] <= lab_loinc[0]
    assert units[0] >= 10 and units[1] <= units[0]
    assert found[("OrCD", "(all)")][0] == len(list((root / "orcd").glob("*.xml")))
    assert not [s for f, s in found if s.startswith("(not")]  # every one read, none as a Patient Summary
