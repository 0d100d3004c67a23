"""Request → French summary latency of the whole Patient Summary flow, through the HTTP API.

Starts ``passerelle up`` (embedded broker, free port), sends ``--requests`` requests for a PT demo
patient at ``--rate`` per second, polls each answer every 5 ms (so figures are up to ~5 ms high),
and prints p50 / p95 / p99 / max. Bounded: at most 2,000 requests, 120 s in all.

    .venv/bin/python -m benchmarks.flow_latency --requests 200 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import httpx

from passerelle.testing import RunningSystem

BODY = {"country": "PT", "patient_id": "193857264", "purpose": "TREATMENT",
        "consent": {"confirmed": True, "information_notice_given": True}}


async def one_request(client: httpx.AsyncClient, headers: dict, deadline: float) -> float:
    start = time.perf_counter()
    request_id = (await client.post("/v1/patient-summaries", json=BODY, headers=headers)).json()["request_id"]
    while time.perf_counter() < deadline:
        answer = (await client.get(f"/v1/patient-summaries/{request_id}", headers=headers)).json()
        if answer["status"] != "pending":
            assert answer["status"] == "completed", answer
            return time.perf_counter() - start
        await asyncio.sleep(0.005)
    raise TimeoutError(request_id)


async def measure(url: str, token: str, requests: int, rate: float, deadline: float) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await one_request(client, headers, deadline)  # warm-up: every consumer has joined
        tasks = []
        for _ in range(requests):
            tasks.append(asyncio.create_task(one_request(client, headers, deadline)))
            await asyncio.sleep(1 / rate)
        return sorted(await asyncio.gather(*tasks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    requests = min(args.requests, 2000)
    system = RunningSystem(Path(tempfile.mkdtemp()), PASSERELLE_LOG_LEVEL="WARNING")
    try:
        system.wait_ready()
        latencies = asyncio.run(measure(system.url, system.token(), requests, args.rate, time.perf_counter() + 120))
    finally:
        system.interrupt()
    ms = [x * 1000 for x in latencies]
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    print(f"whole Patient Summary flow over HTTP, embedded broker, {requests} requests at {args.rate:g}/s "
          f"(PT patient, CDA, {os.cpu_count()} cores)")
    print(f"p50 {pick(0.50):.1f} ms   p95 {pick(0.95):.1f} ms   p99 {pick(0.99):.1f} ms   max {ms[-1]:.1f} ms")


if __name__ == "__main__":
    main()
