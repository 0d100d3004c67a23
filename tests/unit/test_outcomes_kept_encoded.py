"""The gateway reads a Patient Summary outcome's head as it comes (its summary's body skipped), keeps
the record's bytes, and decodes the whole outcome when a professional asks for the answer: the answer
is the same as from the event decoded whole, the dashboard still counts the coded elements, other
event types are read whole, and an outcome whose skipped part cannot be read answers
``OUTCOME_UNREADABLE`` instead of failing the call."""

from __future__ import annotations

import json
from collections import namedtuple
from datetime import datetime, timezone

import pytest

from passerelle import PROJECT_ROOT
from passerelle.documents import pack
from passerelle.events import IDENTIFICATION_OUTCOME, PS_OUTCOME
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import Settings
from services.gateway.dashboard.tracker import StreamWatch
from services.gateway.follower import Follower
from services.gateway.summaries.rules import status_json
from services.gateway.summaries.tracker import RequestTracker
from services.translation.catalogue import Catalogue
from services.translation.handlers import translate_document

SERDE = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
Record = namedtuple("Record", "topic partition offset value")  # what the follower reads of a Kafka record
HP = {"rpps": "10001234565", "profession": "DOCTOR", "organisation": "Cabinet", "auth_method": "PSC",
      "assertion_issued_at": 0}
TITLE = "Liste des problèmes"  # a section title of the translated PT summary, in the skipped body


@pytest.fixture(scope="module")
def outcome() -> dict:
    encoding, content = pack((PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes())
    summary, err = translate_document({"format": "CDA", "language": "pt-PT", "encoding": encoding, "content": content},
                                      Catalogue.load(PROJECT_ROOT / "data" / "catalogue"))
    assert TITLE in json.dumps([s["title"] for s in summary["sections"]], ensure_ascii=False)
    return {"envelope": {"event_id": "e-1", "event_type": PS_OUTCOME, "schema_version": 0, "correlation_id": "r-1",
                         "causation_id": None, "occurred_at": datetime.now(timezone.utc), "producer": "translation"},
            "hp": HP, "patient": {"country": "PT", "patient_id": "193857264"}, "status": "COMPLETED", "error": err,
            "summary": summary}


def follow(*values: bytes) -> tuple[RequestTracker, StreamWatch]:
    settings = Settings(topic_prefix="p")
    tracker, watch = RequestTracker(100, 3600, SERDE.record), StreamWatch(settings)
    follower = Follower(settings, SERDE, [tracker, watch])
    for offset, value in enumerate(values):
        follower.apply(Record("p.ps.outcomes.v1", 0, offset, value))
    return tracker, watch


def test_the_answer_is_the_one_of_the_outcome_decoded_whole(outcome):
    data = SERDE.encode(PS_OUTCOME, outcome)
    tracker, watch = follow(data)
    tracked = tracker.lookup("r-1", HP["rpps"])
    assert tracked.encoded_outcome == data  # the record's bytes, not a decoded copy
    assert status_json("r-1", tracker.outcome(tracked)) == status_json("r-1", SERDE.decode(data)[1])
    assert json.loads(status_json("r-1", tracker.outcome(tracked)))["summary"]["sections"]
    coded = watch.requests.countries["PT"]  # the dashboard's coverage counts come from the head
    assert (coded.coded_elements, coded.translated_elements) == (outcome["summary"]["coded_elements"],
                                                                 outcome["summary"]["translated_elements"])


def test_the_follower_skips_the_summary_body_of_outcomes_only(outcome):
    follower = Follower(Settings(topic_prefix="p"), SERDE, [])
    _, head = follower.serde.decode(SERDE.encode(PS_OUTCOME, outcome))
    assert set(head["summary"]) >= {"coded_elements", "translated_elements", "translated", "format"}
    assert not {"sections", "document", "missing_sections", "embedded_documents"} & set(head["summary"])
    identification = {"envelope": {**outcome["envelope"], "event_type": IDENTIFICATION_OUTCOME}, "hp": HP,
                      "patient": outcome["patient"], "status": "MATCHED", "error": None,
                      "mapped_patient": {"country": "PT", "patient_id": "193857264"}, "fields": []}
    _, whole = follower.serde.decode(SERDE.encode(IDENTIFICATION_OUTCOME, identification))
    assert whole["mapped_patient"] == identification["mapped_patient"]


def test_an_outcome_whose_skipped_body_is_unreadable_answers_outcome_unreadable(outcome):
    data = SERDE.encode(PS_OUTCOME, outcome)
    title = TITLE.encode()
    assert data.count(title) == 1
    corrupt = data.replace(title, b"\xff" * len(title))  # same length: the head still reads
    tracker, _ = follow(corrupt)
    answer = json.loads(status_json("r-1", tracker.outcome(tracker.lookup("r-1", HP["rpps"]))))
    assert answer["status"] == "failed" and answer["error"]["code"] == "OUTCOME_UNREADABLE"
    assert answer["error"]["message"].startswith("La réponse à cette demande est illisible")
