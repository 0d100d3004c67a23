"""Output event ids derived from the consumed event's id: handling an event twice (a redelivery
after a crash between produce and commit) produces the same events, recognisably."""

from __future__ import annotations

import uuid

from passerelle.envelope import DERIVED_EVENT_IDS, caused_by, derived_event_ids
from passerelle.events import PS_REQUESTED
from passerelle.processor import Incoming
from passerelle.settings import Settings
from passerelle.topics import Topics
from services.consent.handlers import decide_patient_summary
from services.consent.settings import consent_rules

from tests.integration.conftest import patient_summary_request

TOPICS = Topics("p")


def handled_twice(request: dict, rules) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
    """The consent service's outputs for ``request``, handled twice as after a redelivery."""
    runs = []
    for _ in range(2):
        emits = list(decide_patient_summary(Incoming(TOPICS.ps_requested, PS_REQUESTED, request), TOPICS, rules,
                                            request["hp"]["assertion_issued_at"]))
        runs.append([(e.event_type, e.record) for e in emits])
    return runs[0], runs[1]


def ids(records: list[dict]) -> list[str]:
    return [r["envelope"]["event_id"] for r in records]


def test_a_redelivered_event_gives_outputs_with_the_same_ids_and_their_causation_kept(tmp_path):
    rules = consent_rules(Settings(state_dir=tmp_path))
    request = patient_summary_request(confirmed=False)  # a denial: the decision, and the outcome it causes
    first, second = handled_twice(request, rules)
    assert ids(r for _, r in first) != ids(r for _, r in second)  # as handled: uuid4, different each time
    cause = request["envelope"]["event_id"]
    once, again = derived_event_ids(cause, "consent", first), derived_event_ids(cause, "consent", second)
    assert ids(once) == ids(again)
    assert len(set(ids(once))) == len(once) == 2
    assert ids(once) == [str(uuid.uuid5(DERIVED_EVENT_IDS, f"{cause}/consent/{t}/0")) for t, _ in first]  # RFC 4122
    decision, outcome = once
    assert decision["envelope"]["causation_id"] == cause  # the consumed event: unchanged
    assert outcome["envelope"]["causation_id"] == decision["envelope"]["event_id"]  # its sibling's new id
    assert {r["envelope"]["correlation_id"] for r in once} == {request["envelope"]["correlation_id"]}
    assert ids(r for _, r in first) != ids(once)  # the handler's records were copied, not modified


def test_different_events_services_and_outputs_of_one_type_get_different_ids():
    request = patient_summary_request()
    outputs = [("T", {"envelope": caused_by(request, "s"), "n": n}) for n in range(3)]
    same = derived_event_ids("e1", "s", outputs)
    assert len(set(ids(same))) == 3  # three outputs of one type: ranked
    assert set(ids(same)).isdisjoint(ids(derived_event_ids("e2", "s", outputs)))  # another consumed event
    assert set(ids(same)).isdisjoint(ids(derived_event_ids("e1", "other", outputs)))  # another service
    assert [r["n"] for r in same] == [0, 1, 2]


def test_an_output_that_copies_the_consumed_envelope_gets_its_own_id_and_a_record_without_one_passes():
    request = patient_summary_request()
    cause = request["envelope"]["event_id"]
    copied, sibling = derived_event_ids(cause, "s", [("A", {"envelope": dict(request["envelope"])}),
                                                     ("B", {"envelope": caused_by(request, "s")})])
    assert copied["envelope"]["event_id"] != cause
    assert sibling["envelope"]["causation_id"] == cause  # still names the consumed event
    assert derived_event_ids(cause, "s", [("C", {"no": "envelope"})]) == [{"no": "envelope"}]
