"""The medication reader over real published documents: every ePrescription and eDispensation of
``tests/fixtures/corpus/`` (and, when ``PASSERELLE_CORPUS_DIR`` names a directory with the same layout
``cda-ep/ cda-ed/ cda-ps/``, every one of those too, Patient Summaries included).

Fails when a document raises, or when fewer than 95% of the prescription items of a corpus have at
least one active substance. ``pytest -s`` prints the counts per document.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from passerelle import PROJECT_ROOT
from passerelle.eprescription import SAFE_PARSER, read_edispensation, read_eprescription
from passerelle.medication import child, read_dosage, read_product

VENDORED = PROJECT_ROOT / "tests" / "fixtures" / "corpus"
#: Share of prescription items that must show at least one active substance.
MIN_ITEMS_WITH_SUBSTANCE = 0.95


def corpora() -> list[Path]:
    extra = os.environ.get("PASSERELLE_CORPUS_DIR")
    return [VENDORED] + ([Path(extra)] if extra else [])


def documents(folder: str) -> list[Path]:
    return [p for corpus in corpora() for p in sorted((corpus / folder).glob("*.xml"))]


def _name(path: Path) -> str:
    return f"{path.parent.parent.name}/{path.parent.name}/{path.name}"


def prescription_counts(path: Path) -> tuple[int, int]:
    """(items with ≥ 1 active substance, items) of one ePrescription."""
    items = read_eprescription(path.read_bytes())["items"]
    return sum(1 for i in items if i["ingredients"]), len(items)


def dispensation_counts(path: Path) -> tuple[int, int]:
    lines = read_edispensation(path.read_bytes())["lines"]
    return sum(1 for line in lines if line["ingredients"]), len(lines)


def summary_counts(path: Path) -> tuple[int, int]:
    """(medication entries with ≥ 1 active substance, medication entries) of one Patient Summary."""
    root = etree.fromstring(path.read_bytes(), SAFE_PARSER)
    entries = root.xpath("//hl7:section//hl7:substanceAdministration", namespaces={"hl7": "urn:hl7-org:v3"})
    found = 0
    for sa in entries:
        product = read_product(child(sa, "consumable", "manufacturedProduct", "manufacturedMaterial"))
        read_dosage(sa)
        found += bool(product["ingredients"])
    return found, len(entries)


#: What each folder holds, and how its medication is counted.
KINDS = {"cda-ep": ("prescription items", prescription_counts),
         "cda-ed": ("dispensed products", dispensation_counts),
         "cda-ps": ("Patient Summary medication entries", summary_counts)}


@pytest.mark.parametrize("path", [p for folder in KINDS for p in documents(folder)], ids=_name)
def test_every_document_is_read_without_raising(path):
    what, count = KINDS[path.parent.name]
    with_substance, total = count(path)
    assert 0 <= with_substance <= total
    print(f"\n{_name(path)}: {with_substance}/{total} {what} with an active substance")


@pytest.mark.parametrize("corpus", corpora(), ids=str)
def test_at_least_95_percent_of_prescription_items_show_an_active_substance(corpus):
    counts = [prescription_counts(p) for p in sorted((corpus / "cda-ep").glob("*.xml"))]
    with_substance, items = sum(c[0] for c in counts), sum(c[1] for c in counts)
    print(f"\n{corpus}: {with_substance}/{items} prescription items with at least one active substance")
    assert items > 0, f"no prescription item in {corpus / 'cda-ep'}"
    assert with_substance >= MIN_ITEMS_WITH_SUBSTANCE * items, f"{with_substance}/{items}"
