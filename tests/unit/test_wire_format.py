"""The wire format, pinned byte for byte: Avro single-object encoding and Confluent framing."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

import pytest

from passerelle.serde import AvroSerde, DecodeError, SchemaSet

from tests.conftest import PROJECT_ROOT

ENVELOPE = {"event_id": "e1", "event_type": "", "schema_version": 0, "correlation_id": "c1",
            "causation_id": None, "occurred_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            "producer": "p"}
PATIENT = {"country": "PT", "patient_id": "X"}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_crc64_avro_fingerprint_matches_the_avro_specification():
    # The Avro reference fingerprint of the schema "int" is 0x7275d51a3f395c8f; on the wire
    # single-object encoding stores it little-endian after the marker C3 01.
    from fastavro.schema import fingerprint
    assert bytes.fromhex(fingerprint('"int"', "CRC-64-AVRO")) == struct.pack("<Q", 0x7275D51A3F395C8F)


def test_single_object_encoding_is_pinned_byte_for_byte(serde):
    record = {"envelope": dict(ENVELOPE), "action": "A", "outcome": "SUCCESS", "reason_code": None, "hp": None,
              "patient": PATIENT, "purpose": None, "source_topic": "t", "source_event_id": "s",
              "source_event_type": "x", "source_occurred_at": EPOCH, "request_origin": None}
    data = serde.encode("fr.passerelle.audit.AuditRecord", record)
    schema = serde.schemas["fr.passerelle.audit.AuditRecord"]
    assert data[:2] == b"\xc3\x01"
    # AuditRecord version 3 (issue 5 added four defaulted fields, issue 20 two more, issue 18 the
    # oversized digest, issue 23 the document references): a new fingerprint, on purpose.
    assert data[2:10] == schema.fingerprint == bytes.fromhex("c45cb7298770cb0a")
    # 2026-01-02T03:04:05Z = 1767323045000 ms, zigzag varint 90 B2 CC CA EF 66
    envelope = (b"\x04e1" + b"\x3efr.passerelle.audit.AuditRecord" + b"\x06" + b"\x04c1" + b"\x00"
                + b"\x90\xb2\xcc\xca\xef\x66" + b"\x02p")
    body = (envelope + b"\x02A" + b"\x00" + b"\x00" + b"\x00" + b"\x02" + b"\x04PT\x02X" + b"\x00"
            + b"\x02t" + b"\x02s" + b"\x02x" + b"\x00" + b"\x00"
            + b"\x00" + b"\x00" + b"\x00" + b"\x00"  # v2: point_of_care, mapped_patient, causation null; access false
            + b"\x00" + b"\x00" + b"\x00"  # v3: hp_country, document_id, oversized_digest null
            + b"\x00")  # v3: no document references (an empty array)
    assert data[10:] == body
    assert serde.decode(data) == ("fr.passerelle.audit.AuditRecord", {**record, "envelope": {
        **ENVELOPE, "event_type": "fr.passerelle.audit.AuditRecord", "schema_version": 3},
        "point_of_care": None, "mapped_patient": None, "source_causation_id": None, "patient_access": False,
        "hp_country": None, "document_id": None, "oversized_digest": None, "document_refs": []})


def test_confluent_framing_is_magic_zero_then_big_endian_schema_id(serde):
    name = "fr.passerelle.audit.AuditRecord"
    confluent = AvroSerde(serde.schemas, registry_ids={name: 258},
                          registry_lookup=lambda i: serde.schemas[name].source)
    record = {"envelope": dict(ENVELOPE), "action": "A", "outcome": "DENIED", "reason_code": "R", "hp": None,
              "patient": None, "purpose": "TREATMENT", "source_topic": "t", "source_event_id": "s",
              "source_event_type": "x", "source_occurred_at": EPOCH, "request_origin": None}
    data = confluent.encode(name, record)
    assert data[:5] == b"\x00\x00\x00\x01\x02"
    single = serde.encode(name, dict(record, envelope=dict(ENVELOPE)))
    assert data[5:] == single[10:]  # same Avro body, different framing
    assert confluent.decode(data)[1]["reason_code"] == "R"


@pytest.mark.parametrize("data, reason", [
    (b"", "too short"),
    (b"\xc3\x01\x00\x00\x00\x00\x00\x00\x00\x00", "unknown schema fingerprint"),
    (b'{"json": true}', "unknown framing"),
])
def test_undecodable_bytes_raise_a_decode_error_with_the_reason(serde, data, reason):
    with pytest.raises(DecodeError, match=reason):
        serde.decode(data)


def test_truncated_body_is_a_decode_error(serde):
    data = serde.encode("fr.passerelle.audit.AuditRecord", {
        "envelope": dict(ENVELOPE), "action": "A", "outcome": "SUCCESS", "source_topic": "t",
        "source_event_id": "s", "source_event_type": "x", "source_occurred_at": EPOCH})
    with pytest.raises(DecodeError, match="invalid Avro body"):
        serde.decode(data[:-8])


def test_schema_set_lists_every_event_schema():
    names = set(SchemaSet(PROJECT_ROOT / "schemas").by_name)
    assert names == {
        "fr.passerelle.ps.PatientSummaryRequested", "fr.passerelle.consent.ConsentDecision",
        "fr.passerelle.ncp.PatientSummaryQuery", "fr.passerelle.ncp.PatientSummaryRetrieved",
        "fr.passerelle.ps.PatientSummaryOutcome", "fr.passerelle.audit.AuditRecord",
        "fr.passerelle.consent.ConsentDirective", "fr.passerelle.security.AuthenticationFailed",
        "fr.passerelle.security.SecurityAlert",
        "fr.passerelle.audit.PatientAccessNotified", "fr.passerelle.audit.AuditTrailRead",
        "fr.passerelle.ep.PrescriptionsRequested", "fr.passerelle.ep.PrescriptionQuery",
        "fr.passerelle.ep.PrescriptionsRetrieved", "fr.passerelle.ep.PrescriptionListOutcome",
        "fr.passerelle.ep.PrescriptionObserved", "fr.passerelle.ep.PrescriptionState",
        "fr.passerelle.ep.DispensationRequested", "fr.passerelle.ep.DispensationDiscardRequested",
        "fr.passerelle.ep.DispensationSubmitted", "fr.passerelle.ep.DispensationAnswered",
        "fr.passerelle.identification.PatientIdentificationRequested",
        "fr.passerelle.identification.PatientIdentificationQuery",
        "fr.passerelle.identification.PatientIdentificationOutcome",
        "fr.passerelle.crossborder.CrossBorderRequested", "fr.passerelle.crossborder.CrossBorderDecision",
        "fr.passerelle.crossborder.CrossBorderIdentificationOutcome", "fr.passerelle.crossborder.CrossBorderSummaryOutcome",
        "fr.passerelle.orcd.OriginalDocumentsRequested", "fr.passerelle.orcd.OriginalDocumentsQuery",
        "fr.passerelle.orcd.OriginalDocumentsRetrieved", "fr.passerelle.orcd.OriginalDocumentsOutcome",
        "fr.passerelle.orcd.OriginalDocumentOpened"}


def test_an_event_written_with_a_released_older_version_still_decodes(tmp_path):
    """Without a registry, the fingerprints of schemas-released/ name older writers (ADR 30)."""
    import json
    import shutil

    from passerelle.schema_history import snapshot

    name = "fr.passerelle.audit.AuditRecord"
    schemas, released = tmp_path / "schemas", tmp_path / "released"
    shutil.copytree(PROJECT_ROOT / "schemas", schemas)
    old = AvroSerde(SchemaSet(schemas, released))
    snapshot(old.schemas, released)
    path = schemas / f"{name}.avsc"
    schema = json.loads(path.read_text())
    schema["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    schema["version"] += 1
    path.write_text(json.dumps(schema))
    new = AvroSerde(SchemaSet(schemas, released))

    record = {"envelope": dict(ENVELOPE), "action": "A", "outcome": "SUCCESS", "reason_code": None, "hp": None,
              "patient": None, "purpose": None, "source_topic": "t", "source_event_id": "s",
              "source_event_type": "x", "source_occurred_at": EPOCH, "request_origin": None}
    data = old.encode(name, record)
    assert data[2:10] != new.schemas[name].fingerprint
    decoded_name, decoded = new.decode(data)
    assert decoded_name == name and decoded["note"] is None and decoded["action"] == "A"
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        AvroSerde(SchemaSet(schemas, tmp_path / "nothing-released")).decode(data)


def test_an_id_the_registry_cannot_resolve_now_is_not_a_decode_error(serde):
    """A registry refusing or unreachable says nothing about the record: RegistryUnavailable (the
    reader waits), not DecodeError (dead letter); an id looked up at start is read locally."""
    from passerelle.serde import RegistryUnavailable

    name = "fr.passerelle.audit.AuditRecord"

    def refused(schema_id):
        raise RegistryUnavailable("credentials_refused")

    writer = AvroSerde(serde.schemas, registry_ids={name: 7}, registry_lookup=refused)
    record = {"envelope": dict(ENVELOPE), "action": "A", "outcome": "DENIED", "reason_code": "R", "hp": None,
              "patient": None, "purpose": "TREATMENT", "source_topic": "t", "source_event_id": "s",
              "source_event_type": "x", "source_occurred_at": EPOCH, "request_origin": None}
    data = writer.encode(name, record)
    assert writer.decode(data)[0] == name  # id 7 was looked up at start: no registry call
    reader = AvroSerde(serde.schemas, registry_ids={}, registry_lookup=refused)  # never looked 7 up
    with pytest.raises(RegistryUnavailable):
        reader.decode(data)
