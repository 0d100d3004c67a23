"""The consent registry and the decisions on the real broker: directives recorded on the compacted
topic take effect for every request decided after them; alerts and denials reach the audit."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from passerelle import kafka
from passerelle.testing import consume
from passerelle.topics import Topics
from services.audit.app import build as audit
from services.consent.app import build as consent
from services.consent.settings import ConsentServiceSettings
from services.consent.cli import directive, record
from passerelle.consent_registry import directive_key
from services.foreign_ncp.app import build as foreign_ncp
from services.router.app import build as router
from services.translation.app import build as translation

from tests.integration.conftest import patient_summary_request

pytestmark = pytest.mark.integration
REQUESTED = "fr.passerelle.ps.PatientSummaryRequested"
HP = "10001234565"


@contextlib.asynccontextmanager
async def running(settings, serde):
    """Every service of the flow in process, and a way to ask and wait for each request's outcome."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(build(settings, serde).run(stop))
             for build in (consent, router, foreign_ncp, translation, audit)]
    topics = Topics(settings.topic_prefix)
    producer = kafka.producer(settings.kafka)
    outcomes = kafka.consumer(settings.kafka, None, topics.ps_outcomes)
    await producer.start()
    await outcomes.start()
    seen: dict[str, dict] = {}

    async def ask(request: dict, timeout: float = 30) -> dict:
        request_id = request["envelope"]["correlation_id"]
        await producer.send_and_wait(topics.ps_requested, serde.encode(REQUESTED, request), key=request_id.encode())
        deadline = asyncio.get_running_loop().time() + timeout
        while request_id not in seen:
            assert asyncio.get_running_loop().time() < deadline, "no outcome in time"
            for batch in (await outcomes.getmany(timeout_ms=200)).values():
                for rec in batch:
                    outcome = serde.decode(rec.value)[1]
                    seen[outcome["envelope"]["correlation_id"]] = outcome
        return seen[request_id]

    try:
        yield ask
    finally:
        await outcomes.stop()
        await producer.stop()
        stop.set()
        await asyncio.gather(*tasks)


async def audited(settings, serde, count: int) -> list[dict]:
    records = await consume(settings, Topics(settings.topic_prefix).audit_records, count)
    return [serde.decode(r.value)[1] for r in records]


async def test_the_registry_topic_is_created_compacted(topics_ready):
    admin = kafka.admin(topics_ready.kafka)
    await admin.start()
    try:
        topic = Topics(topics_ready.topic_prefix).consent_registry
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        configs = {c[0]: c[1] for c in response.resources[0][4]}
    finally:
        await admin.close()
    assert configs.get("cleanup.policy") == "compact"


async def test_an_opposition_a_grant_and_a_revocation_each_decide_the_requests_that_follow(topics_ready, serde):
    settings = topics_ready
    async with running(settings, serde) as ask:
        assert (await ask(patient_summary_request()))["status"] == "COMPLETED"  # no word from the patient yet

        await record(settings, directive("OPPOSITION", "PT", "PT-TEST-1", None, None, None, None, "test"))
        denied = await ask(patient_summary_request())
        assert denied["status"] == "DENIED" and denied["error"]["code"] == "PATIENT_OPPOSED"

        await record(settings, directive("GRANT", "PT", "PT-TEST-1", HP, None, "patient-summary", None, "test"))
        assert (await ask(patient_summary_request()))["status"] == "COMPLETED"
        other = await ask(patient_summary_request(rpps="10009999995"))  # the grant names one professional
        assert other["error"]["code"] == "PATIENT_OPPOSED"

        await record(settings, directive("REVOCATION", "PT", "PT-TEST-1", HP, None, "patient-summary", None, "test"))
        revoked = await ask(patient_summary_request())
        assert revoked["status"] == "DENIED" and revoked["error"]["code"] == "CONSENT_REVOKED"

        # our registry allows, country A still refuses (4701): the HP gets exactly that answer
        await record(settings, directive("GRANT", "PT", "PT-NO-CONSENT", HP, None, None, None, "test"))
        refused = await ask(patient_summary_request(patient_id="PT-NO-CONSENT"))
        assert refused["status"] == "FAILED" and refused["error"]["code"] == "NO_CONSENT"
        assert "(4701)" in refused["error"]["message"]

        # 4 directives; 3 requests answered by country A x 5 records; 3 denied x 3 (requested, decided, outcome)
        records = await audited(settings, serde, 4 + 3 * 5 + 3 * 3)
    actions = [(r["action"], r["outcome"], r["reason_code"]) for r in records]
    assert ("PS_RETRIEVED", "FAILURE", "NO_CONSENT") in actions
    for registry_change in ("PATIENT_OPPOSED", "CONSENT_GRANTED", "CONSENT_REVOKED"):
        assert (registry_change, "SUCCESS", None) in actions
    assert actions.count(("CONSENT_DECIDED", "DENIED", "PATIENT_OPPOSED")) == 2
    assert actions.count(("CONSENT_DECIDED", "DENIED", "CONSENT_REVOKED")) == 1
    assert actions.count(("PS_QUERY_ROUTED", "SUCCESS", None)) == 3, "only authorised requests reach country A"


async def test_emergency_is_flagged_where_allowed_refused_elsewhere_and_abuse_raises_alerts(topics_ready, serde):
    settings = ConsentServiceSettings.of(topics_ready)
    settings.consent.abuse_max_per_patient = 2
    async with running(settings, serde) as ask:
        for _ in range(3):
            answer = await ask(patient_summary_request(purpose="EMERGENCY"))
            assert answer["status"] == "COMPLETED"
        refused = await ask(patient_summary_request(purpose="EMERGENCY", country="FI", patient_id="X"))
        assert refused["status"] == "DENIED" and refused["error"]["code"] == "EMERGENCY_NOT_ALLOWED"
        assert "urgence" in refused["error"]["message"]
        records = await audited(settings, serde, 3 * 5 + 4 + 3)

    alerts = [serde.decode(r.value)[1] for r in
              await consume(settings, Topics(settings.topic_prefix).security_events, 4)]
    assert sorted(a["kind"] for a in alerts) == ["ABUSE_PATIENT", "EMERGENCY_ACCESS", "EMERGENCY_ACCESS",
                                                 "EMERGENCY_ACCESS"]
    abuse = next(a for a in alerts if a["kind"] == "ABUSE_PATIENT")
    assert (abuse["observed"], abuse["threshold"], abuse["window_seconds"]) == (3, 2, 3600)
    assert sum(r["action"] == "SECURITY_ALERT" for r in records) == 4
    assert all(r["purpose"] == "EMERGENCY" for r in records if r["action"] == "SECURITY_ALERT")


async def test_an_unreadable_directive_refuses_its_patient_until_a_readable_one_replaces_it(topics_ready, serde):
    settings = topics_ready
    topics = Topics(settings.topic_prefix)
    opposition = directive("OPPOSITION", "PT", "PT-TEST-1", None, None, None, None, "test")
    producer = kafka.producer(settings.kafka)
    await producer.start()
    await producer.send_and_wait(topics.consent_registry, b"\xc3\x01 not a directive", key=directive_key(opposition))
    await producer.stop()
    async with running(settings, serde) as ask:
        refused = await ask(patient_summary_request())
        assert refused["status"] == "DENIED" and refused["error"]["code"] == "CONSENT_REGISTRY_UNREADABLE"
        assert (await ask(patient_summary_request(patient_id="PT-NO-CONSENT")))["error"]["code"] == "NO_CONSENT"
        await record(settings, directive("GRANT", "PT", "PT-TEST-1", None, None, None, None, "test"))
        assert (await ask(patient_summary_request()))["error"]["code"] == "CONSENT_REGISTRY_UNREADABLE"  # other key
        # under the same key, readable: the patient's word is known again
        await record(settings, directive("OPPOSITION", "PT", "PT-TEST-1", None, None, None, None, "test"))
        assert (await ask(patient_summary_request()))["error"]["code"] == "PATIENT_OPPOSED"
