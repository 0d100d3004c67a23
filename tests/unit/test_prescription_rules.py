"""Rules of ePrescription / eDispensation without a broker: reading country A's prescriptions, the
quantity and substitution checks, the prescription state machine (queue, duplicates, discards), the
eDispensation document, and a property test of the quantity arithmetic against country A's ledger."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from lxml import etree

from passerelle import PROJECT_ROOT
from passerelle.envelope import new_envelope
from passerelle.eprescription import add_lines, dispense_refusal, prescription_status, read_eprescription
from passerelle.processor import Emit, Incoming
from passerelle.topics import Topics
from services.foreign_ncp.prescriptions import Ledger, answer_dispensation
from services.prescription.handlers import handle
from tests.prescription_flow import prescription_flow

FI_DOC = PROJECT_ROOT / "data" / "ncp" / "FI" / "140772-946S" / "ep" / "FI-EP-1001.xml"
TOPICS = Topics("p")
HP = {"rpps": "10002000007", "profession": "21", "organisation": "750000001", "auth_method": "CPS",
      "assertion_issued_at": 0}
PATIENT = {"country": "FI", "patient_id": "FI-TEST-1"}


def item(item_id="i1", quantity=3, substitution="G", dispensable=True) -> dict:
    term = {"code": None, "system": None, "original": None, "french": None}
    return {"item_id": item_id, "product": {**term, "code": "P1", "system": "1.2.3", "original": "Produit"},
            "ingredients": [], "dose_form": term, "route": term, "package": term, "package_size": None,
            "quantity": quantity, "dosage": None, "substitution": substitution, "dispensable": dispensable}


def prescription(*items) -> dict:
    return {"prescription_id": "1.2.3^RX-1", "language": "fi-FI", "items": list(items) or [item()]}


def line(item_id="i1", quantity=1, substitution=None) -> dict:
    return {"item_id": item_id, "quantity": quantity, "substitution": substitution, "product_code": None, "product_name": None}


def test_country_a_prescription_is_read_with_every_field_the_pharmacist_needs():
    p = read_eprescription(FI_DOC.read_bytes())
    assert p["prescription_id"] == "1.2.246.10.999.3^FI-EP-1001" and p["language"] == "fi-FI"
    metformin, insulin = p["items"]
    assert metformin["ingredients"][0]["substance"]["code"] == "A10BA02"
    assert metformin["ingredients"][0]["strength"] == "500 mg"
    assert (metformin["dose_form"]["code"], metformin["route"]["code"], metformin["package"]["code"]) == (
        "10219000", "20053000", "30007000")
    assert (metformin["quantity"], metformin["substitution"], metformin["dispensable"]) == (3, "G", True)
    assert metformin["dosage"].startswith("1 tabletti")
    assert insulin["substitution"] == "N" and insulin["product"]["code"] == "054321"


def test_a_suspended_item_is_not_dispensable():
    p = read_eprescription((FI_DOC.parent / "FI-EP-1002.xml").read_bytes())
    assert [i["dispensable"] for i in p["items"]] == [False]
    assert prescription_status(p, {}) == "NOT_DISPENSABLE"


@pytest.mark.parametrize("lines, dispensed, country, code", [
    ([line()], {}, "FR", "PRESCRIPTION_FROM_FRANCE"),
    ([], {}, "FI", "DISPENSE_LINE_INVALID"),
    ([line("nope")], {}, "FI", "DISPENSE_LINE_INVALID"),
    ([line(), line()], {}, "FI", "DISPENSE_LINE_INVALID"),
    ([line(quantity=0)], {}, "FI", "DISPENSE_LINE_INVALID"),
    ([line("i2")], {}, "FI", "PRESCRIPTION_NOT_DISPENSABLE"),
    ([line(substitution="TE")], {}, "FI", "SUBSTITUTION_NOT_ALLOWED"),
    ([line("i3", substitution="G")], {}, "FI", "SUBSTITUTION_NOT_ALLOWED"),
    ([line(quantity=4)], {}, "FI", "QUANTITY_EXCEEDED"),
    ([line(quantity=2)], {"i1": 2}, "FI", "QUANTITY_EXCEEDED"),
    ([line(quantity=1)], {"i1": 2}, "FI", None),
    ([line(substitution="G"), line("i3", 1)], {}, "FI", None),
    ([line("i4", 1, "TE")], {}, "FI", None),
    ([line("i4", 1, "G")], {}, "FI", None),
])
def test_dispense_rules(lines, dispensed, country, code):
    p = prescription(item("i1", 3, "G"), item("i2", dispensable=False), item("i3", 2, "N"), item("i4", 1, "TE"))
    assert dispense_refusal(p, dispensed, lines, country) == code


def test_the_whole_flow_through_the_handlers_ends_discarded_with_nothing_dispensed(tmp_path):
    emits = prescription_flow(tmp_path)
    states = [e.record for e in emits if e.event_type == "fr.passerelle.ep.PrescriptionState"]
    assert [s["dispensations"][0]["status"] for s in states if s["dispensations"]] == [
        "SUBMITTED", "ACKNOWLEDGED", "DISCARD_SUBMITTED", "DISCARDED"]
    assert states[-1]["dispensed"] == {"FI-EP-1001.1": 0} and states[-1]["status"] == "DISPENSABLE"
    outcome = next(e.record for e in emits if e.event_type == "fr.passerelle.ep.PrescriptionListOutcome")
    assert outcome["status"] == "COMPLETED" and len(outcome["prescriptions"]) == 2
    metformin = outcome["prescriptions"][0]["items"][0]
    assert metformin["ingredients"][0]["substance"]["french"] == "metformine"
    assert metformin["dose_form"]["french"] == "Comprimé" and metformin["route"]["french"] == "Voie orale"
    submitted = [e for e in emits if e.event_type == "fr.passerelle.ep.DispensationSubmitted"]
    assert [s.topic for s in submitted] == ["p.ncp.fi.outbound.v1"] * 2
    assert {s.key for s in submitted} == {b"1.2.246.10.999.3^FI-EP-1001"}
    document = etree.fromstring(submitted[0].record["document"])
    ns = {"h": "urn:hl7-org:v3"}
    assert document.xpath("string(h:code/@code)", namespaces=ns) == "60593-1"
    assert document.xpath("string(h:relatedDocument/h:parentDocument/h:id/@extension)", namespaces=ns) == "FI-EP-1001"
    assert document.xpath("string(//h:supply[@moodCode='EVN']/h:quantity/@value)", namespaces=ns) == "1"
    answers = [e.record for e in emits if e.event_type == "fr.passerelle.ep.DispensationAnswered"]
    assert [(a["kind"], a["accepted"]) for a in answers] == [("DISPENSE", True), ("DISCARD", True)]


# --- the state machine, driven event by event ---------------------------------------------------

def observed(p: dict | None = None) -> Incoming:
    return Incoming("c", "fr.passerelle.ep.PrescriptionObserved",
                    {"envelope": new_envelope("t"), "hp": HP, "patient": PATIENT, "prescription": p or prescription()})


def dispense(dispensation_id: str, *lines) -> Incoming:
    return Incoming("c", "fr.passerelle.ep.DispensationRequested",
                    {"envelope": new_envelope("gateway", dispensation_id), "hp": HP, "patient": PATIENT,
                     "dispensation_id": dispensation_id, "prescription_id": "1.2.3^RX-1", "lines": list(lines),
                     "request_origin": None})


def discard(dispensation_id: str) -> Incoming:
    return Incoming("c", "fr.passerelle.ep.DispensationDiscardRequested",
                    {"envelope": new_envelope("gateway", dispensation_id), "hp": HP, "patient": PATIENT,
                     "dispensation_id": dispensation_id, "prescription_id": "1.2.3^RX-1", "request_origin": None})


def as_incoming(emit: Emit) -> Incoming:
    return Incoming(emit.topic, emit.event_type, copy.deepcopy(emit.record))


def statuses(states) -> dict[str, str]:
    return {d["dispensation_id"]: d["status"] for d in states["1.2.3^RX-1"]["dispensations"]}


def test_a_second_dispense_waits_for_the_first_acknowledgement_and_cannot_exceed_the_quantity():
    states, ledger = {}, Ledger(prescriptions={"1.2.3^RX-1": prescription()})
    list(handle(observed(), TOPICS, states))
    [first, _] = handle(dispense("d1", line(quantity=2)), TOPICS, states)
    [_] = handle(dispense("d2", line(quantity=2)), TOPICS, states)  # a second pharmacy, at once
    assert statuses(states) == {"d1": "SUBMITTED", "d2": "QUEUED"}
    [answer] = answer_dispensation(first.record, ledger, TOPICS)
    emits = list(handle(as_incoming(answer), TOPICS, states))
    assert statuses(states) == {"d1": "ACKNOWLEDGED", "d2": "REJECTED"}  # 2 + 2 > 3: checked only after d1's ack
    rejection = next(e for e in emits if e.event_type == "fr.passerelle.ep.DispensationAnswered")
    assert rejection.record["error"]["code"] == "QUANTITY_EXCEEDED"
    assert states["1.2.3^RX-1"]["dispensed"] == {"i1": 2} and states["1.2.3^RX-1"]["status"] == "PARTLY_DISPENSED"


def test_duplicates_never_count_twice():
    states, ledger = {}, Ledger(prescriptions={"1.2.3^RX-1": prescription()})
    listing = observed()
    list(handle(listing, TOPICS, states))
    assert list(handle(listing, TOPICS, states)) == []  # a redelivered listing changes nothing
    request = dispense("d1", line(quantity=1))
    [submitted, _] = handle(request, TOPICS, states)
    assert list(handle(request, TOPICS, states)) == []  # redelivered request
    [answer] = answer_dispensation(submitted.record, ledger, TOPICS)
    [again] = answer_dispensation(submitted.record, ledger, TOPICS)  # redelivered to country A
    assert again.record["accepted"] and ledger.dispensed["1.2.3^RX-1"] == {"i1": 1}
    list(handle(as_incoming(answer), TOPICS, states))
    assert list(handle(as_incoming(again), TOPICS, states)) == []  # redelivered answer
    assert states["1.2.3^RX-1"]["dispensed"] == {"i1": 1}


def test_a_queued_dispensation_discarded_is_never_sent():
    states = {}
    list(handle(observed(), TOPICS, states))
    list(handle(dispense("d1", line()), TOPICS, states))
    list(handle(dispense("d2", line()), TOPICS, states))
    emits = list(handle(discard("d2"), TOPICS, states))
    assert [e.event_type for e in emits] == ["fr.passerelle.ep.PrescriptionState"]
    assert statuses(states) == {"d1": "SUBMITTED", "d2": "DISCARDED"} and states["1.2.3^RX-1"]["queue"] == []


def test_a_dispense_of_an_unknown_or_french_prescription_is_rejected():
    states = {}
    [answer] = handle(dispense("d1", line()), TOPICS, states)
    assert answer.record["error"]["code"] == "PRESCRIPTION_NOT_FOUND" and not answer.record["accepted"]
    french = observed()
    french.event["patient"] = {"country": "FR", "patient_id": "x"}
    list(handle(french, TOPICS, states))
    request = dispense("d2", line())
    request.event["patient"] = {"country": "FR", "patient_id": "x"}
    emits = list(handle(request, TOPICS, states))
    assert not any(e.event_type == "fr.passerelle.ep.DispensationSubmitted" for e in emits)
    assert states["1.2.3^RX-1"]["dispensations"][0]["error"]["code"] == "PRESCRIPTION_FROM_FRANCE"


def test_every_prescription_action_has_an_fhir_export_type(tmp_path):
    from services.audit.fhir import EVENT_TYPES
    from services.audit.handlers import audit_record
    actions = {audit_record(as_incoming(e))["action"] for e in prescription_flow(tmp_path)
               if e.event_type != "fr.passerelle.ep.PrescriptionState"}
    assert {"EP_REQUESTED", "EP_OUTCOME", "DISPENSATION_REQUESTED", "DISPENSATION_SUBMITTED", "DISPENSATION_ACKNOWLEDGED",
            "DISPENSATION_DISCARD_REQUESTED", "DISPENSATION_DISCARDED"} <= actions
    assert actions <= set(EVENT_TYPES), actions - set(EVENT_TYPES)


# --- property: the quantity arithmetic, with redelivery and concurrent pharmacies ---------------

OPS = st.lists(st.one_of(
    st.tuples(st.just("dispense"), st.integers(0, 5), st.sampled_from(["i1", "i2"]), st.integers(1, 4),
              st.sampled_from([None, "G", "TE"])),
    st.tuples(st.just("discard"), st.integers(0, 5)),
    st.tuples(st.just("deliver"), st.booleans()),  # country A answers the next message; True: delivered twice
    st.tuples(st.just("redeliver_request"), st.integers(0, 5)),
), max_size=40)


@hsettings(max_examples=150, deadline=None)
@given(OPS)
def test_quantities_never_exceed_the_prescription_and_match_country_a(ops):
    p = prescription(item("i1", 4, "G"), item("i2", 3, "N"))
    states, ledger = {}, Ledger(prescriptions={p["prescription_id"]: copy.deepcopy(p)})
    list(handle(observed(p), TOPICS, states))
    to_country_a: list[Emit] = []  # the outbound topic, in order
    requests: dict[int, Incoming] = {}

    def run(incoming):
        for emit in handle(incoming, TOPICS, states):
            if emit.event_type == "fr.passerelle.ep.DispensationSubmitted":
                to_country_a.append(emit)
            elif emit.event_type == "fr.passerelle.ep.DispensationAnswered":
                run(as_incoming(emit))  # our own rejection comes back on ep.commands

    for op in ops:
        if op[0] == "dispense":
            requests[op[1]] = requests.get(op[1]) or dispense(f"d{op[1]}", line(op[2], op[3], op[4]))
            run(requests[op[1]])
        elif op[0] == "redeliver_request" and op[1] in requests:
            run(requests[op[1]])
        elif op[0] == "discard" and op[1] in requests:
            run(discard(f"d{op[1]}"))
        elif op[0] == "deliver" and to_country_a:
            submitted = to_country_a.pop(0)
            for _ in range(2 if op[1] else 1):
                for answer in answer_dispensation(submitted.record, ledger, TOPICS):
                    run(as_incoming(answer))
        state = states[p["prescription_id"]]
        for i in p["items"]:
            assert 0 <= state["dispensed"].get(i["item_id"], 0) <= i["quantity"]
        acknowledged = [d for d in state["dispensations"] if d["status"] in ("ACKNOWLEDGED", "DISCARD_SUBMITTED")]
        expected: dict[str, int] = {}
        for d in acknowledged:
            expected = add_lines(expected, d["lines"])
        assert {k: v for k, v in state["dispensed"].items() if v} == {k: v for k, v in expected.items() if v}
        assert sum(d["status"] in ("SUBMITTED", "DISCARD_SUBMITTED") for d in state["dispensations"]) <= 1
        allowed = {"i1": (None, "G"), "i2": (None,)}  # G allows a generic; N nothing
        for d in acknowledged:
            assert all(line_["substitution"] in allowed[line_["item_id"]] for line_ in d["lines"])
    while to_country_a:  # drain: France and country A then agree
        for answer in answer_dispensation(to_country_a.pop(0).record, ledger, TOPICS):
            run(as_incoming(answer))
    final = states[p["prescription_id"]]["dispensed"]
    assert {k: v for k, v in final.items() if v} == {k: v for k, v in ledger.dispensed.get(p["prescription_id"], {}).items() if v}


def test_only_a_pharmacist_whose_listing_was_authorised_may_dispense():
    states = {}
    list(handle(observed(), TOPICS, states))
    other = dispense("d1", line())
    other.event["hp"] = {**HP, "rpps": "10002000015"}
    [answer] = handle(other, TOPICS, states)
    assert answer.record["error"]["code"] == "PRESCRIPTION_NOT_FOUND" and states["1.2.3^RX-1"]["dispensations"] == []
    listing = observed()
    listing.event["hp"] = other.event["hp"]
    [state] = handle(listing, TOPICS, states)
    assert list(state.record["listed_at"]) == ["10002000007", "10002000015"] and state.record["dispensed"] == {}
    [submitted, _] = handle(dispense("d2", line()), TOPICS, states)
    assert submitted.event_type == "fr.passerelle.ep.DispensationSubmitted"


def test_country_a_refuses_a_dispensation_of_another_patients_prescription(tmp_path):
    from services.foreign_ncp.directory import load_directory
    ledger = Ledger.load(load_directory(PROJECT_ROOT / "tests" / "fixtures" / "ncp"))
    submitted = {"dispensation_id": "d1", "prescription_id": "1.2.246.10.999.3^FI-T-1", "kind": "DISPENSE",
                 "patient": {"country": "FI", "patient_id": "PT-TEST-1"}, "lines": [line("FI-T-1.1", 1)]}
    assert ledger.answer(submitted)["code"] == "PRESCRIPTION_NOT_FOUND"
    assert ledger.answer({**submitted, "dispensation_id": "d2", "patient": PATIENT}) is None
    assert ledger.answer({**submitted, "dispensation_id": "d3", "patient": PATIENT,
                          "lines": [line("FI-T-1.1", 5)]})["code"] == "QUANTITY_EXCEEDED"  # 1 of 5 already


def test_only_the_pharmacist_who_dispensed_may_discard():
    states = {}
    list(handle(observed(), TOPICS, states))
    list(handle(dispense("d1", line()), TOPICS, states))
    list(handle(dispense("d2", line()), TOPICS, states))
    other = discard("d2")
    other.event["hp"] = {**HP, "rpps": "10002000015"}
    assert list(handle(other, TOPICS, states)) == []
    assert statuses(states) == {"d1": "SUBMITTED", "d2": "QUEUED"}


def test_a_dispense_more_than_two_hours_after_the_listing_is_refused_until_the_pharmacist_lists_again():
    from datetime import timedelta

    def later(incoming: Incoming, hours: float) -> Incoming:
        event = copy.deepcopy(incoming.event)
        event["envelope"]["occurred_at"] += timedelta(hours=hours)
        return Incoming(incoming.topic, incoming.event_type, event)

    states: dict = {}
    listing = observed()
    list(handle(listing, TOPICS, states))
    assert list(handle(listing, TOPICS, states)) == []  # the same listing redelivered changes nothing
    [refused] = handle(later(dispense("late", line()), 2.1), TOPICS, states)
    assert refused.event_type == "fr.passerelle.ep.DispensationAnswered" and not refused.record["accepted"]
    assert refused.record["error"]["code"] == "PRESCRIPTION_LISTING_EXPIRED"
    [state] = handle(later(listing, 2), TOPICS, states)  # listed again: the 2 hours start again
    assert state.event_type == "fr.passerelle.ep.PrescriptionState"
    submitted = [e.event_type for e in handle(later(dispense("renewed", line()), 2.1), TOPICS, states)]
    assert "fr.passerelle.ep.DispensationSubmitted" in submitted
