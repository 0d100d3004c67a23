"""A dispensation sent right after its listing waits for the prescription service's observation of
that listing, so that it follows the observation on ``ep.commands`` (the race the e2e test
``test_a_finnish_prescription_is_listed_in_french_dispensed_and_told_to_finland`` once lost)."""

from __future__ import annotations

import asyncio

from passerelle.events import EP_OBSERVED, EP_OUTCOME
from services.gateway.prescriptions.tracker import PrescriptionTracker

PHARMACIST, OTHER = "10001234566", "10009999999"


def listing(request_id: str, rpps: str, *prescription_ids: str, status: str = "COMPLETED") -> dict:
    return {"envelope": {"correlation_id": request_id}, "hp": {"rpps": rpps}, "status": status, "error": None,
            "prescriptions": [{"prescription_id": p} for p in prescription_ids]}


def observation(request_id: str, prescription_id: str) -> dict:
    return {"envelope": {"correlation_id": request_id}, "prescription": {"prescription_id": prescription_id}}


async def test_a_dispensation_waits_for_the_observation_of_the_listing_it_follows():
    tracker = PrescriptionTracker(100)
    tracker.apply(EP_OUTCOME, listing("list-1", PHARMACIST, "FI-EP-1001", "FI-EP-1002"))
    waiting = asyncio.create_task(tracker.listing_observed("FI-EP-1001", PHARMACIST, timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    tracker.apply(EP_OBSERVED, observation("list-1", "FI-EP-1002"))  # another prescription of the listing
    await asyncio.sleep(0.05)
    assert not waiting.done()
    tracker.apply(EP_OBSERVED, observation("list-1", "FI-EP-1001"))
    assert await asyncio.wait_for(waiting, 1) is True


async def test_an_observation_already_seen_or_no_listing_seen_here_does_not_wait():
    tracker = PrescriptionTracker(100)
    assert await asyncio.wait_for(tracker.listing_observed("FI-EP-1001", PHARMACIST, timeout=5), 0.5) is True
    tracker.apply(EP_OBSERVED, observation("list-1", "FI-EP-1001"))  # the observation may come first
    tracker.apply(EP_OUTCOME, listing("list-1", PHARMACIST, "FI-EP-1001"))
    assert await asyncio.wait_for(tracker.listing_observed("FI-EP-1001", PHARMACIST, timeout=5), 0.5) is True
    # another pharmacist's listing, or a listing that was denied, is nothing to wait for
    assert await asyncio.wait_for(tracker.listing_observed("FI-EP-1001", OTHER, timeout=5), 0.5) is True
    tracker.apply(EP_OUTCOME, listing("list-2", OTHER, "FI-EP-1001", status="DENIED"))
    assert await asyncio.wait_for(tracker.listing_observed("FI-EP-1001", OTHER, timeout=5), 0.5) is True


async def test_a_newer_listing_is_the_one_waited_for_and_the_wait_is_bounded():
    tracker = PrescriptionTracker(100)
    tracker.apply(EP_OUTCOME, listing("list-1", PHARMACIST, "FI-EP-1001"))
    tracker.apply(EP_OBSERVED, observation("list-1", "FI-EP-1001"))
    tracker.apply(EP_OUTCOME, listing("list-2", PHARMACIST, "FI-EP-1001"))  # listed again: renews the listing
    assert await tracker.listing_observed("FI-EP-1001", PHARMACIST, timeout=0.1) is False  # sent all the same
    assert not tracker._awaited  # nothing left behind by the timed-out wait
    tracker.apply(EP_OBSERVED, observation("list-2", "FI-EP-1001"))
    assert await asyncio.wait_for(tracker.listing_observed("FI-EP-1001", PHARMACIST, timeout=5), 0.5) is True


async def test_a_wait_that_gives_up_does_not_leave_another_dispensation_asleep():
    tracker = PrescriptionTracker(100)
    tracker.apply(EP_OUTCOME, listing("list-1", PHARMACIST, "FI-EP-1001"))
    patient = asyncio.create_task(tracker.listing_observed("FI-EP-1001", PHARMACIST, timeout=5))
    assert await tracker.listing_observed("FI-EP-1001", PHARMACIST, timeout=0.05) is False
    tracker.apply(EP_OBSERVED, observation("list-1", "FI-EP-1001"))
    assert await asyncio.wait_for(patient, 1) is True
    assert not tracker._awaited


async def test_a_listing_request_waits_for_its_outcome_or_gives_up_after_its_wait():
    tracker = PrescriptionTracker(100)
    tracker.requested_list("list-1", PHARMACIST)
    tracker.requested_list("list-2", PHARMACIST)
    waiting = asyncio.create_task(tracker.list_arrived("list-1", timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    outcome = listing("list-1", PHARMACIST, "FI-EP-1001")
    tracker.apply(EP_OUTCOME, outcome)
    assert await asyncio.wait_for(waiting, 1) is outcome
    assert await tracker.list_arrived("list-1", timeout=0) is outcome  # already here: no wait
    assert await tracker.list_arrived("list-2", timeout=0.05) is None  # nothing came: 202, poll later
    assert not tracker._listings  # nobody left waiting


def test_a_listing_stays_with_the_professional_who_asked_for_it():
    # an outcome naming someone else (never written by Passerelle's own services) hands nothing over
    tracker = PrescriptionTracker(100)
    tracker.requested_list("list-1", PHARMACIST)
    tracker.apply(EP_OUTCOME, listing("list-1", OTHER, "FI-EP-1001"))
    assert tracker.prescriptions_list("list-1", OTHER) is None
    assert tracker.prescriptions_list("list-1", PHARMACIST)["outcome"] is not None
    assert tracker.delivered == {("FI-EP-1001", PHARMACIST): "list-1"}
