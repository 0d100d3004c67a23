"""What the failure campaign (test_failure_campaign.py) needs: the workers' processes, a steady load
of requests over HTTP, the topics read whole, and the consumer groups' committed offsets."""

from __future__ import annotations

import asyncio
import importlib
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import TopicPartition

from passerelle import kafka
from passerelle.serde import AvroSerde, SchemaSet
from passerelle.settings import Settings
from system.supervisor import WORKERS


#: Errors a client retries: the gateway is down or restarting, or could not publish (503).
RETRIED = (httpx.TransportError,)


def _children(parent: int) -> list[int]:
    """Live child processes of ``parent`` (read from /proc: no process started to ask)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            _, rest = stat.read_text().rsplit(") ", 1)
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
        state, ppid = rest.split()[:2]
        if int(ppid) == parent and state != "Z":  # a zombie (killed, not yet reaped) is gone
            found.append(int(stat.parent.name))
    return found


def worker_pids(supervisor: int) -> dict[str, int]:
    """Worker name → pid of the live process ``passerelle up`` runs it in (its ``-m`` module)."""
    names = {module: name for name, module in WORKERS.items()}
    found = {}
    for pid in _children(supervisor):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if b"-m" in argv and argv.index(b"-m") + 1 < len(argv):
            module = argv[argv.index(b"-m") + 1].decode()
            if module in names:
                found[names[module]] = pid
    return found


#: What each worker logs once it is connected and reading (the gateway: /readyz instead).
STARTED = {"processor started", "audit store writer started"}


#: What a processor logs once it has partitions to read (alone at once; in a group, once it joined).
ASSIGNED = {"partitions assigned"}


def started_count(log: Path, worker: str, events: set[str] = STARTED) -> int:
    """How many times ``worker`` has said it started reading (or another of ``events``), in the JSON
    log of ``passerelle up``."""
    count = 0
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if f'"service": "{worker}"' in line and any(f'"event": "{s}"' in line for s in events):
            count += 1
    return count


#: kind → (how it is sent, where it is polled): a Patient Summary, a prescriptions listing, a dispensation.
SEND = {"ps": ("POST", "/v1/patient-summaries", "/v1/patient-summaries/"),
        "ep": ("GET", "/v1/prescriptions", "/v1/prescriptions/requests/"),
        "dp": ("POST", "/v1/dispensations", "/v1/dispensations/")}
FINAL = {"completed", "denied", "failed", "acknowledged", "rejected", "discarded"}


@dataclass
class Request:
    kind: str  # a key of SEND
    expected: str | None  # completed | denied | failed; None: any final status
    request_id: str | None = None  # a dispensation's id for a dispensation
    status: str | None = None
    answer: dict | None = None
    not_found: int = 0  # 404s seen for it (a gateway that had not caught up again)


@dataclass
class Load:
    """Requests at a steady rate, each polled until it ends; refused requests are sent again."""
    url: str
    token: str
    cases: list[tuple[str, dict, str]]  # (kind, body or query, expected status)
    rate: float
    requests: list[Request] = field(default_factory=list)
    retries: Counter = field(default_factory=Counter)  # why a request was sent again
    unexpected: list[str] = field(default_factory=list)

    async def run(self, stop: asyncio.Event, answer_within: float) -> None:
        """Send until ``stop``; then poll the requests still open for ``answer_within`` seconds more."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(headers=headers, timeout=10) as http:
            tasks, n, start = [], 0, time.monotonic()
            while not stop.is_set():
                kind, body, expected = self.cases[n % len(self.cases)]
                request = Request(kind, expected)
                self.requests.append(request)
                tasks.append(asyncio.create_task(self._one(http, request, body, stop, answer_within)))
                n += 1
                await asyncio.sleep(max(0.0, start + n / self.rate - time.monotonic()))  # a steady rate
            await asyncio.gather(*tasks)

    async def _one(self, http, request: Request, body: dict, stop: asyncio.Event, answer_within: float) -> None:
        backoff = 0.2  # doubles at each refusal, up to 2 s: a client that waits for a gateway coming back
        while request.request_id is None and not stop.is_set():
            method, path, _ = SEND[request.kind]
            try:
                if method == "POST":
                    response = await http.post(f"{self.url}{path}", json=body)
                else:
                    response = await http.get(f"{self.url}{path}", params={**body, "wait": "0"})
            except RETRIED as exc:
                self.retries[type(exc).__name__] += 1
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            if response.status_code == 503:
                self.retries["503 " + response.json()["error"]["code"]] += 1
                await asyncio.sleep(backoff)
                backoff = min(2.0, backoff * 2)
            elif response.status_code in (200, 202) and ({"request_id", "dispensation_id"} & set(response.json())):
                answer = response.json()
                request.request_id = answer.get("request_id") or answer["dispensation_id"]
                if response.status_code == 200:  # a prescriptions list that arrived within its wait
                    request.status, request.answer = answer["status"], answer
            else:
                self.unexpected.append(f"{request.kind} {response.status_code} {response.text[:200]}")
                return
        path = SEND[request.kind][2]
        stopped_at = None
        while request.request_id is not None and request.status not in FINAL:
            if stop.is_set():
                stopped_at = stopped_at or time.monotonic()
                if time.monotonic() - stopped_at > answer_within:
                    return
            await asyncio.sleep(1.0)
            try:
                response = await http.get(f"{self.url}{path}{request.request_id}")
            except RETRIED as exc:
                self.retries["poll " + type(exc).__name__] += 1
                continue
            if response.status_code == 404:
                request.not_found += 1
            elif response.status_code == 200:
                request.answer = response.json()
                request.status = request.answer["status"]
            else:
                self.retries[f"poll {response.status_code}"] += 1

    @property
    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.request_id is not None]


def group_topics(prefix: str, existing: set[str], scratch: Path) -> dict[str, list[str]]:
    """Consumer group → the topics it reads, as each worker's processor says it (the gateway has none)."""
    settings = Settings(topic_prefix=prefix, state_dir=scratch)
    serde = AvroSerde(SchemaSet(settings.schemas_dir))
    groups = {}
    for name, module_name in WORKERS.items():
        module = importlib.import_module(f"{module_name}.app")
        if not hasattr(module, "build"):
            continue
        processor = module.build(settings, serde)  # built, never run: what it would read
        read = sorted(t for t in existing if t in processor.topics
                      or (processor.pattern and re.match(processor.pattern, t)))
        groups[getattr(processor, "group", f"{prefix}.{getattr(processor, 'service', name)}")] = read
    return groups


async def group_lags(settings: Settings, groups: dict[str, list[str]]) -> dict[str, dict[str, int]]:
    """Group → topic → events not committed yet (committed offset below the end offset)."""
    admin, ends_client = kafka.admin(settings.kafka), kafka.consumer(settings.kafka, None)
    await admin.start()
    await ends_client.start()
    try:
        await ends_client.topics()
        lags = {}
        for group, topics in groups.items():
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(ends_client.partitions_for_topic(t) or [])]
            ends = await ends_client.end_offsets(partitions)
            # Tansu answers for the partitions it is asked about: name them.
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            lag: Counter = Counter()
            for tp in partitions:
                done = committed.get(tp)
                lag[tp.topic] += max(0, ends[tp] - (done.offset if done is not None and done.offset >= 0 else 0))
            lags[group] = {t: n for t, n in lag.items() if n}
        return lags
    finally:
        await ends_client.stop()
        await admin.close()
