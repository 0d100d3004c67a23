"""The coverage-guided fuzzer (tests/fuzz/atheris_harness.py) for a bounded number of runs, seeded
with real events and documents: no input makes a reader raise outside its documented refusals."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from passerelle import PROJECT_ROOT

from tests.bad_input import SMALL_HOSTILE_DOCUMENTS, TRIED
from tests.integration.conftest import patient_summary_request

RUNS = 6000


def test_the_readers_survive_coverage_guided_fuzzing(tmp_path, serde):
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = {"a-request": b"a" + serde.encode("fr.passerelle.ps.PatientSummaryRequested", patient_summary_request()),
             "c-pt": b"c" + (PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes()[:4000],
             "f-nl": b"f" + (PROJECT_ROOT / "data/ncp/NL/574687583/ps.json").read_bytes()[:4000],
             "e-fi": b"e" + (PROJECT_ROOT / "data/ncp/FI/140772-946S/ep/FI-EP-1001.xml").read_bytes()[:4000]}
    seeds |= {f"c-{i}": b"c" + doc for i, doc in enumerate(SMALL_HOSTILE_DOCUMENTS.values())}
    for name, data in seeds.items():
        (corpus / name).write_bytes(data)
    run = subprocess.run([sys.executable, "-m", "tests.fuzz.atheris_harness", f"-runs={RUNS}", "-max_len=4096",
                          "-timeout=20", f"-artifact_prefix={tmp_path}/", str(corpus)],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    done = re.search(r"Done (\d+) runs", run.stderr)
    assert done, run.stderr[-2000:]
    TRIED["atheris (serde, CDA, FHIR, ePrescription)"] += int(done.group(1))
    print(f"bad-input campaign: atheris: {done.group(1)} runs, no finding")
