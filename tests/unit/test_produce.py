"""`passerelle produce` checks every record against the Avro schema before anything is sent."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from passerelle.events import CONSENT_DECISION, PS_OUTCOME, PS_QUERY, PS_REQUESTED
from passerelle.produce import EVENT_TOPICS, destination, prepare
from passerelle.topics import Topics
from tests.integration.conftest import patient_summary_request



def jsonable(event: dict) -> dict:
    return json.loads(json.dumps(event, default=lambda v: int(v.timestamp() * 1000)))


def test_a_valid_record_gets_its_envelope_filled(serde):
    record = jsonable(patient_summary_request())
    del record["envelope"]
    ready, problems = prepare(json.dumps(record), serde.schemas[PS_REQUESTED], "hospital-x")
    assert problems == []
    envelope = ready[0].event["envelope"]
    assert envelope["producer"] == "hospital-x" and envelope["correlation_id"] == envelope["event_id"]
    assert envelope["event_type"] == PS_REQUESTED and isinstance(envelope["occurred_at"], datetime)
    assert serde.decode(serde.encode(PS_REQUESTED, ready[0].event))[1]["patient"] == record["patient"]


def test_every_problem_of_every_record_is_reported_with_line_path_and_expectation(serde):
    good = jsonable(patient_summary_request())
    bad = {**good, "hp": {**good["hp"], "rpps": 10001234565}, "patient": {"country": "PT"},
           "purpose": "CURIOSITY", "colour": "blue"}
    text = "\n".join([json.dumps(good), "", json.dumps(bad), "{not json", "[1]"])
    ready, problems = prepare(text, serde.schemas[PS_REQUESTED], "p")
    assert [r.record for r in ready] == [1]
    assert [str(p) for p in problems] == [
        "record 2 (line 3): colour: unknown field (not in fr.passerelle.ps.PatientSummaryRequested)",
        "record 2 (line 3): hp.rpps: expected string, got integer",
        "record 2 (line 3): patient.patient_id: required field missing",
        "record 2 (line 3): purpose: expected one of TREATMENT, EMERGENCY",
        "record 3 (line 4): <record>: not JSON: Expecting property name enclosed in double quotes (column 2)",
        "record 4 (line 5): <record>: expected a JSON object, got array",
    ]


def test_messages_never_repeat_the_invalid_value(serde):
    record = jsonable(patient_summary_request(patient_id="SECRET-ID-42"))
    record["patient"]["patient_id"] = ["SECRET-ID-42"]
    _, problems = prepare(json.dumps(record), serde.schemas[PS_REQUESTED], "p")
    assert [str(p) for p in problems] == ["record 1 (line 1): patient.patient_id: expected string, got array"]


def test_timestamps_unions_bytes_and_nested_arrays_follow_the_documented_json_conventions(serde):
    outcome = {"hp": jsonable(patient_summary_request())["hp"], "patient": {"country": "PT", "patient_id": "x"},
               "envelope": {"occurred_at": "2026-11-22T04:00:00Z", "correlation_id": "req-1"},
               "status": "COMPLETED", "error": None,
               "summary": {"language": "fr-FR", "format": "CDA", "translated": True, "document": "PGE+PC9hPg==",
                           "sections": [{"code": None, "title": "Allergies", "title_translated": True,
                                         "entries": [{"display": None, "original": "x", "code": None,
                                                      "translated": "no"}]}]}}
    ready, problems = prepare(json.dumps([outcome]), serde.schemas[PS_OUTCOME], "p")
    assert [str(p) for p in problems] == ["record 1: summary.sections[0].entries[0].translated: expected boolean, got string"]
    outcome["summary"]["sections"][0]["entries"][0]["translated"] = False
    (item,), problems = prepare(json.dumps([outcome]), serde.schemas[PS_OUTCOME], "p")
    assert problems == []
    assert item.event["summary"]["document"] == b"<a></a>"
    assert item.event["envelope"]["occurred_at"] == datetime(2026, 11, 22, 4, tzinfo=timezone.utc)
    assert item.event["envelope"]["correlation_id"] == "req-1"
    outcome["summary"]["document"] = "not base64!"
    outcome["envelope"]["occurred_at"] = "2026-11-22T04:00:00"  # no time zone
    _, problems = prepare(json.dumps([outcome]), serde.schemas[PS_OUTCOME], "p")
    assert [p.path for p in problems] == ["envelope.occurred_at", "summary.document"]


def test_an_envelope_naming_another_event_type_is_refused(serde):
    record = jsonable(patient_summary_request())
    record["envelope"]["event_type"] = CONSENT_DECISION
    _, problems = prepare(json.dumps(record), serde.schemas[PS_REQUESTED], "p")
    assert [p.path for p in problems] == ["envelope.event_type"]


def test_topics_and_keys_follow_the_services(serde):
    topics = Topics("x")
    request = patient_summary_request(country="BE")
    assert destination(request, PS_REQUESTED, topics, None) == (topics.ps_requested, request["envelope"]["correlation_id"].encode())
    assert destination(request, PS_QUERY, topics, None)[0] == topics.ncp_outbound("BE")
    assert destination(request, PS_REQUESTED, topics, "audit_reads")[0] == topics.audit_reads
    with pytest.raises(ValueError, match="no topic 'nope'"):
        destination(request, PS_REQUESTED, topics, "nope")
    assert set(EVENT_TOPICS) == set(serde.schemas.by_name)  # every event type has a home topic


def test_a_union_of_several_types_is_refused_rather_than_guessed():
    from passerelle.produce import convert

    problems: list = []
    convert({"x": 1}, {"type": "record", "name": "R", "fields": [{"name": "x", "type": ["null", "int", "string"]}]},
            {}, "", problems)
    assert problems == [("x", "unions of several non-null types are not supported by produce")]
