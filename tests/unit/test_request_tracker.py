"""The gateway's request state: only the requester sees a request; old ones are forgotten."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

from services.gateway.summaries.tracker import RequestTracker


def tracker_of(max_requests: int, clock) -> RequestTracker:
    """The gateway's tracker with a test codec: outcomes are kept encoded (here pickled), decoded on reading."""
    return RequestTracker(max_requests, 60, pickle.loads, clock)


def ended(tracker: RequestTracker, outcome: dict) -> None:
    tracker.ended(outcome, pickle.dumps(outcome))


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def outcome(request_id: str, rpps: str, at: float) -> dict:
    return {"envelope": {"correlation_id": request_id, "occurred_at": datetime.fromtimestamp(at, timezone.utc)},
            "hp": {"rpps": rpps}, "status": "COMPLETED"}


def test_only_the_requesting_professional_finds_the_request():
    tracker = tracker_of(10, Clock())
    tracker.requested("r1", "A")
    assert tracker.lookup("r1", "A").encoded_outcome is None
    assert tracker.lookup("r1", "B") is None and tracker.lookup("r2", "A") is None


def test_a_request_stays_with_the_professional_its_first_event_names():
    # A later event of the same request naming someone else (never written by Passerelle's own
    # services) does not hand the request, nor its summary, over to that professional.
    clock = Clock()
    tracker = tracker_of(10, clock)
    tracker.requested("r1", "A")
    ended(tracker, outcome("r1", "B", clock.now))
    assert tracker.lookup("r1", "B") is None and tracker.lookup("r1", "A") is not None


def test_an_outcome_completes_the_request_even_if_the_request_event_was_not_seen():
    clock = Clock()
    tracker = tracker_of(10, clock)
    ended(tracker, outcome("r1", "A", clock.now))
    assert tracker.outcome(tracker.lookup("r1", "A"))["status"] == "COMPLETED"


def test_requests_are_forgotten_past_the_ttl_or_the_size_bound():
    clock = Clock()
    tracker = tracker_of(2, clock)
    tracker.requested("r1", "A")
    clock.now += 30
    tracker.requested("r2", "A")
    tracker.requested("r3", "A")
    assert tracker.lookup("r1", "A") is None and tracker.lookup("r2", "A") is not None  # size
    clock.now += 61  # r2 and r3 are now 61 s old
    assert tracker.lookup("r2", "A") is None and tracker.lookup("r3", "A") is None  # age


def test_an_outcome_older_than_the_ttl_replayed_at_start_is_not_kept():
    clock = Clock()
    tracker = tracker_of(10, clock)
    ended(tracker, outcome("old", "A", clock.now - 3600))
    assert tracker.lookup("old", "A") is None


async def test_a_long_poll_wakes_when_the_outcome_arrives():
    import asyncio

    clock = Clock()
    tracker = tracker_of(10, clock)
    tracker.requested("r1", "A")
    waiting = asyncio.create_task(tracker.wait_for_outcome("r1", 30))
    await asyncio.sleep(0.01)
    assert not waiting.done()
    ended(tracker, outcome("r1", "A", clock.now))
    await asyncio.wait_for(waiting, 1)  # woken by the outcome, long before the 30 s
    assert tracker.outcome(tracker.lookup("r1", "A"))["status"] == "COMPLETED"
    assert tracker._waiters == {}


async def test_a_long_poll_gives_up_after_its_timeout_and_leaves_nothing_behind():
    import time

    tracker = tracker_of(10, Clock())
    tracker.requested("r1", "A")
    start = time.monotonic()
    await tracker.wait_for_outcome("r1", 0.05)
    assert 0.04 <= time.monotonic() - start < 1
    assert tracker.lookup("r1", "A").encoded_outcome is None and tracker._waiters == {}


async def test_a_long_poll_returns_at_once_for_an_ended_or_unknown_request():
    import asyncio

    clock = Clock()
    tracker = tracker_of(10, clock)
    ended(tracker, outcome("done", "A", clock.now))
    await asyncio.wait_for(tracker.wait_for_outcome("done", 30), 0.5)
    await asyncio.wait_for(tracker.wait_for_outcome("unknown", 30), 0.5)
