"""Scale-out on the real broker: two `passerelle worker NAME` processes of every service. Requests
arrive over HTTP at both gateways; one process of each service, gateway included, is stopped
(SIGTERM, as an orchestrator scales down) while requests keep coming. Every request is answered
(by the surviving gateway, whichever gateway took it) and reaches exactly one outcome and one audit
record per step; each consumer group is down to one member that reads every partition."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from passerelle import kafka
from passerelle.broker import free_port
from passerelle.service import Service
from system.supervisor import WORKERS
from passerelle.testing import read_topic
from passerelle.tokens import mint
from passerelle.topic_admin import apply_topics
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.topics import Topics, declared_topics

pytestmark = pytest.mark.integration
LISTING = {"country": "PT", "patient_id": "PT-TEST-1", "consent_confirmed": "true", "information_notice_given": "true",
           "wait": "0"}
#: The services this load goes through (a foreign patient's summary and prescriptions, asked in
#: France). Country A (a foreign NCP's request about a French patient) and the notifications (an
#: access to a French patient's record) get no event from it: two idle processes of each would prove
#: nothing, so they are not started.
SERVICES = [name for name in WORKERS if name not in (Service.COUNTRY_A, Service.NOTIFICATIONS)]
GROUP_SERVICES = [name for name in SERVICES if name != Service.GATEWAY]  # the gateway has no consumer group
REQUESTS = 150
FLOW_ACTIONS = {"PS_REQUESTED", "CONSENT_DECIDED", "PS_QUERY_ROUTED", "PS_RETRIEVED", "PS_OUTCOME"}
AUDIT_STEPS = len(FLOW_ACTIONS)  # every request's steps
#: Exit code after SIGTERM and a clean stop: uvicorn re-raises the signal once it has shut down.
GRACEFUL = {name: -signal.SIGTERM if name == "gateway" else 0 for name in WORKERS}
BODY = {"country": "PT", "patient_id": "PT-TEST-1", "purpose": "TREATMENT",
        "consent": {"confirmed": True, "information_notice_given": True}}


def start_worker(name: str, settings, log: Path) -> tuple[subprocess.Popen, int]:
    """``passerelle worker NAME`` as production runs it; returns the process and its port (metrics
    of a worker; HTTP of a gateway, which serves /metrics there)."""
    port = free_port()
    env = {**os.environ,
           "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
           "PASSERELLE_KAFKA__SESSION_TIMEOUT_MS": str(settings.kafka.session_timeout_ms),
           "PASSERELLE_KAFKA__HEARTBEAT_INTERVAL_MS": str(settings.kafka.heartbeat_interval_ms),
           "PASSERELLE_KAFKA__FETCH_MAX_WAIT_MS": str(settings.kafka.fetch_max_wait_ms),
           "PASSERELLE_TOPIC_PREFIX": settings.topic_prefix, "PASSERELLE_STATE_DIR": str(settings.state_dir),
           "PASSERELLE_NCP_DATA": str(settings.ncp_data), "PASSERELLE_CATALOGUE_DIR": str(settings.catalogue_dir),
           "PASSERELLE_METRICS_PORT": str(port), "PASSERELLE_HTTP_PORT": str(port)}
    process = subprocess.Popen([Path(sys.executable).parent / "passerelle", "worker", name], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    return process, port


def consumed(port: int) -> float:
    """Events this worker has consumed, from its own Prometheus metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("passerelle_events_consumed_total{"))


async def members(admin, group: str) -> int | None:
    """Members of a stable ``group`` (None while it rebalances). The embedded broker does not
    report member assignments, so the partitions are followed from the workers' side."""
    [response] = await admin.describe_consumer_groups([group])
    _error, _group, state, _ptype, _protocol, group_members = response.groups[0][:6]
    return len(group_members) if state == "Stable" else None


def flow_steps(audited: list[dict], requests: set[str]) -> collections.Counter:
    """How often each (request, step of the flow) is on the audit topic."""
    return collections.Counter((a["envelope"]["correlation_id"], a["action"]) for a in audited
                               if a["envelope"]["correlation_id"] in requests and a["action"] in FLOW_ACTIONS)


async def wait_until(condition, what: str, timeout: float = 40):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await condition()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.2)
    return result


async def test_two_processes_per_service_lose_one_each_under_load_and_answer_every_request_once(
        settings, tmp_path):
    await apply_topics(settings)
    topics = Topics(settings.topic_prefix)
    token = mint(settings.state_dir, settings.tokens, "10002000007", "21", "750000001")  # a pharmacist: summaries and prescriptions; creates the key first
    workers = {(name, i): start_worker(name, settings, tmp_path / f"{name}-{i}.log")
               for name in SERVICES for i in (1, 2)}
    gateways = [f"http://127.0.0.1:{workers['gateway', i][1]}" for i in (1, 2)]
    groups = {name: f"{settings.topic_prefix}.{name}" for name in GROUP_SERVICES}
    admin = kafka.admin(settings.kafka)
    await admin.start()
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10)
    request_ids: list[str] = []
    serde = AvroSerde(SchemaSet(settings.schemas_dir))

    async def post(count: int, urls: list[str]) -> None:
        for n in range(count):
            answer = await http.post(f"{urls[n % len(urls)]}/v1/patient-summaries", json=BODY)
            assert answer.status_code == 202, answer.text
            request_ids.append(answer.json()["request_id"])
            listed = await http.get(f"{urls[n % len(urls)]}/v1/prescriptions", params=LISTING)  # the prescription workers' share
            assert listed.status_code == 202, listed.text
            await asyncio.sleep(0.01)

    async def group_sizes(size):
        return all([await members(admin, g) == size for g in groups.values()])

    async def gateways_ready():
        try:
            return all([(await http.get(f"{url}/readyz")).status_code == 200 for url in gateways])
        except httpx.TransportError:
            return False

    try:
        # Sixteen Python processes start at once: on a loaded 2-core machine that alone can take a minute.
        await wait_until(lambda: group_sizes(2), "every group at two members", timeout=120)
        await wait_until(gateways_ready, "both gateways ready", timeout=60)
        await post(REQUESTS // 3, gateways)
        # The work is shared: each group worker has consumed events of its topics.
        await wait_until(lambda: asyncio.to_thread(lambda: all(
            consumed(workers[name, i][1]) > 0 for name in GROUP_SERVICES for i in (1, 2))), "every worker consuming")
        for name in SERVICES:  # under load: one process of each service stops
            workers[name, 1][0].send_signal(signal.SIGTERM)
        await post(REQUESTS - REQUESTS // 3, gateways[1:])
        assert all(workers[name, 1][0].wait(20) == GRACEFUL[name] for name in SERVICES), "a graceful stop"
        await wait_until(lambda: group_sizes(1), "every group down to its survivor")

        async def all_answered():  # by the surviving gateway, whichever gateway took the request
            answers = [(await http.get(f"{gateways[1]}/v1/patient-summaries/{r}")).json() for r in request_ids]
            return all(a["status"] == "completed" for a in answers)
        await wait_until(all_answered, "every request answered", timeout=60)

        async def every_step_audited():  # the listings' own records share the topic: count the steps
            return len(flow_steps(await read_topic(settings, serde, topics.audit_records), set(request_ids))) \
                == REQUESTS * AUDIT_STEPS
        await wait_until(every_step_audited, "every step audited", timeout=60)
        survivors = {name: consumed(workers[name, 2][1]) for name in GROUP_SERVICES}
    finally:
        await http.aclose()
        await admin.close()
        for process, _ in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {key: process.wait(20) for key, (process, _) in workers.items()}
    assert all(code == GRACEFUL[name] for (name, _), code in codes.items()), codes

    # Every process has stopped: nothing more can be written. Read both topics to their end.
    outcomes = await read_topic(settings, serde, topics.ps_outcomes)
    audited = await read_topic(settings, serde, topics.audit_records)
    answered = collections.Counter(o["envelope"]["correlation_id"] for o in outcomes)
    assert set(answered) == set(request_ids) and set(answered.values()) == {1}, "one outcome per request"
    # Abuse alerts (150 requests by one professional) are audited too: count the requests' own steps.
    steps = flow_steps(audited, set(answered))
    assert len(steps) == REQUESTS * AUDIT_STEPS and set(steps.values()) == {1}, "each step audited exactly once"
    assert len({a["source_event_id"] for a in audited}) == len(audited), "no event audited twice"
    # Rebalanced: requests sent after the stop went to every partition and were all answered, so
    # the survivors read the partitions the stopped workers had.
    partitions = list(range(declared_topics()["ps_requested"].partitions))
    after_stop = {DefaultPartitioner()(r.encode(), partitions, partitions) for r in request_ids[REQUESTS // 3:]}
    assert after_stop == set(partitions)
    assert all(count > 0 for count in survivors.values()), survivors

