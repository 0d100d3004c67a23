"""Naming union branches before fastavro writes (passerelle/union_branches.py) changes no byte."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from passerelle import PROJECT_ROOT
from passerelle.events import PS_RETRIEVED
from passerelle.processor import Incoming
from passerelle.serde import SchemaSet
from passerelle.topics import Topics
from passerelle.union_branches import branch_tagger, defined_name
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_patient_summary

SCHEMAS = SchemaSet(PROJECT_ROOT / "schemas")
PRIMITIVE = {
    "null": st.none(), "boolean": st.booleans(), "int": st.integers(-2**31, 2**31 - 1),
    "long": st.integers(-2**63, 2**63 - 1), "float": st.just(1.5), "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=20), "string": st.text(max_size=10),
}


def values(schema, named: dict, ns: str | None = None, depth: int = 0):
    """A hypothesis strategy for values of an Avro schema (self-contained, named types inlined once)."""
    if isinstance(schema, str):
        if schema in PRIMITIVE:
            return PRIMITIVE[schema]
        full = schema if "." in schema or not ns else f"{ns}.{schema}"
        return st.deferred(lambda: named[full])
    if isinstance(schema, list):
        return st.one_of([values(b, named, ns, depth) for b in schema])
    kind = schema["type"]
    if isinstance(kind, (list, dict)):
        return values(kind, named, ns, depth)
    if schema.get("logicalType") == "timestamp-millis":
        return st.just(datetime(2026, 1, 1, tzinfo=timezone.utc))
    if kind == "record":
        full = defined_name(schema, ns)
        inner = full.rsplit(".", 1)[0] if "." in full else None
        strategy = st.fixed_dictionaries({f["name"]: values(f["type"], named, inner, depth + 1) for f in schema["fields"]})
        named[full] = strategy
        return strategy
    if kind == "enum":
        named[defined_name(schema, ns)] = st.sampled_from(schema["symbols"])
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(values(schema["items"], named, ns, depth + 1), max_size=0 if depth > 6 else 3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=5), values(schema["values"], named, ns, depth + 1),
                               max_size=0 if depth > 6 else 3)
    return PRIMITIVE[kind]


def plain(schema, record) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema.parsed, record)
    return buf.getvalue()


def tagged(schema, record) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema.parsed, branch_tagger(schema.source)(record))
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(n for n, s in SCHEMAS.by_name.items() if branch_tagger(s.source)))
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], deadline=None)
@given(data=st.data())
def test_any_record_of_any_event_encodes_to_the_same_bytes(name, data):
    schema = SCHEMAS[name]
    record = data.draw(values(schema.source, {}))
    assert tagged(schema, record) == plain(schema, record)


def test_a_translated_patient_summary_encodes_to_the_same_bytes_and_the_caller_record_is_untouched():
    catalogue = Catalogue.load(PROJECT_ROOT / "data" / "catalogue")
    hp = {"rpps": "1", "profession": "10", "organisation": "o", "auth_method": "CPS",
          "assertion_issued_at": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    envelope = {"event_id": "e", "event_type": "", "schema_version": 0, "correlation_id": "c", "causation_id": None,
                "occurred_at": datetime(2026, 1, 1, tzinfo=timezone.utc), "producer": "p"}
    for path, fmt in ((PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml", "CDA"),
                      (PROJECT_ROOT / "data/ncp/NL/574687583/ps.json", "FHIR")):
        retrieved = {"envelope": envelope, "hp": hp, "patient": {"country": "PT", "patient_id": "X"},
                     "purpose": "TREATMENT", "error": None,
                     "document": {"format": fmt, "language": None, "content": path.read_bytes()}}
        outcome = next(iter(translate_patient_summary(Incoming("t", PS_RETRIEVED, retrieved), Topics(), catalogue)))
        schema = SCHEMAS[outcome.event_type]
        before = repr(outcome.record)
        assert tagged(schema, outcome.record) == plain(schema, outcome.record)
        assert repr(outcome.record) == before


def test_a_value_of_the_wrong_type_is_still_refused_by_fastavro():
    schema = SCHEMAS["fr.passerelle.ps.PatientSummaryOutcome"]
    with pytest.raises((ValueError, TypeError)):
        tagged(schema, {"summary": "not a record"})
