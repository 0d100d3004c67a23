"""AuditRecord version 2 stays backward compatible with version 1: records written with v1 (still on
the audit topic, still to replay) are read by v2 with the new fields at their defaults."""

from __future__ import annotations

import copy
import io
import json
from datetime import datetime, timezone

import fastavro
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.schema import parse

from passerelle import PROJECT_ROOT
from passerelle.serde import SchemaSet

ADDED_IN_V2 = {"point_of_care": None, "mapped_patient": None, "source_causation_id": None, "patient_access": False}
#: version 3 (France as country A): the professional's country, the document concerned; (issue 18)
#: the digest of an oversized record; (issue 23) the documents a step names
ADDED_IN_V3 = {"hp_country": None, "document_id": None, "oversized_digest": None, "document_refs": []}
ADDED_SINCE_V1 = {**ADDED_IN_V2, **ADDED_IN_V3}


def versions() -> tuple[dict, dict]:
    v3 = SchemaSet(PROJECT_ROOT / "schemas")["fr.passerelle.audit.AuditRecord"].source
    v2 = copy.deepcopy(v3)
    v2["version"] = 2
    v2["fields"] = [f for f in v2["fields"] if f["name"] not in ADDED_IN_V3]
    v1 = copy.deepcopy(v2)
    v1["version"] = 1
    v1["fields"] = [f for f in v1["fields"] if f["name"] not in ADDED_SINCE_V1]
    return v1, v2


def test_version_2_only_adds_fields_with_defaults():
    v1, v2 = versions()
    assert v2["version"] == 2
    added = [f for f in v2["fields"] if f["name"] in ADDED_SINCE_V1]
    assert {f["name"]: f["default"] for f in added} == ADDED_IN_V2
    assert [f["name"] for f in v2["fields"][:len(v1["fields"])]] == [f["name"] for f in v1["fields"]]


def test_version_3_only_adds_fields_with_defaults_at_the_end_and_reads_v2():
    v3 = SchemaSet(PROJECT_ROOT / "schemas")["fr.passerelle.audit.AuditRecord"].source
    _, v2 = versions()
    assert v3["version"] == 3
    assert {f["name"]: f["default"] for f in v3["fields"][len(v2["fields"]):]} == ADDED_IN_V3
    result = ReaderWriterCompatibilityChecker().get_compatibility(parse(json.dumps(v3)), parse(json.dumps(v2)))
    assert result.compatibility is SchemaCompatibilityType.compatible


def test_the_reference_checker_finds_v2_can_read_v1():
    v1, v2 = versions()
    result = ReaderWriterCompatibilityChecker().get_compatibility(parse(json.dumps(v2)), parse(json.dumps(v1)))
    assert result.compatibility is SchemaCompatibilityType.compatible


def test_a_v1_record_reads_back_with_the_v2_defaults():
    v1, v2 = versions()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    record = {"envelope": {"event_id": "e", "event_type": "fr.passerelle.audit.AuditRecord", "schema_version": 1,
                           "correlation_id": "c", "causation_id": None, "occurred_at": when, "producer": "audit"},
              "action": "PS_REQUESTED", "outcome": "SUCCESS", "reason_code": None, "hp": None,
              "patient": {"country": "PT", "patient_id": "X"}, "purpose": "TREATMENT", "source_topic": "t",
              "source_event_id": "s", "source_event_type": "x", "source_occurred_at": when, "request_origin": None}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(v1), record)
    buf.seek(0)
    read = fastavro.schemaless_reader(buf, fastavro.parse_schema(v1), fastavro.parse_schema(v2))
    assert read == {**record, **ADDED_IN_V2}
