"""The fast look-ups of CDA translation find exactly what their declarative definitions select, on
every CDA document of the corpus and of ``data/ncp/``: ``cda._coded`` and ``cda._media`` what the
``CODED`` and ``MEDIA`` XPath expressions select, ``cda.NarrativeTexts`` the ``ID`` elements of the
narrative, and ``medication.child``/``children`` the same elements inside ``indexed()`` as outside."""

from __future__ import annotations

import pytest
from lxml import etree

from passerelle import PROJECT_ROOT, medication
from services.translation import cda
from tests.corpus import corpus_documents

PATHS = [d.path for d in corpus_documents() if d.format == "CDA"] + sorted((PROJECT_ROOT / "data" / "ncp").rglob("*.xml"))
CODED = etree.XPath(cda.CODED)
MEDIA = etree.XPath(cda.MEDIA, namespaces=cda.NSMAP)
NARRATIVE_IDS = etree.XPath(".//hl7:text//*[@ID]", namespaces=cda.NSMAP)
#: What the statement and medication readers ask an element for.
NAMES = ("code", "value", "effectiveTime", "statusCode", "low", "high", "entryRelationship", "observation",
         "consumable", "manufacturedProduct", "manufacturedMaterial", "ingredient", "part", "formCode", "name",
         "originalText", "reference", "participant", "quantity", "asContent", "translation")


def _root(path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_fast_lookups_find_what_their_definitions_select(path):
    root = _root(path)
    assert cda._media(root) == MEDIA(root)
    for section in root.iter(f"{{{cda.NS}}}section"):
        narrative = cda.NarrativeTexts(section)
        assert dict(narrative._elements) == {el.get("ID"): el for el in NARRATIVE_IDS(section)}
    for entry in root.iter(f"{{{cda.NS}}}entry"):
        assert cda._coded(entry) == CODED(entry)
        elements = list(entry.iter(etree.Element))
        plain = [(medication.child(el, n), medication.children(el, n)) for el in elements for n in NAMES]
        with medication.indexed():
            assert [(medication.child(el, n), medication.children(el, n)) for el in elements for n in NAMES] == plain


def test_every_kind_of_lookup_has_something_to_find():
    """The comparison above is not vacuous: the documents hold media, narrative IDs and coded entries."""
    roots = [_root(p) for p in PATHS]
    assert sum(len(MEDIA(r)) for r in roots) > 0
    assert sum(len(NARRATIVE_IDS(r)) for r in roots) > 100
    assert sum(len(CODED(e)) for r in roots for e in r.iter(f"{{{cda.NS}}}entry")) > 500
