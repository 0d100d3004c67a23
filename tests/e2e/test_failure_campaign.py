"""Failure campaign (issue 9, part 3): the whole system (``passerelle up``) under a steady load of
Patient Summary and prescriptions requests over HTTP; each service in turn is killed (SIGKILL) and
restarted by the supervisor. Afterwards: every accepted request has exactly one answer (over the API
and as one distinct outcome event), the audit store holds each record exactly once, the hash chain
verifies, and no consumer group is stuck. Run with ``-s`` to see what happened."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from passerelle import kafka
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import AuditSettings, KafkaSettings, Settings
from passerelle.testing import RunningSystem, read_topic
from passerelle.tokens import mint
from passerelle.topics import Topics
from passerelle.audit_store import AuditStore

from tests.e2e.campaign import ASSIGNED, Load, group_lags, group_topics, started_count, worker_pids
from tests.e2e.campaign_checks import (Findings, answers_over_the_api, audited_once, dispensed_as_acknowledged,
                                       one_outcome_per_request, one_restart_per_kill)
from tests.e2e.conftest import stop

pytestmark = pytest.mark.e2e
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KILL_ORDER = ["consent", "router", "foreign-ncp", "translation", "audit", "audit-store", "prescription", "gateway"]
PHARMACIST = ("10002000007", "21")  # may read summaries and list prescriptions
RATE = 10  # requests per second, every kind together
ANSWER_WITHIN = 60  # seconds after the load stops for the last requests to end
RESUMED: dict[str, float] = {}  # worker -> seconds from its SIGKILL to its partitions assigned again
PRESCRIPTION, ITEM, PRESCRIBED = "1.2.246.10.999.3^FI-EP-1001", "FI-EP-1001.1", 3  # data/ncp/FI/140772-946S/ep


def summary(country: str, patient_id: str, confirmed: bool = True) -> dict:
    return {"country": country, "patient_id": patient_id, "purpose": "TREATMENT",
            "consent": {"confirmed": confirmed, "information_notice_given": True}}


CASES = [
    ("ps", summary("PT", "193857264"), "completed"),
    ("ps", summary("FI", "140772-946S"), "completed"),
    ("ps", summary("PT", "193857264", confirmed=False), "denied"),  # ends at consent
    ("ps", summary("NL", "574687583"), "completed"),  # FHIR IPS
    ("ps", summary("ZZ", "123"), "failed"),  # unknown country: ends at the router
    ("ps", summary("GR", "23044903575"), "completed"),
    ("ep", {"country": "FI", "patient_id": "140772-946S", "consent_confirmed": "true",
            "information_notice_given": "true"}, "completed"),  # consent, router, country A, translation, prescription
    # One package of a prescription of 3 (data/ncp/FI/140772-946S/ep): acknowledged by country A while
    # some remain, then rejected (QUANTITY_EXCEEDED); rejected too before the first listing arrives.
    ("dp", {"country": "FI", "patient_id": "140772-946S", "prescription_id": PRESCRIPTION,
            "lines": [{"item_id": ITEM, "quantity": 1}]}, None),
]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """The system with its audit store in PostgreSQL (tables of its own), JSON logs."""
    workdir = tmp_path_factory.mktemp("campaign")
    prefix = f"campaign_{uuid.uuid4().hex[:8]}_"
    running = RunningSystem(workdir, os.environ.get("PASSERELLE_TEST_BOOTSTRAP"), PASSERELLE_LOG_FORMAT="json",
                            PASSERELLE_AUDIT__DATABASE_URL=POSTGRES, PASSERELLE_AUDIT__TABLE_PREFIX=prefix)
    store = None
    try:
        running.wait_ready(timeout=90)
        store = AuditStore(POSTGRES, prefix)
        yield running, store
    finally:
        if running.process.poll() is None:
            running.interrupt()
        if store is not None:
            store.drop()


def bootstrap_of(system: RunningSystem) -> str:
    if os.environ.get("PASSERELLE_TEST_BOOTSTRAP"):
        return os.environ["PASSERELLE_TEST_BOOTSTRAP"]
    for line in system.log.read_text().splitlines():
        if "embedded broker started" in line:
            return json.loads(line)["bootstrap"]
    raise AssertionError("no embedded broker address in the log")


async def wait_for(condition, what: str, timeout: float) -> float:
    """Seconds until ``condition()`` (sync or async) is true."""
    start = time.monotonic()
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise TimeoutError(what)
        await asyncio.sleep(0.1)


async def gateway_answers(system: RunningSystem, path: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{system.url}{path}")).status_code == 200
    except httpx.TransportError:
        return False


async def kill_and_watch_restart(system: RunningSystem, name: str) -> str:
    """SIGKILL the worker; wait for the supervisor's new process and for it to be at work again
    (connected and reading: its "started" log line; the gateway: /readyz, i.e. caught up)."""
    pids = await asyncio.to_thread(worker_pids, system.process.pid)
    old, starts = pids[name], await asyncio.to_thread(started_count, system.log, name)
    assigned = await asyncio.to_thread(started_count, system.log, name, ASSIGNED)
    os.kill(old, signal.SIGKILL)
    killed = time.monotonic()

    async def replaced():
        return (await asyncio.to_thread(worker_pids, system.process.pid)).get(name, old) != old
    await wait_for(replaced, f"{name} restarted", 30)
    restarted = f"{time.monotonic() - killed:.1f} s"
    if name == "gateway":  # listening (/healthz), then caught up with the topics (/readyz)
        await wait_for(lambda: gateway_answers(system, "/healthz"), "gateway listening", 60)
        restarted = f"{restarted}, listening after {time.monotonic() - killed:.1f} s"
        await wait_for(lambda: gateway_answers(system, "/readyz"), "gateway ready", 90)
    else:
        await wait_for(lambda: asyncio.to_thread(lambda: started_count(system.log, name) > starts),
                       f"{name} reading again", 60)
        if name != "audit-store":  # its partitions, alone or in its group (the audit store logs none in a group)
            await wait_for(lambda: asyncio.to_thread(lambda: started_count(system.log, name, ASSIGNED) > assigned),
                           f"{name} assigned its partitions", 60)
    RESUMED[name] = time.monotonic() - killed
    return f"killed {name} (pid {old}): new process after {restarted}, at work after {time.monotonic() - killed:.1f} s"


async def test_killing_each_service_in_turn_under_load_loses_no_answer_and_duplicates_nothing(campaign, tmp_path):
    system, store = campaign
    started = time.monotonic()
    topics = Topics(system.env.get("PASSERELLE_TOPIC_PREFIX", "passerelle"))
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=bootstrap_of(system)), topic_prefix=topics.prefix,
                        state_dir=tmp_path, audit=AuditSettings(database_url=POSTGRES, table_prefix=store.records.name[:-7]))
    found = Findings()
    existing = set(await topic_names(settings))  # `passerelle up` applies the topics before it starts the workers
    groups = asyncio.create_task(asyncio.to_thread(group_topics, settings.topic_prefix, existing, tmp_path / "scratch"))

    # Load; each service killed in turn, once the one before is at work again; every request polled to its end.
    load = Load(system.url, mint(Path(system.env["PASSERELLE_STATE_DIR"]), settings.tokens, *PHARMACIST, "750000001"),
                CASES, RATE)
    stop_load = asyncio.Event()
    generator = asyncio.create_task(load.run(stop_load, answer_within=ANSWER_WITHIN))
    try:
        await wait_for(lambda: any(r.status == "completed" for r in load.requests), "a first answer", 30)
        for name in KILL_ORDER:
            found.report.append(await kill_and_watch_restart(system, name))
            await asyncio.sleep(1.0)  # load meanwhile
        await asyncio.sleep(2.0)
    finally:
        stop_load.set()
    await asyncio.wait_for(generator, ANSWER_WITHIN + 30)
    load_s = time.monotonic() - started
    answers_over_the_api(load.requests, load.retries, load.unexpected, found)

    # No consumer group is stuck: each one's committed offsets reach its topics' end offsets.
    await groups_caught_up(settings, await groups, found)

    # Read once everything has settled.
    serde = AvroSerde(SchemaSet(settings.schemas_dir))
    names = [topics.ps_requested, topics.ps_outcomes, topics.ep_requested, topics.ep_outcomes, topics.ep_state,
             topics.ep_commands, topics.audit_records, topics.consent_decisions, topics.ncp_inbound]
    read = dict(zip(names, [await read_topic(settings, serde, t) for t in names]))
    accepted = {kind: {r.request_id for r in load.requests if r.kind == kind and r.request_id} for kind in ("ps", "ep")}
    one_outcome_per_request("ps", accepted["ps"], read[topics.ps_requested], read[topics.ps_outcomes], found)
    one_outcome_per_request("ep", accepted["ep"], read[topics.ep_requested], read[topics.ep_outcomes], found)
    dispensed_as_acknowledged([r for r in load.requests if r.kind == "dp" and r.request_id], read[topics.ep_state],
                              read[topics.ep_commands], PRESCRIPTION, ITEM, PRESCRIBED, found)
    flow = {e["envelope"]["event_id"] for t in (topics.ps_requested, topics.consent_decisions, topics.ncp_inbound,
                                                 topics.ps_outcomes) for e in read[t]}
    rows = await asyncio.to_thread(lambda: list(store.rows()))
    audited_once(read[topics.audit_records], rows, accepted["ps"], flow, found)

    # The hash chain verifies (what `passerelle audit verify` runs).
    breaks = await asyncio.to_thread(store.verify)
    found.problem([f"hash chain: {b}" for b in breaks])
    found.report.append(f"hash chain of the {len(rows)} stored records: {'verified' if not breaks else f'{len(breaks)} break(s)'}")

    one_restart_per_kill(system.log.read_text().splitlines(), KILL_ORDER, found)
    # How fast a stage reads again is printed, not asserted: on the embedded broker (standalone, no
    # group to wait for) it is the new process's own start, the machine's speed (a figure, not a test).
    found.report.append(f"stages reading again after SIGKILL: max {max(RESUMED.values()):.1f} s "
                        f"({', '.join(f'{n} {s:.1f}' for n, s in RESUMED.items())})")
    code, survivors = stop(system)  # Ctrl-C still stops everything
    if code != 0 or survivors:
        found.problems.append(f"Ctrl-C: exit {code}, still running: {survivors}")
    found.report.append(f"campaign: {load_s:.0f} s of load, {time.monotonic() - started:.0f} s in all")

    print("\nFailure campaign\n  " + "\n  ".join(found.report))
    assert not found.problems, "\n".join(found.problems)


async def groups_caught_up(settings: Settings, groups: dict[str, list[str]], found: Findings, timeout: float = 30) -> None:
    lags: dict = {}

    async def caught_up():
        nonlocal lags
        lags = await group_lags(settings, groups)
        return not any(lags.values())
    try:
        waited = await wait_for(caught_up, "consumer groups caught up", timeout)
        found.report.append(f"consumer groups: {len(groups)} caught up with their {sum(map(len, groups.values()))} "
                            f"topics {waited:.1f} s after the load ended")
    except TimeoutError:
        found.problems.append(f"consumer groups still behind after {timeout:.0f} s: { {g: l for g, l in lags.items() if l} }")


async def topic_names(settings: Settings) -> list[str]:
    consumer = kafka.consumer(settings.kafka, None)
    await consumer.start()
    try:
        return list(await consumer.topics())
    finally:
        await consumer.stop()
