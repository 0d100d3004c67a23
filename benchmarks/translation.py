"""Speed of translation into French: documents per second and microseconds per coded element.

What runs: ``services.translation.handlers.translate_document`` (parse, catalogue look-ups, French
added to the document, display model, serialisation; for FHIR also the ``fhir.resources`` validation)
in this process, one document at a time, on the shipped catalogue, for:

* ``CDA small``  — ``tests/fixtures/ncp/PT/PT-TEST-1/ps.xml`` (three sections);
* ``CDA PT 43.6 KB`` — ``data/ncp/PT/193857264/ps.xml`` (the 7 mandatory sections; issue 17's yardstick:
  at least ~400 documents/s per core);
* ``CDA full``   — ``data/ncp/PT/284716395/ps.xml`` (all 13 sections);
* ``CDA large``  — that full document with the entries of its sections repeated until it reaches
  ~150 KB (built here, in memory: the same clinical statements, more of them);
* ``FHIR small`` — ``tests/fixtures/documents/ips-PT.json``;
* ``FHIR large`` — ``data/ncp/NL/574687583/ps.json`` with its section entries repeated (copies of
  the referenced resources under new ids) until ~150 KB.

Each document is translated for at least ``--seconds`` (after one warm-up run); the figures are
wall-clock on an otherwise idle process: docs/s = runs / elapsed, µs per coded element = elapsed /
runs / coded elements of the document; docs/s per core = runs / CPU seconds of this process (one
thread: a worker translates on one core). Printed once: the catalogue's load time, and the resident
memory (peak RSS, ``VmHWM``) of a fresh process that imports the translation worker
(``services.translation.app``, Kafka client included), loads the catalogue and translates every
document of ``tests/fixtures/corpus/`` and ``data/ncp/`` — what a translation worker holds.

Then one line per target of issue 17, item 6 (met or not, with the figure): the PT 43.6 KB CDA at
``YARDSTICK_DOCS_PER_CORE`` documents/s per core or more, catalogue load within ``MAX_LOAD_MS``, a
translation worker's peak resident memory within ``MAX_WORKER_MB``. ``--only TEXT`` measures only
the documents whose name contains TEXT (``--only 43.6`` for the yardstick alone, e.g. for runs
alternated with another version of the code).

    .venv/bin/python -m benchmarks.translation [--seconds 2] [--only 43.6]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from lxml import etree

from benchmarks.hop_cost import percentile
from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_document

TARGET = 150_000
#: Issue 17, item 6: translation alone of the PT 43.6 KB CDA, catalogue load, worker memory.
YARDSTICK, YARDSTICK_DOCS_PER_CORE = "CDA PT 43.6 KB (193857264)", 400
MAX_LOAD_MS, MAX_WORKER_MB = 1000, 250
NS = {"hl7": "urn:hl7-org:v3"}


def large_cda(path: Path) -> bytes:
    root = etree.fromstring(path.read_bytes())
    sections = root.xpath("//hl7:section[hl7:entry]", namespaces=NS)
    originals = {id(s): s.xpath("hl7:entry", namespaces=NS) for s in sections}
    content = etree.tostring(root)
    while len(content) < TARGET:
        for sec in sections:
            for entry in originals[id(sec)]:
                sec.append(copy.deepcopy(entry))
        content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return content


def large_fhir(path: Path) -> bytes:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    composition = bundle["entry"][0]["resource"]
    by_url = {e["fullUrl"]: e for e in bundle["entry"]}
    n = 0
    while len(json.dumps(bundle)) < TARGET:
        n += 1
        for section in composition.get("section", []):
            for ref in list(section.get("entry", [])):
                original = by_url.get(ref["reference"])
                if original is None or "-copy-" in ref["reference"]:
                    continue
                clone = copy.deepcopy(original)
                clone["fullUrl"] = f"{original['fullUrl']}-copy-{n}"
                clone["resource"]["id"] = f"{clone['resource'].get('id', 'r')}-copy-{n}"
                bundle["entry"].append(clone)
                section["entry"].append({"reference": clone["fullUrl"]})
    return json.dumps(bundle, ensure_ascii=False).encode()


def measure(name: str, fmt: str, content: bytes, catalogue: Catalogue, seconds: float) -> dict:
    document = {"format": fmt, "language": None, "content": content}
    summary, error = translate_document(document, catalogue)  # warm-up
    assert error is None, f"{name}: {error}"
    runs, times, cpu0, start = 0, [], time.process_time(), time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        t0 = time.perf_counter()
        translate_document(document, catalogue)
        times.append((time.perf_counter() - t0) * 1e3)
        runs += 1
    cpu = time.process_time() - cpu0
    coded = summary["coded_elements"]
    times.sort()
    return {"document": name, "kb": round(len(content) / 1000, 1), "coded": coded,
            "translated": summary["translated_elements"], "docs_per_s": runs / elapsed,
            "us_per_element": elapsed / runs / coded * 1e6, "docs_per_cpu_s": runs / cpu if cpu else float("nan"), "ms_per_doc": elapsed / runs * 1e3,
            "cpu_ms_per_doc": cpu / runs * 1e3, "p50_ms": percentile(times, 50),
            "p95_ms": percentile(times, 95), "p99_ms": percentile(times, 99)}


_WORKER = """
import resource, sys
from pathlib import Path
import services.translation.app  # the worker's imports: processor, Kafka client, serde
from passerelle import PROJECT_ROOT
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_document
catalogue = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
paths = sorted((PROJECT_ROOT / "tests" / "fixtures" / "corpus").rglob("*.*")) + sorted((PROJECT_ROOT / "data" / "ncp").rglob("ps.*"))
for path in paths:
    if path.suffix in (".xml", ".json"):
        translate_document({"format": "CDA" if path.suffix == ".xml" else "FHIR", "language": None,
                            "content": path.read_bytes()}, catalogue)
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
print(int(status["VmHWM"].split()[0]) // 1024, int(status["VmRSS"].split()[0]) // 1024)
"""


def worker_memory_mb() -> tuple[int, int]:
    """(peak RSS, RSS) in MB of a fresh process doing a translation worker's work."""
    out = subprocess.run([sys.executable, "-c", _WORKER], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True)
    peak, rss = map(int, out.stdout.split())
    return peak, rss


def documents() -> list[tuple[str, str, Callable[[], bytes]]]:
    """(name, format, its bytes when called): the larger ones are built only when measured."""
    full = PROJECT_ROOT / "data/ncp/PT/284716395/ps.xml"
    return [
        ("CDA small (PT-TEST-1)", "CDA", (PROJECT_ROOT / "tests/fixtures/ncp/PT/PT-TEST-1/ps.xml").read_bytes),
        (YARDSTICK, "CDA", (PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes),
        ("CDA full PS (PT 284716395)", "CDA", full.read_bytes),
        ("CDA large (full PS, entries repeated)", "CDA", lambda: large_cda(full)),
        ("FHIR small (ips-PT)", "FHIR", (PROJECT_ROOT / "tests/fixtures/documents/ips-PT.json").read_bytes),
        ("FHIR large (NL IPS, entries repeated)", "FHIR", lambda: large_fhir(PROJECT_ROOT / "data/ncp/NL/574687583/ps.json")),
    ]


def verdict(what: str, met: bool, figure: str) -> str:
    return f"issue 17 item 6, {what}: {'met' if met else 'NOT MET'} ({figure})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per document")
    parser.add_argument("--only", default="", help="measure only the documents whose name contains this")
    args = parser.parse_args()
    start, cpu = time.perf_counter(), time.process_time()
    catalogue = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
    load_ms, load_cpu_ms = (time.perf_counter() - start) * 1e3, (time.process_time() - cpu) * 1e3
    print(f"catalogue load: {load_ms:.0f} ms, {load_cpu_ms:.0f} ms CPU"
          f" ({sum(len(c) for c in catalogue.systems.values())} concepts)")
    peak, rss = worker_memory_mb()
    print(f"translation worker resident memory: peak {peak} MB, after the corpus {rss} MB")
    print(f"{'document':40} {'KB':>6} {'coded':>6} {'French':>6} {'docs/s':>8} {'/core':>8} {'ms/doc':>7} {'µs/coded':>9}")
    per_core = {}
    for name, fmt, content in (d for d in documents() if args.only in d[0]):
        r = measure(name, fmt, content(), catalogue, args.seconds)
        per_core[name] = r["docs_per_cpu_s"]
        print(f"{r['document']:40} {r['kb']:>6} {r['coded']:>6} {r['translated']:>6} {r['docs_per_s']:>8.1f}"
              f" {r['docs_per_cpu_s']:>8.1f} {r['ms_per_doc']:>7.2f} {r['us_per_element']:>9.1f}")
    if YARDSTICK in per_core:
        print(verdict(f"translation alone of the PT 43.6 KB CDA ≥ {YARDSTICK_DOCS_PER_CORE} docs/s per core",
                      per_core[YARDSTICK] >= YARDSTICK_DOCS_PER_CORE, f"{per_core[YARDSTICK]:.1f}"))
    print(verdict(f"catalogue load ≤ {MAX_LOAD_MS} ms", load_ms <= MAX_LOAD_MS,
                  f"{load_ms:.0f} ms; CPU {load_cpu_ms:.0f} ms, what it takes on an idle core"))
    print(verdict(f"translation worker resident memory ≤ {MAX_WORKER_MB} MB", peak <= MAX_WORKER_MB, f"peak {peak} MB"))


if __name__ == "__main__":
    main()
