"""The audit service decodes events without their clinical content (``NOT_AUDITED``): Avro skips
those bytes. Its audit records are the same as from the whole events."""

from __future__ import annotations

import json

from services.audit.handlers import NOT_AUDITED, audit_record
from passerelle import PROJECT_ROOT
from passerelle.documents import pack
from passerelle.events import PS_RETRIEVED
from passerelle.processor import Incoming
from passerelle.runtime import make_serde
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_patient_summary

from tests.integration.conftest import patient_summary_request


def test_the_audit_reads_outcomes_and_documents_without_their_content_and_records_the_same():
    serde = make_serde(Settings())
    audit_serde = serde.reading_without(NOT_AUDITED)
    request = patient_summary_request()
    encoding, content = pack((PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes())
    retrieved = {"envelope": request["envelope"], "hp": request["hp"], "patient": request["patient"],
                 "purpose": "TREATMENT", "error": None,
                 "document": {"format": "CDA", "language": "pt-PT", "content": content, "encoding": encoding}}
    [outcome] = translate_patient_summary(Incoming("t", PS_RETRIEVED, retrieved), Topics(),
                                          Catalogue.load(PROJECT_ROOT / "data" / "catalogue"))
    for event_type, event in ((PS_RETRIEVED, retrieved), (outcome.event_type, outcome.record)):
        data = serde.encode(event_type, event)
        whole, light = serde.decode(data), audit_serde.decode(data)
        assert light[0] == whole[0] and set(whole[1]) - set(light[1]) == NOT_AUDITED & set(whole[1]) != set()
        assert {k: v for k, v in whole[1].items() if k not in NOT_AUDITED} == light[1]
        records = [audit_record(Incoming("t", *decoded)) for decoded in (light, whole)]
        for record in records:
            del record["envelope"]["event_id"], record["envelope"]["occurred_at"]  # new for each record
        assert records[0] == records[1] and records[0]["action"] in ("PS_RETRIEVED", "PS_OUTCOME")
    assert serde.omitted == frozenset()  # the serde it was made from still reads whole events


def test_a_field_whose_type_a_kept_field_uses_cannot_be_skipped_and_the_event_is_read_whole(tmp_path):
    envelope = {"type": "record", "name": "Envelope", "fields": [
        {"name": n, "type": t} for n, t in (("event_type", "string"), ("schema_version", "int"))]}
    code = {"type": "record", "name": "Code", "fields": [{"name": "value", "type": "string"}]}
    (tmp_path / "t.Event.avsc").write_text(json.dumps({
        "type": "record", "name": "Event", "namespace": "t", "version": 1,
        "fields": [{"name": "envelope", "type": envelope}, {"name": "summary", "type": code},
                   {"name": "other", "type": "Code"}]}))
    serde = AvroSerde(SchemaSet(tmp_path, released=tmp_path / "none"))
    data = serde.encode("t.Event", {"envelope": {}, "summary": {"value": "x"}, "other": {"value": "y"}})
    assert serde.reading_without(frozenset({"summary"})).decode(data)[1]["summary"] == {"value": "x"}
