"""The answers the /ncp/v1 calls wait for: a view of the cross-border outcomes topic, fed by the
gateway's follower (``follower.py``)."""

from __future__ import annotations

import asyncio

from passerelle.events import CROSSBORDER_IDENTIFICATION_OUTCOME, CROSSBORDER_SUMMARY_OUTCOME
from passerelle.topics import Topics


class NcpOutcomes:
    """The outcomes this gateway instance waits for (the foreign NCP's call is synchronous): an
    outcome nobody waits for here is not kept, so no summary lingers in the gateway's memory."""

    def __init__(self):
        self.pending: dict[str, asyncio.Future] = {}

    @staticmethod
    def followed(topics: Topics) -> list[str]:
        return [topics.crossborder_outcomes]

    def expect(self, request_id: str) -> None:
        self.pending[request_id] = asyncio.get_running_loop().create_future()

    async def wait(self, request_id: str, timeout: float) -> dict | None:
        try:
            return await asyncio.wait_for(self.pending[request_id], timeout)
        except TimeoutError:
            return None
        finally:
            self.pending.pop(request_id, None)

    def apply_record(self, rec, event_type: str | None, event: dict | None) -> None:
        if event_type not in (CROSSBORDER_IDENTIFICATION_OUTCOME, CROSSBORDER_SUMMARY_OUTCOME):
            return
        waiter = self.pending.get(event["envelope"]["correlation_id"])
        if waiter is not None and not waiter.done():
            waiter.set_result(event)
