"""The prescription service's rules: the state of each foreign prescription, as plain functions.

Everything that changes a prescription arrives on ``ep.commands`` keyed by prescription id, so one
partition (one instance) serialises it: country A's prescription (observed), dispense and discard
requests, country A's answers. Rules:

* one dispensation (or discard) in flight per prescription: a new one waits in ``queue`` until the
  one in flight is answered, and is checked only then, against what country A acknowledged;
* a duplicated event never counts twice: a dispensation id already known, an answer to a
  dispensation no longer in flight, a prescription already observed change nothing;
* quantities count only what country A acknowledged (``dispensed``), minus what it discarded;
* only a pharmacist whose listing was authorised (consent, country A's treatment-relationship check)
  and returned the prescription may dispense it, and only within 2 hours of that
  listing (``listed_at``: RPPS -> time), the life of the treatment-relationship confirmation; listing again renews it.
"""

from __future__ import annotations

import copy
from typing import Iterable

from lxml import etree

from passerelle.envelope import caused_by
from passerelle.eprescription import NotAnEPrescription, add_lines, dispense_refusal, prescription_status, read_eprescription
from passerelle.errors import error
from passerelle.events import (DISPENSATION_ANSWERED, DISPENSATION_DISCARD_REQUESTED, DISPENSATION_REQUESTED,
                               DISPENSATION_SUBMITTED, EP_OBSERVED, EP_RETRIEVED, EP_STATE)
from passerelle.processor import Emit, Handlers, Incoming, RejectedEvent
from passerelle.topics import Topics
from passerelle.service import Service
from services.prescription.edispensation import build_edispensation

PRODUCER = Service.PRESCRIPTION
#: A dispensation must follow the pharmacist's authorised listing within the life of its
#: treatment-relationship confirmation (MyHealth@EU: 2 hours).
LISTING_VALID_MS = 2 * 3600 * 1000
IN_FLIGHT = {"SUBMITTED", "DISCARD_SUBMITTED"}
DISPENSE, DISCARD = "DISPENSE", "DISCARD"


def observed_prescriptions(retrieved: dict, topics: Topics) -> Iterable[Emit]:
    """Country A's documents → one ``PrescriptionObserved`` per prescription, keyed by its id."""
    for document in retrieved["documents"]:
        try:
            prescription = read_eprescription(document["content"])
        except (NotAnEPrescription, ValueError, etree.XMLSyntaxError):
            continue  # the translation flags the document to the pharmacist; nothing to dispense from it
        event = {"envelope": caused_by(retrieved, PRODUCER), "hp": retrieved["hp"], "patient": retrieved["patient"],
                 "prescription": prescription}
        yield Emit(topics.ep_commands, EP_OBSERVED, event, prescription["prescription_id"].encode())


def _ms(event: dict) -> int:
    at = event["envelope"]["occurred_at"]
    return at if isinstance(at, int) else int(at.timestamp() * 1000)


def new_state(observed: dict) -> dict:
    prescription = observed["prescription"]
    return {"envelope": caused_by(observed, PRODUCER), "patient": observed["patient"], "prescription": prescription,
            "status": prescription_status(prescription, {}), "dispensed": {}, "dispensations": [], "queue": [],
            "listed_at": {observed["hp"]["rpps"]: _ms(observed)}}


def listing_expired(state: dict, request: dict) -> bool:
    """The pharmacist's last authorised listing is more than 2 hours older than this request."""
    listed = state["listed_at"].get(request["hp"]["rpps"])
    return listed is None or _ms(request) - listed > LISTING_VALID_MS


def _find(state: dict, dispensation_id: str) -> dict | None:
    return next((d for d in state["dispensations"] if d["dispensation_id"] == dispensation_id), None)


def _answer(state: dict, dispensation: dict, cause: dict, kind: str, err: dict) -> dict:
    """A rejection the prescription service decides itself (audited like country A's)."""
    return {"envelope": caused_by(cause, PRODUCER), "hp": dispensation["hp"], "patient": state["patient"],
            "dispensation_id": dispensation["dispensation_id"], "prescription_id": state["prescription"]["prescription_id"],
            "kind": kind, "accepted": False, "error": err}


def _submit(state: dict, dispensation: dict, kind: str, cause: dict, topics: Topics) -> Emit:
    patient, prescription = state["patient"], state["prescription"]
    document = build_edispensation(prescription, patient, dispensation["hp"], dispensation["dispensation_id"],
                                   dispensation["lines"], kind)
    event = {"envelope": caused_by(cause, PRODUCER), "hp": dispensation["hp"], "patient": patient,
             "dispensation_id": dispensation["dispensation_id"], "prescription_id": prescription["prescription_id"],
             "kind": kind, "lines": dispensation["lines"], "document": document}
    return Emit(topics.ncp_outbound(patient["country"]), DISPENSATION_SUBMITTED, event,
                prescription["prescription_id"].encode())


def pump(state: dict, cause: dict, topics: Topics) -> list[Emit]:
    """Start the next queued dispensation or discard when none is in flight."""
    emits = []
    while state["queue"] and not any(d["status"] in IN_FLIGHT for d in state["dispensations"]):
        kind, _, dispensation_id = state["queue"].pop(0).partition(":")
        dispensation = _find(state, dispensation_id)
        if kind == DISPENSE and dispensation["status"] == "QUEUED":
            refusal = dispense_refusal(state["prescription"], state["dispensed"], dispensation["lines"],
                                       state["patient"]["country"])
            if refusal:
                dispensation.update(status="REJECTED", error=error(refusal))
                emits.append(Emit(topics.ep_commands, DISPENSATION_ANSWERED,
                                  _answer(state, dispensation, cause, DISPENSE, error(refusal)),
                                  state["prescription"]["prescription_id"].encode()))
            else:
                dispensation["status"] = "SUBMITTED"
                emits.append(_submit(state, dispensation, DISPENSE, cause, topics))
        elif kind == DISCARD and dispensation["status"] == "ACKNOWLEDGED":
            dispensation["status"] = "DISCARD_SUBMITTED"
            emits.append(_submit(state, dispensation, DISCARD, cause, topics))
    return emits


def dispensation_requested(state: dict, request: dict) -> bool:
    """Queue the dispensation; False when it is a duplicate."""
    if _find(state, request["dispensation_id"]) is not None:
        return False
    state["dispensations"].append({"dispensation_id": request["dispensation_id"], "status": "QUEUED",
                                   "lines": request["lines"], "error": None, "hp": request["hp"]})
    state["queue"].append(f"{DISPENSE}:{request['dispensation_id']}")
    return True


def discard_requested(state: dict, request: dict) -> bool:
    """Queue the discard (or drop a dispensation never sent); False when nothing changes."""
    dispensation = _find(state, request["dispensation_id"])
    entry = f"{DISCARD}:{request['dispensation_id']}"
    if dispensation is None or entry in state["queue"] or dispensation["hp"]["rpps"] != request["hp"]["rpps"]:
        return False  # unknown, already queued, or not this pharmacist's dispensation
    if dispensation["status"] == "QUEUED":
        dispensation["status"] = "DISCARDED"
        state["queue"].remove(f"{DISPENSE}:{request['dispensation_id']}")
        return True
    if dispensation["status"] in ("SUBMITTED", "ACKNOWLEDGED"):
        state["queue"].append(entry)
        return True
    return False


def answered(state: dict, answer: dict) -> bool:
    """Apply country A's answer; False when the dispensation was not waiting for it (a duplicate)."""
    dispensation = _find(state, answer["dispensation_id"])
    expected = "SUBMITTED" if answer["kind"] == DISPENSE else "DISCARD_SUBMITTED"
    if dispensation is None or dispensation["status"] != expected:
        return False
    if answer["kind"] == DISPENSE:
        if answer["accepted"]:
            dispensation["status"] = "ACKNOWLEDGED"
            state["dispensed"] = add_lines(state["dispensed"], dispensation["lines"])
        else:
            dispensation.update(status="REJECTED", error=answer["error"])
    elif answer["accepted"]:
        dispensation["status"] = "DISCARDED"
        state["dispensed"] = add_lines(state["dispensed"], dispensation["lines"], -1)
    else:  # country A kept the dispensation
        dispensation.update(status="ACKNOWLEDGED", error=answer["error"])
    return True


def _prescription_id(event: dict, kind: str) -> str:
    return event["prescription"]["prescription_id"] if kind == EP_OBSERVED else event.get("prescription_id", "")


def _refused(request: dict, refusal: str) -> dict:
    """Country A is not asked: the dispensation request is answered refused here."""
    return {"envelope": caused_by(request, PRODUCER), "hp": request["hp"], "patient": request["patient"],
            "dispensation_id": request["dispensation_id"], "prescription_id": request["prescription_id"],
            "kind": DISPENSE, "accepted": False, "error": error(refusal)}


def handle(incoming: Incoming, topics: Topics, states: dict[str, dict], lost: str | None = None,
           unreadable: set[str] = frozenset()) -> Iterable[Emit]:
    """One event of ``ep.retrieved`` or ``ep.commands``; ``states`` (by prescription id) is updated.
    Fail closed: ``lost`` (the states could not be restored after a restart) refuses every
    dispensation; a prescription whose state record was ``unreadable`` refuses its own and changes
    no more until a readable state replaces it."""
    event, kind = incoming.event, incoming.event_type
    if kind == EP_RETRIEVED:
        yield from observed_prescriptions(event, topics)
        return
    blocked = "PRESCRIPTION_STATE_UNAVAILABLE" if lost else (
        "PRESCRIPTION_STATE_UNREADABLE" if _prescription_id(event, kind) in unreadable else None)
    if blocked:
        if kind == DISPENSATION_REQUESTED:
            yield Emit(topics.ep_commands, DISPENSATION_ANSWERED, _refused(event, blocked), event["prescription_id"].encode())
        return
    if kind == EP_OBSERVED:
        prescription_id = event["prescription"]["prescription_id"]
        state, rpps, at = states.get(prescription_id), event["hp"]["rpps"], _ms(event)
        if state is not None and state["listed_at"].get(rpps, -1) >= at:
            return  # a redelivered (or older) listing changes nothing
        if state is None:
            state = states[prescription_id] = new_state(event)
        else:  # a new authorised listing: quantities unchanged; this pharmacist may dispense for 2 hours
            state.update(envelope=caused_by(event, PRODUCER), listed_at={**state["listed_at"], rpps: at})
        yield Emit(topics.ep_state, EP_STATE, copy.deepcopy(state), prescription_id.encode())
        return
    if kind not in (DISPENSATION_REQUESTED, DISPENSATION_DISCARD_REQUESTED, DISPENSATION_ANSWERED):
        raise RejectedEvent(f"{kind} is not a prescription command")
    state = states.get(event["prescription_id"])
    if state is not None and kind == DISPENSATION_REQUESTED and (
            state["patient"] != event["patient"] or event["hp"]["rpps"] not in state["listed_at"]):
        state = None  # not listed by this pharmacist (consent applies to the listing), or another patient's
    refusal = None
    if state is None and kind == DISPENSATION_REQUESTED:  # the pharmacist must list the prescriptions first
        refusal = "PRESCRIPTION_NOT_FOUND"
    elif kind == DISPENSATION_REQUESTED and _find(state, event["dispensation_id"]) is None and listing_expired(state, event):
        refusal = "PRESCRIPTION_LISTING_EXPIRED"
    if refusal:
        yield Emit(topics.ep_commands, DISPENSATION_ANSWERED, _refused(event, refusal), event["prescription_id"].encode())
        return
    if state is None:
        return
    apply = {DISPENSATION_REQUESTED: dispensation_requested, DISPENSATION_DISCARD_REQUESTED: discard_requested,
             DISPENSATION_ANSWERED: answered}[kind]
    if kind == DISPENSATION_ANSWERED and event["envelope"]["producer"] == PRODUCER:
        return  # our own rejection, already in the state
    if not apply(state, event):
        return
    emits = pump(state, event, topics)
    state.update(envelope=caused_by(event, PRODUCER),
                 status=prescription_status(state["prescription"], state["dispensed"]))
    yield from emits
    yield Emit(topics.ep_state, EP_STATE, copy.deepcopy(state), event["prescription_id"].encode())


#: Everything the prescription service reads: country A's documents (to learn prescriptions) and
#: every prescription command; ``commands.bind(topics, states)`` is what its processor runs.
commands = Handlers()
commands.on(EP_RETRIEVED, EP_OBSERVED, DISPENSATION_REQUESTED, DISPENSATION_DISCARD_REQUESTED, DISPENSATION_ANSWERED)(handle)
