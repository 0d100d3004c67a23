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
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import AuditSettings, KafkaSettings, Settings
from passerelle.testing import RunningSystem
from passerelle.tokens import mint
from passerelle.topics import Topics
from services.audit.store.db import AuditStore

from tests.e2e.campaign import Load, group_lags, group_topics, read_topic, started_count, worker_pids
from tests.e2e.conftest import stop

pytestmark = pytest.mark.e2e
POSTGRES = os.environ.get("PASSERELLE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
KILL_ORDER = ["consent", "router", "foreign-ncp", "translation", "audit", "audit-store", "prescription", "gateway"]
PHARMACIST = ("10002000007", "21")  # may read summaries and list prescriptions
RATE = 10  # requests per second, every kind together


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
    ("dp", {"country": "FI", "patient_id": "140772-946S", "prescription_id": "1.2.246.10.999.3^FI-EP-1001",
            "lines": [{"item_id": "FI-EP-1001.1", "quantity": 1}]}, None),
]
PRESCRIPTION, ITEM, PRESCRIBED = "1.2.246.10.999.3^FI-EP-1001", "FI-EP-1001.1", 3
#: Audit actions of one Patient Summary request's own steps (alerts aside).
FLOW_ACTIONS = {"PS_REQUESTED", "CONSENT_DECIDED", "PS_QUERY_ROUTED", "PS_RETRIEVED", "PS_OUTCOME"}


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
    return f"killed {name} (pid {old}): new process after {restarted}, at work after {time.monotonic() - killed:.1f} s"


def distinct_by_request(events: list[dict]) -> dict[str, list[dict]]:
    by_request = defaultdict(list)
    for event in events:
        by_request[event["envelope"]["correlation_id"]].append(event)
    return by_request


async def test_killing_each_service_in_turn_under_load_loses_no_answer_and_duplicates_nothing(campaign, tmp_path):
    system, store = campaign
    started = time.monotonic()
    topics_ = Topics(system.env.get("PASSERELLE_TOPIC_PREFIX", "passerelle"))
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=bootstrap_of(system)), topic_prefix=topics_.prefix,
                        state_dir=tmp_path, audit=AuditSettings(database_url=POSTGRES, table_prefix=store.records.name[:-7]))
    serde = AvroSerde(SchemaSet(settings.schemas_dir))
    read: dict[str, list[dict]] = {}

    async def events(topic: str) -> list[dict]:  # each topic read once, after everything has settled
        if topic not in read:
            read[topic] = await read_topic(settings, serde, topic)
        return read[topic]
    report: list[str] = []
    problems: list[str] = []

    existing = set(await _topics(settings))  # created by `passerelle up` (topics apply) before it started the workers
    groups = asyncio.create_task(asyncio.to_thread(group_topics, settings.topic_prefix, existing, tmp_path / "scratch"))
    token = mint(Path(system.env["PASSERELLE_STATE_DIR"]), settings.tokens, *PHARMACIST, "750000001")
    load = Load(system.url, token, CASES, RATE)
    stop_load = asyncio.Event()
    generator = asyncio.create_task(load.run(stop_load, answer_deadline=time.monotonic() + 150))
    try:
        await wait_for(lambda: any(r.status == "completed" for r in load.requests), "a first answer", 30)
        for name in KILL_ORDER:
            report.append(await kill_and_watch_restart(system, name))
            await asyncio.sleep(1.0)  # load meanwhile
        await asyncio.sleep(2.0)
    finally:
        stop_load.set()
    # Every accepted request is polled until it ends (or its deadline passes).
    await asyncio.wait_for(generator, 150)
    load_s = time.monotonic() - started

    # 1. Every accepted request ended as expected, over the API.
    accepted = load.accepted
    wrong = [f"{r.kind} {r.request_id}: {r.status} (expected {r.expected or 'an end'})" for r in accepted
             if r.status != r.expected and not (r.expected is None and r.status in ("acknowledged", "rejected"))]
    problems += wrong[:10] + load.unexpected[:10]
    by_kind = Counter(r.kind for r in accepted)
    report.append(f"requests: {len(accepted)} accepted ({dict(by_kind)}) of {len(load.requests)} started; "
                  f"sent again: {dict(load.retries)}; statuses: {dict(Counter(r.status for r in accepted))}; "
                  f"404 while a restarted gateway caught up: {sum(r.not_found for r in accepted)} "
                  f"(on {sum(1 for r in accepted if r.not_found)} requests)")

    # 2. No consumer group is stuck: each one's committed offsets reach its topics' end offsets.
    groups = await groups
    lags: dict = {}

    async def caught_up():
        nonlocal lags
        lags = await group_lags(settings, groups)
        return not any(lags.values())
    try:
        waited = await wait_for(caught_up, "consumer groups caught up", 30)
        report.append(f"consumer groups: {len(groups)} caught up with their {sum(map(len, groups.values()))} "
                      f"topics {waited:.1f} s after the load ended")
    except TimeoutError:
        problems.append(f"consumer groups still behind after 30 s: { {g: l for g, l in lags.items() if l} }")

    # 3. Exactly one answer per request on the outcome topics: copies of one event, never two events.
    for kind, requested_topic, outcome_topic in (("ps", topics_.ps_requested, topics_.ps_outcomes),
                                                 ("ep", topics_.ep_requested, topics_.ep_outcomes)):
        requested = {e["envelope"]["correlation_id"] for e in await events(requested_topic)}
        outcomes = distinct_by_request(await events(outcome_topic))
        mine = {r.request_id for r in accepted if r.kind == kind}
        several = {rid: evs for rid, evs in outcomes.items() if len({e["envelope"]["event_id"] for e in evs}) > 1}
        copies = sum(len(evs) - len({e["envelope"]["event_id"] for e in evs}) for evs in outcomes.values())
        unanswered = requested - set(outcomes)
        problems += [f"{kind} {rid}: {len(evs)} different outcome events" for rid, evs in list(several.items())[:10]]
        problems += [f"{kind} {rid}: never answered" for rid in sorted(unanswered)[:10]]
        problems += [f"{kind}: accepted request {rid} not on {requested_topic}" for rid in sorted(mine - requested)[:10]]
        report.append(f"{kind} outcomes: {len(requested)} requests on the topic ({len(requested - mine)} whose "
                      f"acceptance the client never saw), {len(outcomes)} answered, {copies} redelivered copies "
                      f"collapsed (same event id), {len(several)} with two different outcome events")

    # 3b. Dispensations: one answer each, and the quantity dispensed is what country A acknowledged.
    dispensations = [r for r in accepted if r.kind == "dp"]
    acknowledged = sum(line["quantity"] for r in dispensations if r.status == "acknowledged" for line in r.answer["lines"])
    states = [s for s in await events(topics_.ep_state) if s["prescription"]["prescription_id"] == PRESCRIPTION]
    final = states[-1] if states else {"dispensed": {}, "dispensations": []}
    in_state = Counter(d["dispensation_id"] for d in final["dispensations"])
    answers = defaultdict(set)
    for command in await events(topics_.ep_commands):
        if "accepted" in command:  # a DispensationAnswered (country A's, or the prescription service's refusal)
            answers[command["dispensation_id"]].add(command["envelope"]["event_id"])
    problems += [f"dispensation {d} twice in the prescription state" for d, n in in_state.items() if n > 1]
    problems += [f"dispensation {r.request_id}: {len(answers[r.request_id])} answers" for r in dispensations
                 if len(answers[r.request_id]) != 1][:10]
    if not acknowledged == final["dispensed"].get(ITEM, 0) <= PRESCRIBED:
        problems.append(f"dispensed {final['dispensed']} vs {acknowledged} acknowledged over the API (prescribed {PRESCRIBED})")
    report.append(f"dispensations: {len(dispensations)} accepted, {dict(Counter(r.status for r in dispensations))}; "
                  f"{acknowledged} of {PRESCRIBED} packages acknowledged = dispensed in the state "
                  f"{final['dispensed'].get(ITEM, 0)}; reasons for rejections: "
                  f"{dict(Counter(r.answer['error']['code'] for r in dispensations if r.status == 'rejected'))}")

    # 4. The audit store holds each record once, and every record of the audit topic.
    audited = await events(topics_.audit_records)
    on_topic = Counter(a["source_event_id"] for a in audited)
    rows = await asyncio.to_thread(lambda: list(store.rows()))
    stored = Counter(r.source_event_id for r in rows)
    problems += [f"stored {n} times: {sid}" for sid, n in stored.items() if n > 1][:10]
    if set(stored) != set(on_topic):
        problems.append(f"store and audit topic differ: {len(set(on_topic) - set(stored))} missing, "
                        f"{len(set(stored) - set(on_topic))} unknown")
    steps = Counter((json.loads(r.body)["envelope"]["correlation_id"], r.columns["action"]) for r in rows)
    ps_ids = {r.request_id for r in accepted if r.kind == "ps"}
    twice = [(rid, action) for (rid, action), n in steps.items() if rid in ps_ids and action in FLOW_ACTIONS and n > 1]
    problems += [f"request {rid}: {action} audited twice" for rid, action in twice[:10]]
    flow_events = set()
    for topic in (topics_.ps_requested, topics_.consent_decisions, topics_.ncp_inbound, topics_.ps_outcomes):
        flow_events |= {e["envelope"]["event_id"] for e in await events(topic)}
    unaudited = flow_events - set(stored)
    problems += [f"event {e} of the flow never audited" for e in sorted(unaudited)[:10]]
    report.append(f"audit: {len(audited)} records on the topic, {len(on_topic)} distinct "
                  f"({len(audited) - len(on_topic)} redelivered copies), {sum(stored.values())} rows in the store; "
                  f"{len(flow_events)} flow events all audited: {not unaudited}")

    # 5. The hash chain verifies (what `passerelle audit verify` runs).
    breaks = await asyncio.to_thread(store.verify)
    problems += [f"hash chain: {b}" for b in breaks[:10]]
    report.append(f"hash chain of the {sum(stored.values())} stored records: "
                  f"{'verified' if not breaks else f'{len(breaks)} break(s)'}")

    # 6. Each kill was one restart, no worker died by itself; Ctrl-C still stops everything.
    restarts = [json.loads(line) for line in system.log.read_text().splitlines() if "service exited; restarting" in line]
    report.append(f"supervisor restarts: {Counter(r['worker'] for r in restarts)} "
                  f"(exit codes {sorted({r['code'] for r in restarts})})")
    if sorted(r["worker"] for r in restarts) != sorted(KILL_ORDER):
        problems.append(f"restarts other than the kills: {[(r['worker'], r['code']) for r in restarts]}")
    code, survivors = stop(system)
    if code != 0 or survivors:
        problems.append(f"Ctrl-C: exit {code}, still running: {survivors}")
    report.append(f"campaign: {load_s:.0f} s of load, {time.monotonic() - started:.0f} s in all")

    print("\nFailure campaign\n  " + "\n  ".join(report))
    assert not problems, "\n".join(problems)


async def _topics(settings: Settings) -> list[str]:
    from passerelle import kafka
    consumer = kafka.consumer(settings.kafka, None)
    await consumer.start()
    try:
        return list(await consumer.topics())
    finally:
        await consumer.stop()
