"""What the gateway knows of prescriptions requests and dispensations, rebuilt from the topics.

Every gateway instance reads ``ep.outcomes``, ``ep.commands`` and the compacted ``ep.state`` whole
(the gateway's one follower, ``follower.py``), so any instance answers for any request or
dispensation. Bounded: the oldest entries are forgotten first.

A listing reaches the pharmacist through the translation service while the prescription service
learns the same prescriptions on another path (its ``PrescriptionObserved`` on ``ep.commands``). A
dispensation sent the moment the listing arrives could reach ``ep.commands`` before that observation
and be refused as never listed; so the gateway publishes it only once it has seen, on ``ep.commands``,
the observation of the listing it delivered (``listing_observed``): the dispensation then comes after
it in the prescription's partition, and the prescription service reads them in that order.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from passerelle.events import DISPENSATION_ANSWERED, DISPENSATION_REQUESTED, EP_OBSERVED, EP_OUTCOME, EP_STATE
from passerelle.topics import Topics
from services.gateway.waiters import Waiters

#: State of a dispensation in the prescription service → what the API shows.
API_STATUS = {"QUEUED": "waiting", "SUBMITTED": "submitted", "ACKNOWLEDGED": "acknowledged", "REJECTED": "rejected",
              "DISCARD_SUBMITTED": "discard_pending", "DISCARDED": "discarded"}


class PrescriptionTracker:
    def __init__(self, max_entries: int, ready: asyncio.Event | None = None):
        self.max_entries = max_entries
        self.lists: OrderedDict[str, dict] = OrderedDict()  # request id -> {"rpps", "outcome"}
        self.dispensations: OrderedDict[str, dict] = OrderedDict()  # dispensation id -> view
        self._listings = Waiters()  # request id -> the callers waiting for its listing
        #: (prescription id, RPPS) -> id of the last listing delivered with that prescription
        self.delivered: OrderedDict[tuple[str, str], str] = OrderedDict()
        #: (prescription id, listing id) of the observations the prescription service published
        self.observed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._awaited = Waiters()  # (prescription id, listing id) -> the dispensations waiting for it
        #: set once the gateway's follower has read what the topics held at its start
        self.ready = ready or asyncio.Event()

    @staticmethod
    def followed(topics: Topics) -> list[str]:
        return [topics.ep_outcomes, topics.ep_commands, topics.ep_state]

    def apply_record(self, rec, event_type: str | None, event: dict | None) -> None:
        """A record of a followed topic, from the gateway's follower."""
        self.apply(event_type, event)

    def _bound(self) -> None:
        for table in (self.lists, self.dispensations, self.delivered, self.observed):
            while len(table) > self.max_entries:
                table.popitem(last=False)

    def requested_list(self, request_id: str, rpps: str) -> None:
        self.lists.setdefault(request_id, {"rpps": rpps, "outcome": None})
        self._bound()

    async def list_arrived(self, request_id: str, timeout: float) -> dict | None:
        """The listing's outcome once it is here, waiting at most ``timeout`` s; None if it is not."""
        return await self._listings.outcome_within(self.lists, request_id, timeout)

    def requested_dispensation(self, event: dict) -> None:
        self.dispensations.setdefault(event["dispensation_id"], {
            "dispensation_id": event["dispensation_id"], "rpps": event["hp"]["rpps"],
            "prescription_id": event["prescription_id"], "patient": event["patient"], "status": "pending",
            "prescription_status": None, "lines": event["lines"], "error": None})
        self._bound()

    def apply(self, event_type: str, event: dict) -> None:
        if event_type == EP_OUTCOME:
            request_id = event["envelope"]["correlation_id"]
            # a listing stays with the professional who asked for it (``requested_list``)
            listing = self.lists.setdefault(request_id, {"rpps": event["hp"]["rpps"], "outcome": None})
            listing["outcome"] = event
            self._listings.wake(request_id)
            for p in event["prescriptions"] if event["status"] == "COMPLETED" else []:
                self.delivered[(p["prescription_id"], listing["rpps"])] = request_id
            self._bound()
        elif event_type == EP_OBSERVED:
            key = (event["prescription"]["prescription_id"], event["envelope"]["correlation_id"])
            self.observed[key] = None
            self._bound()
            self._awaited.wake(key)
        elif event_type == DISPENSATION_REQUESTED:
            self.requested_dispensation(event)
        elif event_type == DISPENSATION_ANSWERED:
            known = self.dispensations.get(event["dispensation_id"])
            if known is not None and known["status"] == "pending" and not event["accepted"]:
                known.update(status="rejected", error=event["error"])  # e.g. a prescription never listed
        elif event_type == EP_STATE:
            for d in event["dispensations"]:
                if d["status"] not in API_STATUS:
                    continue  # a status this gateway does not know (a free string): never stop following
                queued_discard = f"DISCARD:{d['dispensation_id']}" in event["queue"]
                self.dispensations[d["dispensation_id"]] = {
                    "dispensation_id": d["dispensation_id"], "rpps": d["hp"]["rpps"],
                    "prescription_id": event["prescription"]["prescription_id"], "patient": event["patient"],
                    "status": "discard_pending" if queued_discard else API_STATUS[d["status"]],
                    "prescription_status": event["status"].lower(), "lines": d["lines"], "error": d["error"]}
            self._bound()

    async def listing_observed(self, prescription_id: str, rpps: str, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the prescription service's observation of the last
        listing this gateway delivered to ``rpps`` with this prescription is on ``ep.commands``.
        True at once when there is nothing to wait for (no such listing seen here: the prescription
        service decides); False on timeout (the dispensation is published all the same, and the
        prescription service decides)."""
        listing = self.delivered.get((prescription_id, rpps))
        key = (prescription_id, listing)
        if listing is None or key in self.observed:
            return True
        return await self._awaited.wait(key, timeout)

    def dispensation(self, dispensation_id: str, rpps: str) -> dict | None:
        found = self.dispensations.get(dispensation_id)
        return found if found is not None and found["rpps"] == rpps else None

    def prescriptions_list(self, request_id: str, rpps: str) -> dict | None:
        found = self.lists.get(request_id)
        return found if found is not None and found["rpps"] == rpps else None
