"""Each processor stage of the Patient Summary flow alone on the real broker: its own throughput.

How a stage is measured ("alone")
---------------------------------
On one embedded broker, with a topic prefix of its own (every declared topic created, as
``passerelle up`` does), ``N`` ``PatientSummaryRequested`` events are produced exactly as the gateway
builds them (``services.gateway.summaries.rules.patient_summary_requested`` with a verified development
token's claims, for the PT demo patient of the flow benchmark). Then each stage of the request path
runs, one after the other and **alone** (no other service running), as the same process
``passerelle up`` starts (``python -m services.<name>``), on the backlog the previous stage left:

    consent (ps.requested → consent.decisions) → router (→ ncp.pt.outbound)
    → foreign-ncp (→ ncp.inbound) → translation (→ ps.outcomes) → audit (every event above → audit.records)

So every stage reads the very events the flow produces, with its own start-up excluded: a
group-less observer (fetch_max_wait_ms=5) on the stage's output topic notes when each batch of
outputs was seen; throughput = (outputs − 1) / (the last output's record timestamp − the first's:
the stage's producer stamps each record when it sends it), divided by the outputs per request (1,
but 5 for audit: one record per event). CPU per request = utime + stime of the stage process and
of the broker between the first and the last batch of outputs seen, divided by the requests the
outputs seen after the first batch stand for (at least two batches are needed: ask for more
requests than a batch, 500). A stage alone has a core to itself (and the broker
the other): in the whole flow every service, the gateway, the audit store and the load client share
the machine's cores, which is why the flow cannot reach the slowest stage's figure on 2 cores.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.hop_cost import cpu_seconds
from benchmarks.processes import Profiler
from passerelle import PROJECT_ROOT, kafka
from passerelle.events import PS_REQUESTED, request_key
from passerelle.runtime import make_serde
from passerelle.settings import KafkaSettings, Settings
from system.supervisor import EMBEDDED_PARTITIONS
from passerelle.topic_admin import apply_topics
from passerelle.topics import Topics

BODY = {"country": "PT", "patient_id": "193857264", "purpose": "TREATMENT",
        "consent": {"confirmed": True, "information_notice_given": True}}
HP = {"rpps": "10001234565", "profession": "10", "organisation": "750000001"}
OBSERVER_FETCH_WAIT_MS = 5
#: Every request of a benchmark comes from one professional for one patient: without this, consent's
#: abuse detection (docs/consent.md) raises a SecurityAlert on almost every request, which is not the
#: load being measured. The rules are still applied to every request.
BENCH_ENV = {"PASSERELLE_CONSENT__ABUSE_MAX_PER_PROFESSIONAL": "100000000",
             "PASSERELLE_CONSENT__ABUSE_MAX_PER_PATIENT": "100000000",
             "PASSERELLE_LOG_FORMAT": "json",
             # The flow's ``passerelle up`` is handed the bench's embedded broker: the topics as
             # ``passerelle up`` makes them on its own embedded broker (Settings.topic_partitions).
             "PASSERELLE_TOPIC_PARTITIONS": str(EMBEDDED_PARTITIONS)}


@dataclass(frozen=True)
class Stage:
    name: str  # worker name, as ``passerelle worker NAME``
    module: str
    output: str  # Topics attribute of the output topic ("ncp_outbound:pt" for a per-country one)
    outputs_per_request: int = 1


STAGES = (
    Stage("consent", "services.consent", "consent_decisions"),
    Stage("router", "services.router", "ncp_outbound:pt"),
    Stage("foreign-ncp", "services.foreign_ncp", "ncp_inbound"),
    Stage("translation", "services.translation", "ps_outcomes"),
    Stage("audit", "services.audit", "audit_records", outputs_per_request=5),
)
#: The topics of one request's path, in order, for the typical encoded size of a flow event.
FLOW_TOPICS = ("ps_requested", "consent_decisions", "ncp_outbound:pt", "ncp_inbound", "ps_outcomes")


@dataclass
class StageResult:
    stage: str
    status: str = "ok"
    requests: int = 0
    outputs: int = 0
    requests_per_s: float | None = None
    cpu_ms_per_request: float | None = None
    stage_cpu_ms_per_request: float | None = None
    broker_cpu_ms_per_request: float | None = None


def topic_name(topics: Topics, attr: str) -> str:
    key, _, country = attr.partition(":")
    name = getattr(topics, key)
    return name(country) if country else name


class OutputWatch:
    """A group-less consumer on one topic: how many records, when each batch was seen, and the CPU
    of the watched processes at the first and at the last record."""

    def __init__(self, k: KafkaSettings, topic: str, pids: list[int | None]):
        self.consumer = kafka.consumer(k.model_copy(update={"fetch_max_wait_ms": OBSERVER_FETCH_WAIT_MS}), None, topic)
        self.pids = pids
        self.count = 0
        self.first_batch = 0
        self.first_seen = self.last_seen = None
        self.cpu_first: list[float] = []
        self.cpu_last: list[float] = []
        self.sizes: list[int] = []
        self.first_ts = self.last_ts = None  # record timestamps (ms): when the stage sent them

    async def run(self, expected: int, quiet_s: float, timeout: float) -> None:
        await self.consumer.start()
        deadline = time.monotonic() + timeout
        try:
            while self.count < expected and time.monotonic() < deadline:
                if self.last_seen and time.monotonic() - self.last_seen > quiet_s:
                    break
                batch = await self.consumer.getmany(timeout_ms=200)
                n = sum(len(records) for records in batch.values())
                if not n:
                    continue
                now = time.monotonic()
                cpu = [cpu_seconds(p) if p else 0.0 for p in self.pids]  # None: an external broker
                stamps = [r.timestamp for records in batch.values() for r in records]
                self.first_ts = min(stamps + ([self.first_ts] if self.first_ts else []))
                self.last_ts = max(stamps + ([self.last_ts] if self.last_ts else []))
                if self.first_seen is None:
                    self.first_seen, self.first_batch, self.cpu_first = now, n, cpu
                    self.sizes = [len(r.value) for records in batch.values() for r in records][:50]
                self.count += n
                self.last_seen, self.cpu_last = now, cpu
        finally:
            await self.consumer.stop()


def spawn_worker(stage: Stage, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", stage.module], env=env, cwd=PROJECT_ROOT,
                                stdout=out, stderr=subprocess.STDOUT)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def seed_requests(settings: Settings, count: int) -> None:
    """``count`` PatientSummaryRequested, as the gateway builds them from a verified token."""
    from passerelle.tokens import TokenVerifier, mint
    from services.gateway.summaries.rules import patient_summary_requested

    claims = TokenVerifier(settings.tokens, settings.state_dir).verify(
        mint(settings.state_dir, settings.tokens, HP["rpps"], HP["profession"], HP["organisation"]))
    serde = make_serde(settings)
    producer = kafka.producer(settings.kafka)
    await producer.start()
    try:
        topic, acks = Topics(settings.topic_prefix).ps_requested, []
        for _ in range(count):
            event = patient_summary_requested(BODY, claims, "127.0.0.1")
            acks.append(await producer.send(topic, serde.encode(PS_REQUESTED, event), key=request_key(event)))
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def encoded_sizes(settings: Settings) -> dict[str, int]:
    """Median encoded size (bytes) of the events on each topic of one request's path."""
    topics = Topics(settings.topic_prefix)
    sizes = {}
    for attr in FLOW_TOPICS:
        watch = OutputWatch(settings.kafka, topic_name(topics, attr), [])
        await watch.run(expected=1, quiet_s=1.0, timeout=10.0)
        if watch.sizes:
            sizes[attr.replace(":pt", "")] = int(statistics.median(watch.sizes))
    return sizes


async def measure_stage(stage: Stage, settings: Settings, env: dict[str, str], broker_pid: int | None, requests: int,
                        logs: Path, timeout: float, profile_dir: Path | None = None) -> StageResult:
    result = StageResult(stage.name, requests=requests)
    proc = spawn_worker(stage, env, logs / f"stage-{stage.name}.log")
    profiler = Profiler(profile_dir)
    profiler.attach(proc.pid, f"stage-{stage.name}")
    try:
        watch = OutputWatch(settings.kafka, topic_name(Topics(settings.topic_prefix), stage.output),
                            [proc.pid, broker_pid])
        await watch.run(expected=requests * stage.outputs_per_request, quiet_s=5.0, timeout=timeout)
    finally:
        profiler.stop()
        stop_worker(proc)
    result.outputs = watch.count
    per_request = stage.outputs_per_request
    if watch.count < 2 or watch.last_ts <= watch.first_ts:
        result.status = f"failed: {watch.count} outputs seen (log {logs / f'stage-{stage.name}.log'})"
        return result
    # Throughput from the outputs' own timestamps (the stage's producer stamps each at send): first
    # output sent → last output sent, start-up and the observer's fetch wait excluded.
    result.requests_per_s = round((watch.count - 1) / per_request / ((watch.last_ts - watch.first_ts) / 1000), 1)
    # CPU between the first and the last batch seen, for the outputs seen after the first batch.
    measured = (watch.count - watch.first_batch) / per_request
    if measured > 0:
        stage_cpu, broker_cpu = (last - first for first, last in zip(watch.cpu_first, watch.cpu_last))
        result.stage_cpu_ms_per_request = round(stage_cpu / measured * 1e3, 3)
        # An external broker's CPU is not measured: the stage's own, and None for the broker.
        result.broker_cpu_ms_per_request = round(broker_cpu / measured * 1e3, 3) if broker_pid else None
        result.cpu_ms_per_request = round((stage_cpu + broker_cpu) / measured * 1e3, 3)
    if watch.count < requests * per_request:
        result.status = f"incomplete: {watch.count}/{requests * per_request} outputs"
    return result


async def run_stages(bootstrap: str, broker_pid: int | None, requests: int, state_dir: Path, logs: Path,
                     timeout: float = 120.0, log=print, profile_dir: Path | None = None) -> dict:
    """Every stage alone, in flow order, on ``requests`` seeded requests; and the flow events' sizes."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(kafka=KafkaSettings(bootstrap_servers=bootstrap), topic_prefix=prefix, state_dir=state_dir,
                        topic_partitions=EMBEDDED_PARTITIONS)  # the topics of the flow's ``passerelle up``
    await apply_topics(settings)
    env = {**os.environ, **BENCH_ENV, "PASSERELLE_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
           "PASSERELLE_TOPIC_PREFIX": prefix, "PASSERELLE_STATE_DIR": str(state_dir),
           "PASSERELLE_LOG_LEVEL": os.environ.get("PASSERELLE_LOG_LEVEL", "INFO")}
    await seed_requests(settings, requests)
    results = []
    for stage in STAGES:
        log(f"[bench] stage alone: {stage.name} ({requests} requests)")
        results.append(await measure_stage(stage, settings, env, broker_pid, requests, logs, timeout, profile_dir))
        log(f"[bench]   {results[-1].requests_per_s} requests/s, {results[-1].status}")
    sizes = await encoded_sizes(settings)
    return {"stages": [asdict(r) for r in results], "event_bytes": sizes,
            "typical_event_bytes": round(statistics.mean(sizes.values())) if sizes else None}
