"""What the gateway knows of original-documents requests, rebuilt from ``orcd.outcomes``.

Every gateway instance reads the topic whole (the gateway's one follower), so any instance answers
for any request, to the professional who asked only. The originals are kept in memory to be opened:
bounded by the number of listings and by their total bytes, the oldest forgotten first (the HP then
asks again).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from passerelle.events import ORCD_OUTCOME
from passerelle.topics import Topics
from services.gateway.waiters import Waiters

MAX_LISTINGS = 2_000
MAX_ORIGINAL_BYTES_KEPT = 256 * 1024 * 1024


def _bytes(entry: dict) -> int:
    outcome = entry["outcome"]
    return sum(len(d["content"] or b"") for d in outcome["documents"]) if outcome else 0


class DocumentTracker:
    def __init__(self, max_entries: int = MAX_LISTINGS, max_bytes: int = MAX_ORIGINAL_BYTES_KEPT,
                 ready: asyncio.Event | None = None):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.lists: OrderedDict[str, dict] = OrderedDict()  # request id -> {"rpps", "outcome"}
        self.kept_bytes = 0
        self._listings = Waiters()
        self.ready = ready or asyncio.Event()

    @staticmethod
    def followed(topics: Topics) -> list[str]:
        return [topics.orcd_outcomes]

    def apply_record(self, rec, event_type: str | None, event: dict | None) -> None:
        if event_type == ORCD_OUTCOME:
            self.arrived(event)

    def requested(self, request_id: str, rpps: str) -> None:
        self.lists.setdefault(request_id, {"rpps": rpps, "outcome": None})
        self._bound()

    def arrived(self, outcome: dict) -> None:
        """An outcome: it stays with the professional its request named (or, unseen, the outcome's)."""
        request_id = outcome["envelope"]["correlation_id"]
        entry = self.lists.setdefault(request_id, {"rpps": outcome["hp"]["rpps"], "outcome": None})
        if entry["outcome"] is None and entry["rpps"] == outcome["hp"]["rpps"]:
            entry["outcome"] = outcome
            self.kept_bytes += _bytes(entry)
        self._listings.wake(request_id)
        self._bound()

    def _bound(self) -> None:
        while self.lists and (len(self.lists) > self.max_entries or self.kept_bytes > self.max_bytes):
            _, forgotten = self.lists.popitem(last=False)
            self.kept_bytes -= _bytes(forgotten)

    async def arrived_within(self, request_id: str, timeout: float) -> dict | None:
        return await self._listings.outcome_within(self.lists, request_id, timeout)

    def listing(self, request_id: str, rpps: str) -> dict | None:
        found = self.lists.get(request_id)
        return found if found is not None and found["rpps"] == rpps else None
