"""Property tests: damaged documents are translated partially, never crash, and come out as the same
document with only French added; bytes that are no document come back as sent with an error code."""

from __future__ import annotations

import copy
import json

from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from pydantic import ValidationError

from fastavro import validate
from fastavro.schema import parse_schema

from passerelle.documents import unpack
from passerelle import PROJECT_ROOT
from passerelle.serde import SchemaSet
from services.translation.catalogue import Catalogue
from services.translation.fhir import TRANSLATION_EXT
from services.translation.handlers import translate_document

from tests.conftest import FIXTURES

CATALOGUE = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
CDA_SAMPLES = [PROJECT_ROOT / "data/ncp/PT/284716395/ps.xml", PROJECT_ROOT / "data/ncp/GR/23044903575/ps.xml",
               FIXTURES / "documents/ep-FI-multi-ingredient.xml", FIXTURES / "documents/ps-ES-robustness.xml"]
FHIR_SAMPLES = [PROJECT_ROOT / "data/ncp/NL/574687583/ps.json", FIXTURES / "documents/ips-GR.json"]
CDA_DAMAGE = ["drop-element", "drop-code", "drop-codeSystem", "null-flavor", "unknown-system", "drop-title",
              "empty-element", "garbage-code", "comment"]
_OUTCOME = SchemaSet(PROJECT_ROOT / "schemas")["fr.passerelle.ps.PatientSummaryOutcome"].source
#: The display model's Avro schema: what translation returns must be encodable into the outcome event.
SUMMARY_SCHEMA = parse_schema(next(f for f in _OUTCOME["fields"] if f["name"] == "summary")["type"])
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _damage_cda(root: etree._Element, damage: list[tuple[int, str]]) -> None:
    for index, kind in damage:
        elements = [el for el in root.iter() if isinstance(el.tag, str) and el is not root]
        el = elements[index % len(elements)]
        if kind == "drop-element" and el.getparent() is not None:
            el.getparent().remove(el)
        elif kind == "drop-code":
            el.attrib.pop("code", None)
        elif kind == "drop-codeSystem":
            el.attrib.pop("codeSystem", None)
        elif kind == "null-flavor":
            el.attrib.pop("code", None)
            el.set("nullFlavor", "UNK")
        elif kind == "unknown-system" and el.get("code"):
            el.set("codeSystem", "1.2.3.999")
        elif kind == "drop-title":
            for title in el.iter("{urn:hl7-org:v3}title"):
                title.getparent().remove(title)
                break
        elif kind == "empty-element":
            el.clear()
        elif kind == "garbage-code" and el.get("code") is not None:
            el.set("code", "\u00e9\u2603 <&>\"")
        elif kind == "comment":
            el.insert(0, etree.Comment(" a comment "))
            el.insert(0, etree.ProcessingInstruction("pi", "x"))


def _without_our_translations(root: etree._Element) -> bytes:
    """The document minus the ``translation`` children we append (same code as their parent, last child)."""
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or len(el) == 0:
            continue
        last = el[-1]
        if (isinstance(last.tag, str) and etree.QName(last).localname == "translation"
                and last.get("code") == el.get("code") and last.get("codeSystem") == el.get("codeSystem")):
            el.remove(last)
    return etree.tostring(root, method="c14n")


@SETTINGS
@given(sample=st.sampled_from(CDA_SAMPLES),
       damage=st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(CDA_DAMAGE)), max_size=6))
def test_a_damaged_cda_is_translated_partially_and_only_french_is_added(sample, damage):
    root = etree.fromstring(sample.read_bytes())
    _damage_cda(root, damage)
    content = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    summary, error = translate_document({"format": "CDA", "language": None, "content": content}, CATALOGUE)
    assert error is None and summary["translated"]
    assert validate(summary, SUMMARY_SCHEMA)
    out = etree.fromstring(unpack(summary["document_encoding"], summary["document"]))  # well-formed, still a CDA
    assert out.tag == "{urn:hl7-org:v3}ClinicalDocument"
    assert _without_our_translations(out) == etree.tostring(etree.fromstring(content), method="c14n")
    for section in summary["sections"]:
        assert section["title"]
        for entry in section["entries"]:
            # a translated element is flagged only when its French is the project's own (issue 17)
            assert entry["translated"] == (entry["flag"] in {None, "CURATED_LABEL", "DERIVED_LABEL"})
            assert entry["translated"] or entry["flag"] in {
                "NULL_FLAVOR", "UNKNOWN_CODE", "UNKNOWN_CODE_SYSTEM", "NO_CODE_SYSTEM"}


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                           max_leaves=6)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


@SETTINGS
@given(sample=st.sampled_from(FHIR_SAMPLES),
       damage=st.lists(st.tuples(st.integers(0, 100_000), st.booleans(), JSON_VALUES), max_size=5))
def test_a_damaged_ips_bundle_never_crashes_and_stays_json(sample, damage):
    bundle = json.loads(sample.read_text(encoding="utf-8"))
    for index, delete, value in damage:
        paths = [p for p in _paths(bundle) if len(p) > 1]
        *parent_path, key = paths[index % len(paths)]
        parent = bundle
        for step in parent_path:
            parent = parent[step]
        if delete:
            del parent[key]
        else:
            parent[key] = value
    content = json.dumps(bundle).encode()
    summary, error = translate_document({"format": "FHIR", "language": None, "content": content}, CATALOGUE)
    assert validate(summary, SUMMARY_SCHEMA)
    if error is not None:
        # only JSON that is no Bundle with a Composition may fail as a whole
        assert error["code"] == "TRANSLATION_FAILED" and unpack(summary["document_encoding"], summary["document"]) == content
        assert not _has_composition(bundle)
        return
    out = json.loads(unpack(summary["document_encoding"], summary["document"]))
    assert _strip_fhir_translations(out) == _strip_fhir_translations(copy.deepcopy(bundle))
    out = json.loads(unpack(summary["document_encoding"], summary["document"]))
    try:
        Bundle.model_validate(bundle)
    except (ValidationError, TypeError, ValueError, KeyError, AttributeError):
        assert summary["warnings"] == ["FHIR_INVALID"]
    else:
        Bundle.model_validate(out)  # a valid Bundle stays valid


def _has_composition(bundle) -> bool:
    return (isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle"
            and isinstance(bundle.get("entry"), list)
            and any(isinstance(e, dict) and isinstance(e.get("resource"), dict)
                    and e["resource"].get("resourceType") == "Composition"
                    and (isinstance(e.get("fullUrl"), str) or isinstance(e["resource"].get("id"), str))
                    for e in bundle["entry"]))


def _strip_fhir_translations(node):
    if isinstance(node, dict):
        display = node.get("_display")
        if isinstance(display, dict) and isinstance(display.get("extension"), list):
            display["extension"] = [e for e in display["extension"]
                                    if not (isinstance(e, dict) and e.get("url") == TRANSLATION_EXT
                                            and isinstance(e.get("extension"), list)
                                            and {"url": "lang", "valueCode": "fr-FR"} in e["extension"])]
            if not display["extension"]:
                del display["extension"]
        if display == {}:  # (applied to both sides: an empty _display says nothing)
            del node["_display"]
        for value in node.values():
            _strip_fhir_translations(value)
    elif isinstance(node, list):
        for item in node:
            _strip_fhir_translations(item)
    return node


@SETTINGS
@given(fmt=st.sampled_from(["CDA", "FHIR"]), content=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_bytes_that_are_no_document_come_back_as_sent_with_an_error_code(fmt, content):
    summary, error = translate_document({"format": fmt, "language": "pt-PT", "content": content}, CATALOGUE)
    assert validate(summary, SUMMARY_SCHEMA)
    if error is not None:
        assert error["code"] == "TRANSLATION_FAILED"
        assert unpack(summary["document_encoding"], summary["document"]) == content and summary["sections"] == [] and not summary["translated"]
    else:
        assert summary["translated"]
