"""Hostile documents on the real broker (issue 17, bad input): country A's answers carrying an
entity bomb, an external entity, a gigantic depth or attribute reach the translation worker; each is
answered FAILED with its stable code and audited, and the same worker then translates a real
document (it did not crash)."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from passerelle import PROJECT_ROOT, kafka
from passerelle.documents import pack
from passerelle.envelope import new_envelope
from passerelle.events import PS_RETRIEVED
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.translation.app import build as translation

from tests.unit.test_hostile_documents import HOSTILE_XML

pytestmark = pytest.mark.integration
VALID = (PROJECT_ROOT / "data/ncp/PT/193857264/ps.xml").read_bytes()


def retrieved(content: bytes) -> dict:
    encoding, data = pack(content)
    return {"envelope": new_envelope("foreign-ncp"),
            "hp": {"rpps": "10001234565", "profession": "10", "organisation": "750000001", "auth_method": "CPS",
                   "assertion_issued_at": 1_700_000_000_000},
            "patient": {"country": "PT", "patient_id": "PT-TEST-1"}, "purpose": "TREATMENT", "error": None,
            "document": {"format": "CDA", "language": "pt-PT", "content": data, "encoding": encoding}}


@contextlib.asynccontextmanager
async def running(settings, serde):
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop)) for build in (translation, audit)]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_hostile_documents_are_refused_audited_and_the_worker_goes_on(topics_ready, serde):
    topics = Topics(topics_ready.topic_prefix)
    events = [(code, retrieved(content)) for content, code in HOSTILE_XML.values()] + [("VALID", retrieved(VALID))]
    async with running(topics_ready, serde):
        producer = kafka.producer(topics_ready.kafka)
        await producer.start()
        for _, event in events:
            await producer.send_and_wait(topics.ncp_inbound, serde.encode(PS_RETRIEVED, event),
                                         key=event["envelope"]["correlation_id"].encode())
        await producer.stop()
        outcomes = [serde.decode(r.value)[1] for r in await consume(topics_ready, topics.ps_outcomes, len(events))]
        audited = [serde.decode(r.value)[1] for r in await consume(topics_ready, topics.audit_records, 2 * len(events))]
    by_request = {o["envelope"]["correlation_id"]: o for o in outcomes}
    reasons = {(a["envelope"]["correlation_id"], a["action"]): a for a in audited}
    for code, event in events:
        outcome = by_request[event["envelope"]["correlation_id"]]
        if code == "VALID":
            assert outcome["status"] == "COMPLETED" and outcome["summary"]["sections"][0]["statements"]
            continue
        assert (outcome["status"], outcome["error"]["code"], outcome["summary"]) == ("FAILED", code, None)
        record = reasons[(event["envelope"]["correlation_id"], "PS_OUTCOME")]
        assert (record["outcome"], record["reason_code"]) == ("FAILURE", code)
