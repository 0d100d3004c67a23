"""ePrescription / eDispensation on the real broker, every processor in-process: a listing through
consent, router, country A and translation; then two pharmacies dispensing the same prescription at
once, one request delivered twice, and the prescription service killed and replaced mid-way."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from passerelle import kafka
from passerelle.envelope import new_envelope
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.foreign_ncp.app import build as foreign_ncp
from services.prescription.app import build as prescription
from services.router.app import build as router
from services.translation.app import build as translation

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
PATIENT = {"country": "FI", "patient_id": "FI-TEST-1"}  # tests/fixtures/ncp/FI/FI-TEST-1/ep/
PRESCRIPTION = "1.2.246.10.999.3^FI-T-1"  # item FI-T-1.1: 5 packages, generic substitution allowed


@contextlib.asynccontextmanager
async def running(settings, serde, *builds):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in builds]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def state_when(settings, serde, done, timeout: float = 30.0) -> dict:
    """The latest state of PRESCRIPTION once ``done(state)`` holds (reads the state topic whole)."""
    consumer = kafka.consumer(settings.kafka, None, Topics(settings.topic_prefix).ep_state)
    await consumer.start()
    latest = None
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while latest is None or not done(latest):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"state not reached: {latest and latest['dispensations']}")
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                for rec in batch:
                    if rec.key == PRESCRIPTION.encode():
                        latest = serde.decode(rec.value)[1]
    finally:
        await consumer.stop()
    return latest


def dispensation(organisation: str, dispensation_id: str, quantity: int) -> dict:
    hp = {**patient_summary_request(profession="21", rpps="10002000007")["hp"], "organisation": organisation}
    return {"envelope": new_envelope("test", dispensation_id), "hp": hp, "patient": PATIENT,
            "dispensation_id": dispensation_id, "prescription_id": PRESCRIPTION,
            "lines": [{"item_id": "FI-T-1.1", "quantity": quantity, "substitution": "G", "product_code": None,
                       "product_name": None}], "request_origin": None}


async def test_two_pharmacies_at_once_and_a_duplicate_never_exceed_the_prescription(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    request = {**patient_summary_request(profession="21", rpps="10002000007", country="FI", patient_id="FI-TEST-1")}
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        async with running(settings, serde, consent, router, foreign_ncp, translation, audit):
            async with running(settings, serde, prescription):
                await producer.send_and_wait(topics.ep_requested, serde.encode("fr.passerelle.ep.PrescriptionsRequested", request),
                                             key=request["envelope"]["correlation_id"].encode())
                [outcome] = [serde.decode(r.value)[1] for r in await consume(settings, topics.ep_outcomes, 1)]
                assert outcome["status"] == "COMPLETED", outcome["error"]
                assert sorted(p["prescription_id"] for p in outcome["prescriptions"]) == [PRESCRIPTION, "1.2.246.10.999.3^FI-T-2"]
                await state_when(settings, serde, lambda s: True)
                first, second = dispensation("750000001", "d-1", 3), dispensation("750000002", "d-2", 3)
                sends = [producer.send(topics.ep_commands, serde.encode("fr.passerelle.ep.DispensationRequested", e),
                                       key=PRESCRIPTION.encode()) for e in (first, second, first)]  # first: twice
                await asyncio.gather(*await asyncio.gather(*sends))
                settled = await state_when(settings, serde, lambda s: all(
                    d["status"] in ("ACKNOWLEDGED", "REJECTED") for d in s["dispensations"]) and len(s["dispensations"]) == 2)
            # the prescription service stops; a new instance takes over from the state topic, and
            # first receives country A's acknowledgement again (a redelivery): it must not count twice
            commands = [r for r in await consume(settings, topics.ep_commands, 7)]
            [ack] = [r for r in commands if serde.decode(r.value)[0] == "fr.passerelle.ep.DispensationAnswered"
                     and serde.decode(r.value)[1]["accepted"]]
            await producer.send_and_wait(topics.ep_commands, ack.value, key=ack.key)
            third = dispensation("750000003", "d-3", 2)
            await producer.send_and_wait(topics.ep_commands, serde.encode("fr.passerelle.ep.DispensationRequested", third),
                                         key=PRESCRIPTION.encode())
            async with running(settings, serde, prescription):
                final = await state_when(settings, serde, lambda s: len(s["dispensations"]) == 3 and all(
                    d["status"] in ("ACKNOWLEDGED", "REJECTED") for d in s["dispensations"]))
            records = [serde.decode(r.value)[1] for r in await consume(settings, topics.audit_records, 16)]
    finally:
        await producer.stop()

    statuses = sorted(d["status"] for d in settled["dispensations"])
    assert statuses == ["ACKNOWLEDGED", "REJECTED"], settled["dispensations"]
    rejected = next(d for d in settled["dispensations"] if d["status"] == "REJECTED")
    assert rejected["error"]["code"] == "QUANTITY_EXCEEDED"
    assert settled["dispensed"]["FI-T-1.1"] == 3 and settled["status"] == "PARTLY_DISPENSED"
    assert {d["dispensation_id"]: d["status"] for d in final["dispensations"]}["d-3"] == "ACKNOWLEDGED"
    assert final["dispensed"]["FI-T-1.1"] == 5 and final["status"] == "PARTLY_DISPENSED"  # FI-T-1.2 untouched
    outbound = [serde.decode(r.value) for r in await consume(settings, topics.ncp_outbound("FI"), 3)]
    submitted = [e for name, e in outbound if name == "fr.passerelle.ep.DispensationSubmitted"]
    assert sorted(e["dispensation_id"] for e in submitted) in (["d-1", "d-3"], ["d-2", "d-3"])  # the duplicate: never sent
    actions = [r["action"] for r in records]
    for action in ("EP_REQUESTED", "CONSENT_DECIDED", "EP_QUERY_ROUTED", "EP_RETRIEVED", "EP_OUTCOME",
                   "DISPENSATION_REQUESTED", "DISPENSATION_SUBMITTED", "DISPENSATION_ACKNOWLEDGED", "DISPENSATION_REJECTED"):
        assert action in actions, action
