"""What tracing costs per hop (docs/adr/0180-tracing.md): each stage of the Patient Summary flow alone
on the real broker (``benchmarks.stages``: consent, router, foreign-ncp, translation, audit, each
the process ``passerelle up`` starts, on a backlog of requests), run with traces off, then with traces
on, exported over OTLP/HTTP to a real receiver on loopback (``tests/otlp_receiver.py``). Printed per
stage: requests/s and the stage's CPU ms per request, off and on, and the difference.

Off, the only code a processor runs that it did not run before this change is one ``if`` (the
tracing branch) and the per-event processing histogram (item 4 of the issue, traces on or off):
each measured alone with ``timeit``.

Rounds alternate off/on (``--rounds``, default 2) so a machine whose load drifts does not favour one.

Before the stages, in-process and cheap: the router's ``Processor._process`` on 2,000 traced records
(a producer that acknowledges at once), CPU per event off and traced-and-exported to a receiver in
a process of its own. ``--requests 0`` stops there.

Usage, from the project root: ``python -m benchmarks.tracing_cost [--requests 2000] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import timeit
from pathlib import Path

from benchmarks import stages
from passerelle.broker import EmbeddedBroker
from tests.otlp_receiver import OtlpReceiver

VARIABLE = "PASSERELLE_TELEMETRY__OTLP_ENDPOINT"


def off_path_additions_us() -> tuple[float, float]:
    """µs per event of what the untraced processor path adds: (the tracing branch alone, the
    processing histogram: two clocks and an observation), in CPU time: a busy machine does not inflate them."""
    setup = ("import time\nfrom passerelle.processor import PROCESSING\ntimers = {}\ntracing = None\n"
             "topic = 'passerelle.ncp.inbound.v1'")
    branch = "if tracing is None: pass"
    histogram = ("started = time.perf_counter()\n"
                 "timer = timers.get(topic) or timers.setdefault(topic, PROCESSING.labels('bench', topic))\n"
                 "timer.observe(time.perf_counter() - started)")
    runs = 200_000
    return tuple(min(timeit.repeat(statement, setup, timer=time.process_time, number=runs, repeat=5)) / runs * 1e6
                 for statement in (branch, histogram))


RECEIVER = ("import sys, time\nfrom tests.otlp_receiver import OtlpReceiver\n"
            "with OtlpReceiver() as r:\n    print(r.endpoint, flush=True)\n    sys.stdin.read()\n"
            "    print(len(r.received()), flush=True)")


def relay_cpu_us(endpoint: str | None, events: int = 2000, repeats: int = 5) -> float:
    """CPU µs per event of the router's processor (``Processor._process``: decode, route, encode,
    hand to a producer that acknowledges at once) on traced records; with ``endpoint``, traced and
    exported (the SDK's export thread is this process's CPU too). Median of ``repeats`` batches."""
    import uuid
    from aiokafka.structs import ConsumerRecord
    from passerelle import PROJECT_ROOT
    from passerelle.serde import AvroSerde, SchemaSet
    from passerelle.settings import Settings, TelemetrySettings
    from services.router.app import build
    from tests.unit.test_router_rules import decision

    serde = AvroSerde(SchemaSet(PROJECT_ROOT / "schemas"))
    settings = Settings(state_dir=Path(tempfile.mkdtemp()), telemetry=TelemetrySettings(otlp_endpoint=endpoint))
    processor = build(settings, serde)
    parent = [("traceparent", f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01".encode())]
    value = serde.encode("fr.passerelle.consent.ConsentDecision", decision())
    records = [ConsumerRecord("passerelle.consent.decisions.v1", 0, i, 0, 0, b"k", value, None, 1, len(value), parent)
               for i in range(events)]

    class Acknowledging:
        async def send(self, topic, value, key=None, headers=None):
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

    async def batches() -> list[float]:
        costs = []
        for _ in range(repeats):
            started = time.process_time()
            await processor._process(Acknowledging(), records)
            if processor.tracing:
                processor.tracing.flush()  # the export of these spans, counted
            costs.append((time.process_time() - started) / events * 1e6)
        return costs

    cost = statistics.median(asyncio.run(batches()))
    if processor.tracing:
        processor.tracing.shutdown()
    return cost


def relay_costs() -> tuple[float, float, int]:
    """(off, on) CPU µs per event of the router's processor, and the spans the receiver (a process
    of its own, so its decoding is not counted) received."""
    import subprocess
    import sys
    off = relay_cpu_us(None)
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        on = relay_cpu_us(receiver.stdout.readline().strip())
        received = int(receiver.communicate("", timeout=30)[0].strip() or 0)
    finally:
        receiver.kill()
    return off, on, received


def one_round(broker: EmbeddedBroker, requests: int, traced: str | None, work: Path) -> dict:
    if traced:
        os.environ[VARIABLE] = traced
    else:
        os.environ.pop(VARIABLE, None)
    state, logs = work / "state", work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(stages.run_stages(broker.bootstrap_servers, broker.process.pid, requests, state, logs,
                                           log=lambda *_: None))
    return {s["stage"]: s for s in result["stages"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    branch_us, histogram_us = off_path_additions_us()
    print(f"traces off, per event: the tracing branch {branch_us * 1000:.0f} ns; "
          f"the processing histogram (on or off) {histogram_us:.2f} µs")
    off_us, on_us, received = relay_costs()
    print(f"router's processor in-process, CPU per event: off {off_us:.1f} µs, traced and exported {on_us:.1f} µs "
          f"(+{on_us - off_us:.1f} µs; {received} spans received)", flush=True)
    if args.requests == 0:
        return
    runs: dict[str, list[dict]] = {"off": [], "on": []}
    broker = EmbeddedBroker().start()
    try:
        with OtlpReceiver() as receiver, tempfile.TemporaryDirectory() as tmp:
            for i in range(args.rounds):
                for mode in ("off", "on"):
                    work = Path(tmp) / f"{mode}{i}"
                    runs[mode].append(one_round(broker, args.requests, receiver.endpoint if mode == "on" else None,
                                                work))
                    print(f"round {i + 1} {mode}: done ({len(receiver.received())} spans received so far)", flush=True)
            spans = len(receiver.received())
    finally:
        os.environ.pop(VARIABLE, None)
        broker.stop()
    print(f"\n{args.requests} requests per stage, {args.rounds} round(s) each, median of the rounds; "
          f"{spans} spans received by the OTLP receiver (traces on only)")
    print(f"{'stage':<12} {'req/s off':>10} {'req/s on':>10} {'CPU ms/req off':>15} {'CPU ms/req on':>14} {'Δ CPU ms':>9} {'Δ %':>6}")
    for stage in runs["off"][0]:
        def median(mode: str, key: str) -> float | None:
            values = [r[stage][key] for r in runs[mode] if r[stage][key] is not None]
            return statistics.median(values) if values else None
        off, on = median("off", "stage_cpu_ms_per_request"), median("on", "stage_cpu_ms_per_request")
        delta = f"{on - off:+9.3f} {100 * (on - off) / off:+5.1f}%" if off and on else "        -      -"
        print(f"{stage:<12} {median('off', 'requests_per_s') or 0:>10.1f} {median('on', 'requests_per_s') or 0:>10.1f} "
              f"{off or 0:>15.3f} {on or 0:>14.3f} {delta}")


if __name__ == "__main__":
    main()
